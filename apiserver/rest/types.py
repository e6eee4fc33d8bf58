"""What the REST layer needs from the apiserver's `Registry` (apiserver/registry.py),
as a Protocol so the REST layer can be read and type-checked on its own."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from typing import Any, Protocol

from apimachinery.scheme import ResourceType

JSON = dict[str, Any]


class RegistryLike(Protocol):
    async def create(
        self,
        rt: ResourceType,
        namespace: str,
        obj: JSON,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str = "",
        field_validation: str = "Strict",
    ) -> tuple[JSON, builtins.list[str]]: ...

    async def get(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        resource_version: str = "",
        subresource: str = "",
    ) -> JSON: ...

    async def list(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
    ) -> JSON: ...

    async def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        obj: JSON,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str = "",
        field_validation: str = "Strict",
    ) -> tuple[JSON, builtins.list[str]]: ...

    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        patch: bytes,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str = "",
        field_validation: str = "Strict",
        force: bool = False,
    ) -> tuple[JSON, builtins.list[str]]: ...

    async def delete(
        self, rt: ResourceType, namespace: str, name: str, options: JSON | None
    ) -> JSON: ...

    async def delete_collection(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        options: JSON | None = None,
    ) -> JSON: ...

    def watch(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        allow_bookmarks: bool = False,
    ) -> AsyncIterator[tuple[str, JSON]]: ...
