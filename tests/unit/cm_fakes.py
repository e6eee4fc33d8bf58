"""In-memory fakes of what controllers talk to, for the controller unit tests.

`FakeCluster` is one object store serving both as the apiserver (`FakeAPI`,
which records every write as an action tuple) and as the informer caches
(`FakeInformer` reads the same store), so a test can run `sync` several times
and watch a rollout progress. Nothing here runs handlers: tests call `sync`
directly and assert the actions.
"""

from __future__ import annotations

import builtins
import copy
import itertools
import json
from collections.abc import Callable
from typing import Any

from apimachinery import errors
from apimachinery.scheme import ResourceType
from controller_manager.base import Context, Options

JSON = dict[str, Any]


class FakeInformer:
    def __init__(self, cluster: FakeCluster, rt: ResourceType) -> None:
        self.cluster = cluster
        self.rt = rt
        self.indexes: dict[str, Callable[[JSON], list[str]]] = {}

    def add_handlers(self, *, on_add: Any = None, on_update: Any = None, on_delete: Any = None):  # type: ignore[no-untyped-def]
        pass

    def get(self, namespace: str, name: str) -> JSON | None:
        obj = self.cluster.objects(self.rt).get((namespace if self.rt.namespaced else "", name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, namespace: str | None = None) -> list[JSON]:
        return [
            copy.deepcopy(o)
            for (ns, _), o in sorted(self.cluster.objects(self.rt).items())
            if namespace is None or ns == namespace
        ]

    def add_index(self, name: str, fn: Callable[[JSON], builtins.list[str]]) -> None:
        self.indexes[name] = fn

    def by_index(self, name: str, value: str) -> builtins.list[JSON]:
        if name == "namespace":
            return self.list(value)
        fn = self.indexes[name]
        return [o for o in self.list() if value in fn(o)]

    def has_synced(self) -> bool:
        return True


class FakeQueue:
    def __init__(self) -> None:
        self.added: list[str] = []
        self.after: list[tuple[str, float]] = []
        self.rate_limited: list[str] = []

    def add(self, key: str) -> None:
        self.added.append(key)

    def add_after(self, key: str, seconds: float) -> None:
        self.after.append((key, seconds))

    def add_rate_limited(self, key: str) -> None:
        self.rate_limited.append(key)

    def forget(self, key: str) -> None:
        pass

    def num_requeues(self, key: str) -> int:
        return 0

    async def get(self) -> str | None:
        return self.added.pop(0) if self.added else None

    def done(self, key: str) -> None:
        pass

    def shutdown(self) -> None:
        pass


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: JSON, type_: str, reason: str, message: str) -> None:
        self.events.append((obj.get("metadata", {}).get("name", ""), type_, reason, message))

    def reasons(self) -> list[str]:
        return [e[2] for e in self.events]


