"""The garbage collector: deletes objects whose owners are gone, and carries
out foreground and orphan deletions, following ownerReferences.

- Background (the default): the apiserver deletes the owner at once; here each
  dependent whose owners all vanished is deleted in turn (a Deployment takes
  its ReplicaSets, which take their pods).
- Foreground: the apiserver keeps the owner, with a deletionTimestamp and the
  `foregroundDeletion` finalizer; here its dependents are deleted, and once no
  dependent with blockOwnerDeletion remains the finalizer is removed so the
  apiserver can finish the owner.
- Orphan (`kubectl delete --cascade=orphan`): the `orphan` finalizer; here the
  owner's reference is removed from every dependent, then the finalizer.

It watches every listable resource and keeps, per informer, an index of
dependents by owner uid. The key of an item is `group|resource|namespace|name`.
Before deleting a dependent as dangling, the owner's absence is confirmed with
a live read (a cache can lag behind a create), and the delete carries the
dependent's uid as a precondition.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from typing import Any

from apimachinery import errors, scheme
from apimachinery.scheme import ResourceType
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller, Lister

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
OWNER_INDEX = "gc-owner-uid"

# Resources whose objects never have owners worth collecting, and are many.
_SKIPPED = {("", "events"), ("events.k8s.io", "events")}


def collectable_resources() -> list[ResourceType]:
    return [
        rt
        for rt in scheme.all_resources()
        if "list" in rt.verbs
        and "watch" in rt.verbs
        and "delete" in rt.verbs
        and (rt.group, rt.resource) not in _SKIPPED
    ]


def item_key(rt: ResourceType, obj: Mapping[str, Any]) -> str:
    return f"{rt.group}|{rt.resource}|{kube.namespace(obj)}|{kube.name(obj)}"


def _owner_uids(obj: JSON) -> list[str]:
    return [str(r.get("uid", "")) for r in kube.owner_references(obj) if r.get("uid")]


def finalizers(obj: Mapping[str, Any]) -> list[str]:
    return list(kube.meta(obj).get("finalizers") or [])


class GarbageCollector(Controller):
    name = "garbagecollector"
    component = "garbage-collector-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.resources = collectable_resources()
        self.informers: dict[tuple[str, str], Lister] = {}
        for rt in self.resources:
            inf = ctx.informers.informer(rt)
            inf.add_index(OWNER_INDEX, _owner_uids)
            inf.add_handlers(
                on_add=functools.partial(self._changed, rt),
                on_update=functools.partial(self._updated, rt),
                on_delete=functools.partial(self._deleted, rt),
            )
            self.informers[(rt.group, rt.resource)] = inf

    def synced(self) -> bool:
        return all(i.has_synced() for i in self.informers.values())

    # --- handlers -------------------------------------------------------------

    def _changed(self, rt: ResourceType, obj: JSON) -> None:
        fins = finalizers(obj)
        if kube.owner_references(obj) or (
            kube.deleting(obj) and (ORPHAN in fins or FOREGROUND in fins)
        ):
            self.queue.add(item_key(rt, obj))
        self._enqueue_waiting_owners(obj)

    def _updated(self, rt: ResourceType, old: JSON, new: JSON) -> None:
        self._changed(rt, new)

    def _deleted(self, rt: ResourceType, obj: JSON) -> None:
        for dep_rt, dep in self.dependents(kube.uid(obj)):
            self.queue.add(item_key(dep_rt, dep))
        self._enqueue_waiting_owners(obj)

    def _enqueue_waiting_owners(self, obj: JSON) -> None:
        """Owners in foreground deletion wait for this dependent: look at them again."""
        for ref in kube.owner_references(obj):
            owner_rt = self._rt_of(ref)
            if owner_rt is None:
                continue
            ns = kube.namespace(obj) if owner_rt.namespaced else ""
            owner = self.informers[(owner_rt.group, owner_rt.resource)].get(
                ns, str(ref.get("name", ""))
            )
            if owner is not None and kube.deleting(owner):
                self.queue.add(item_key(owner_rt, owner))

    # --- lookups --------------------------------------------------------------

    def _rt_of(self, ref: Mapping[str, Any]) -> ResourceType | None:
        try:
            rt = scheme.for_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        except errors.APIError:
            return None
        return rt if (rt.group, rt.resource) in self.informers else None

    def dependents(self, uid: str) -> list[tuple[ResourceType, JSON]]:
        if not uid:
            return []
        out: list[tuple[ResourceType, JSON]] = []
        for rt in self.resources:
            for obj in self.informers[(rt.group, rt.resource)].by_index(OWNER_INDEX, uid):
                out.append((rt, obj))
        return out

    async def resolve_owner(self, ref: Mapping[str, Any], namespace: str) -> JSON | bool | None:
        """The owner object; None when it is gone; True when it cannot be known
        (a kind kubelab does not serve: then it is never treated as gone)."""
        rt = self._rt_of(ref)
        if rt is None:
            return True
        ns = namespace if rt.namespaced else ""
        owner_name = str(ref.get("name", ""))
        cached = self.informers[(rt.group, rt.resource)].get(ns, owner_name)
        if cached is not None and kube.uid(cached) == ref.get("uid"):
            return cached
        try:
            live = await self.api.get(rt, owner_name, namespace=ns)
        except errors.NotFound:
            return None
        return live if kube.uid(live) == ref.get("uid") else None

    # --- sync -----------------------------------------------------------------

    async def sync(self, key: str) -> None:
        group, resource, ns, name = key.split("|", 3)
        inf = self.informers.get((group, resource))
        if inf is None:
            return
        rt = kube.rt(group, resource)
        obj = inf.get(ns, name)
        if obj is None:
            return
        if kube.deleting(obj):
            fins = finalizers(obj)
            if ORPHAN in fins:
                await self.orphan_dependents(rt, obj)
            elif FOREGROUND in fins:
                await self.delete_dependents(rt, obj)
            return
        await self.collect_if_dangling(rt, obj)

    async def collect_if_dangling(self, rt: ResourceType, obj: JSON) -> None:
        refs = kube.owner_references(obj)
        if not refs:
            return
        dangling: list[JSON] = []
        waiting: list[JSON] = []
        solid: list[JSON] = []
        for ref in refs:
            owner = await self.resolve_owner(ref, kube.namespace(obj))
            if owner is None:
                dangling.append(ref)
            elif (
                isinstance(owner, dict) and kube.deleting(owner) and FOREGROUND in finalizers(owner)
            ):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if dangling:
                # Some owners are gone, others remain: forget the gone ones.
                gone = {r.get("uid") for r in dangling}
                keep = [r for r in refs if r.get("uid") not in gone]
                await self._patch(
                    rt, obj, {"metadata": {"uid": kube.uid(obj), "ownerReferences": keep}}
                )
            return
        if waiting and self.dependents(kube.uid(obj)):
            policy = "Foreground"
        elif ORPHAN in finalizers(obj):
            policy = "Orphan"
        else:
            policy = "Background"
        self.log.info(
            "deleting %s %s/%s: its owner %s is %s",
            rt.kind,
            kube.namespace(obj),
            kube.name(obj),
            f"{refs[0].get('kind')} {refs[0].get('name')}",
            "being deleted" if waiting else "gone",
        )
        await self._delete(rt, obj, policy)

    async def orphan_dependents(self, rt: ResourceType, owner: JSON) -> None:
        owner_uid = kube.uid(owner)
        for dep_rt, dep in self.dependents(owner_uid):
            keep = [r for r in kube.owner_references(dep) if r.get("uid") != owner_uid]
            await self._patch(
                dep_rt, dep, {"metadata": {"uid": kube.uid(dep), "ownerReferences": keep or None}}
            )
        await self._remove_finalizer(rt, owner, ORPHAN)

    async def delete_dependents(self, rt: ResourceType, owner: JSON) -> None:
        owner_uid = kube.uid(owner)
        blocking = 0
        for dep_rt, dep in self.dependents(owner_uid):
            ref = next(r for r in kube.owner_references(dep) if r.get("uid") == owner_uid)
            if ref.get("blockOwnerDeletion"):
                blocking += 1
            if kube.deleting(dep):
                continue
            policy = "Foreground" if self.dependents(kube.uid(dep)) else "Background"
            await self._delete(dep_rt, dep, policy)
        if blocking == 0:
            await self._remove_finalizer(rt, owner, FOREGROUND)

    # --- writes ---------------------------------------------------------------

    async def _patch(self, rt: ResourceType, obj: JSON, patch: JSON) -> None:
        with contextlib.suppress(errors.NotFound):
            await self.api.patch(rt, kube.name(obj), patch, namespace=kube.namespace(obj))

    async def _delete(self, rt: ResourceType, obj: JSON, policy: str) -> None:
        options = {"propagationPolicy": policy, "preconditions": {"uid": kube.uid(obj)}}
        try:
            await self.api.delete(
                rt, kube.name(obj), namespace=kube.namespace(obj), options=options
            )
        except errors.NotFound:
            pass
        except errors.Conflict:
            # The uid precondition failed: another object of that name now; not ours.
            pass

    async def _remove_finalizer(self, rt: ResourceType, obj: JSON, finalizer: str) -> None:
        new = kube.deepcopy(obj)
        new["metadata"]["finalizers"] = [f for f in finalizers(obj) if f != finalizer]
        with contextlib.suppress(errors.NotFound):
            await self.api.update(rt, new)
