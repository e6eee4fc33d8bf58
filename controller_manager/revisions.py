"""ControllerRevisions: the template history of a DaemonSet or StatefulSet.

Each distinct pod template of an owner is stored once, as upstream does, in a
ControllerRevision named `<owner>-<hash>` whose `data` is the patch that puts
that template back (`kubectl rollout history/undo daemonset|statefulset` read
and apply it) and whose `revision` numbers them. Going back to an old
template renumbers its revision as the newest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from apimachinery import errors
from controller_manager import kube
from controller_manager.base import JSON, Context
from controller_manager.deployment import compute_hash

CONTROLLER_REVISIONS = kube.rt("apps", "controllerrevisions")
REVISION_HASH = "controller-revision-hash"


def revision_name(owner: Mapping[str, Any], template: Mapping[str, Any]) -> str:
    return f"{kube.name(owner)}-{compute_hash(template)}"


class Revisions:
    def __init__(self, ctx: Context) -> None:
        self.api = ctx.api
        self.informer = ctx.informers.informer(CONTROLLER_REVISIONS)

    def owned(self, owner: JSON) -> list[JSON]:
        return [
            cr
            for cr in self.informer.list(namespace=kube.namespace(owner))
            if kube.is_controlled_by(cr, owner)
        ]

    async def sync(self, owner: JSON, template: Mapping[str, Any]) -> str:
        """Make sure the current template has the newest revision; its hash."""
        pod_hash = compute_hash(template)
        name = f"{kube.name(owner)}-{pod_hash}"
        owned = self.owned(owner)
        latest = max((int(cr.get("revision") or 0) for cr in owned), default=0)
        existing = next((cr for cr in owned if kube.name(cr) == name), None)
        if existing is None:
            body: JSON = {
                "apiVersion": "apps/v1",
                "kind": "ControllerRevision",
                "metadata": {
                    "name": name,
                    "namespace": kube.namespace(owner),
                    "labels": {
                        **(((template.get("metadata") or {}).get("labels")) or {}),
                        REVISION_HASH: pod_hash,
                    },
                    "ownerReferences": [kube.owner_reference(owner)],
                },
                "data": {"spec": {"template": {**template, "$patch": "replace"}}},
                "revision": latest + 1,
            }
            # AlreadyExists: made by an earlier pass the cache has not shown yet.
            with contextlib.suppress(errors.AlreadyExists):
                await self.api.create(CONTROLLER_REVISIONS, body, namespace=kube.namespace(owner))
        elif int(existing.get("revision") or 0) < latest:
            new = kube.deepcopy(existing)
            new["revision"] = latest + 1
            await self.api.update(CONTROLLER_REVISIONS, new)
        await self.truncate(owner, name)
        return pod_hash

    async def truncate(self, owner: JSON, current: str) -> None:
        limit = int((owner.get("spec") or {}).get("revisionHistoryLimit", 10))
        old = sorted(
            (cr for cr in self.owned(owner) if kube.name(cr) != current),
            key=lambda cr: int(cr.get("revision") or 0),
        )
        for cr in old[: max(len(old) - limit, 0)]:
            with contextlib.suppress(errors.NotFound):
                await self.api.delete(
                    CONTROLLER_REVISIONS, kube.name(cr), namespace=kube.namespace(cr)
                )