class FakeCluster:
    """The store, the API over it, and informers reading it."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.store: dict[str, dict[tuple[str, str], JSON]] = {}
        self.actions: list[tuple[Any, ...]] = []
        self.rv = itertools.count(100)
        self.names = itertools.count(1)
        self.now = now
        self.fail: dict[tuple[str, str], errors.APIError] = {}
        self.informers: dict[str, FakeInformer] = {}
        self.recorder = FakeRecorder()
        self.queues: dict[str, FakeQueue] = {}

    def objects(self, rt: ResourceType) -> dict[tuple[str, str], JSON]:
        return self.store.setdefault(f"{rt.group}/{rt.resource}", {})

    # --- informers / context ---

    def informer(self, rt: ResourceType) -> FakeInformer:
        key = f"{rt.group}/{rt.resource}"
        if key not in self.informers:
            self.informers[key] = FakeInformer(self, rt)
        return self.informers[key]

    def new_queue(self, name: str) -> FakeQueue:
        self.queues[name] = FakeQueue()
        return self.queues[name]

    def context(self, **options: Any) -> Context:
        return Context(
            api=self,
            informers=self,
            new_recorder=lambda component: self.recorder,
            new_queue=self.new_queue,
            options=Options(**options),
            clock=lambda: self.now,
        )

    # --- seeding ---

    def add(self, rt: ResourceType, obj: JSON) -> JSON:
        obj = copy.deepcopy(obj)
        m = obj.setdefault("metadata", {})
        m.setdefault("uid", f"uid-{m.get('name')}")
        m.setdefault("resourceVersion", str(next(self.rv)))
        m.setdefault("creationTimestamp", "2027-01-15T08:00:00Z")
        m.setdefault("generation", 1)
        if rt.namespaced:
            m.setdefault("namespace", "default")
        obj.setdefault("apiVersion", rt.api_version)
        obj.setdefault("kind", rt.kind)
        self.objects(rt)[(m.get("namespace", "") if rt.namespaced else "", m["name"])] = obj
        return obj

    def get_obj(self, rt: ResourceType, name: str, namespace: str = "default") -> JSON | None:
        return self.objects(rt).get((namespace if rt.namespaced else "", name))

    def writes(self, *verbs: str) -> list[tuple[Any, ...]]:
        return [a for a in self.actions if not verbs or a[0] in verbs]

    def _check(self, verb: str, rt: ResourceType) -> None:
        err = self.fail.get((verb, rt.resource))
        if err is not None:
            raise err

    # --- the API ---

    async def create(
        self, resource: ResourceType, obj: JSON, *, namespace: str = "", subresource: str = ""
    ) -> JSON:
        self._check("create", resource)
        obj = copy.deepcopy(obj)
        m = obj.setdefault("metadata", {})
        if not m.get("name"):
            m["name"] = f"{m.get('generateName', '')}{next(self.names):05d}"
        ns = (namespace or m.get("namespace", "")) if resource.namespaced else ""
        if (ns, m["name"]) in self.objects(resource):
            raise errors.already_exists(resource.resource, m["name"], group=resource.group)
        if resource.namespaced:
            m["namespace"] = ns
        m["uid"] = f"uid-{m['name']}"
        m["resourceVersion"] = str(next(self.rv))
        m["creationTimestamp"] = "2027-01-15T09:00:00Z"
        m["generation"] = 1
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        self.objects(resource)[(ns, m["name"])] = obj
        self.actions.append(("create", resource.resource, ns, m["name"]))
        return copy.deepcopy(obj)

    async def get(self, resource: ResourceType, name: str, *, namespace: str = "") -> JSON:
        obj = self.objects(resource).get((namespace if resource.namespaced else "", name))
        if obj is None:
            raise errors.not_found(resource.resource, name, group=resource.group)
        return copy.deepcopy(obj)

    async def list(
        self, resource: ResourceType, *, namespace: str = "", label_selector: str = ""
    ) -> JSON:
        items = self.informer(resource).list(namespace or None)
        return {"items": items, "metadata": {"resourceVersion": str(next(self.rv))}}

    def _stored(self, resource: ResourceType, obj: JSON) -> tuple[tuple[str, str], JSON]:
        m = obj.get("metadata", {})
        k = (m.get("namespace", "") if resource.namespaced else "", m.get("name", ""))
        cur = self.objects(resource).get(k)
        if cur is None:
            raise errors.not_found(resource.resource, k[1], group=resource.group)
        rv = m.get("resourceVersion")
        if rv and rv != cur["metadata"]["resourceVersion"]:
            raise errors.conflict(resource.resource, k[1], group=resource.group)
        return k, cur

    async def update(self, resource: ResourceType, obj: JSON, *, subresource: str = "") -> JSON:
        self._check("update_status" if subresource == "status" else "update", resource)
        k, cur = self._stored(resource, obj)
        new = copy.deepcopy(obj)
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(cur)
            new["status"] = status
        elif subresource == "finalize":
            fins = (new.get("spec") or {}).get("finalizers")
            new = copy.deepcopy(cur)
            new.setdefault("spec", {})["finalizers"] = fins
        else:
            if "status" in cur:
                new["status"] = copy.deepcopy(cur["status"])
            if new.get("spec") != cur.get("spec"):
                new["metadata"]["generation"] = int(cur["metadata"].get("generation", 1)) + 1
        new["metadata"]["resourceVersion"] = str(next(self.rv))
        self.objects(resource)[k] = new
        verb = {"status": "update_status", "": "update"}.get(subresource, subresource)
        self.actions.append((verb, resource.resource, k[0], k[1]))
        if (
            not new["metadata"].get("finalizers")
            and not (new.get("spec") or {}).get("finalizers")
            and new["metadata"].get("deletionTimestamp")
            and resource.resource != "pods"
        ):
            del self.objects(resource)[k]
        return copy.deepcopy(new)

    async def update_status(self, resource: ResourceType, obj: JSON) -> JSON:
        return await self.update(resource, obj, subresource="status")

    async def patch(
        self,
        resource: ResourceType,
        name: str,
        patch: Any,
        *,
        namespace: str = "",
        patch_type: str = "application/merge-patch+json",
        subresource: str = "",
    ) -> JSON:
        self._check("patch", resource)
        k = (namespace if resource.namespaced else "", name)
        cur = self.objects(resource).get(k)
        if cur is None:
            raise errors.not_found(resource.resource, name, group=resource.group)
        assert patch_type == "application/merge-patch+json"
        new = _merge(copy.deepcopy(cur), patch)
        new["metadata"]["resourceVersion"] = str(next(self.rv))
        self.objects(resource)[k] = new
        self.actions.append(("patch", resource.resource, k[0], name, json.dumps(patch)))
        if not new["metadata"].get("finalizers") and new["metadata"].get("deletionTimestamp"):
            del self.objects(resource)[k]
        return copy.deepcopy(new)

    async def delete(
        self, resource: ResourceType, name: str, *, namespace: str = "", options: JSON | None = None
    ) -> JSON:
        self._check("delete", resource)
        k = (namespace if resource.namespaced else "", name)
        cur = self.objects(resource).get(k)
        if cur is None:
            raise errors.not_found(resource.resource, name, group=resource.group)
        policy = (options or {}).get("propagationPolicy", "")
        self.actions.append(("delete", resource.resource, k[0], name, policy))
        if policy in ("Foreground", "Orphan"):
            fin = "foregroundDeletion" if policy == "Foreground" else "orphan"
            cur["metadata"].setdefault("finalizers", []).append(fin)
        if cur["metadata"].get("finalizers"):
            cur["metadata"]["deletionTimestamp"] = "2027-01-15T10:00:00Z"
            return copy.deepcopy(cur)
        del self.objects(resource)[k]
        return copy.deepcopy(cur)


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = _merge(target.get(k), v)
    return target
