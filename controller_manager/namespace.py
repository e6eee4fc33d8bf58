"""The namespace controller: empties a namespace being deleted, then lets the
apiserver remove it.

`kubectl delete namespace x` only marks the namespace Terminating (the
apiserver keeps it while `spec.finalizers` holds `kubernetes`). Here every
namespaced resource kubelab serves is listed and deleted in that namespace;
while something remains (pods still terminating, objects held by finalizers)
the namespace's conditions say what, as upstream's do, and it is looked at
again shortly. Once it is empty, the `kubernetes` finalizer is removed through
the `finalize` subresource and the apiserver deletes the namespace.
"""

from __future__ import annotations

import contextlib

from apimachinery import errors, scheme
from apimachinery.scheme import ResourceType
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller

FINALIZER = "kubernetes"
RECHECK_S = 1.0


def namespaced_resources() -> list[ResourceType]:
    return [
        rt
        for rt in scheme.all_resources()
        if rt.namespaced and "list" in rt.verbs and "delete" in rt.verbs
    ]


def deletion_conditions(
    remaining: dict[str, int], finalizers: dict[str, int], failures: list[str], now: float
) -> list[JSON]:
    """The namespace's conditions while it is being emptied (upstream's wording)."""
    t = kube.rfc3339(now)

    def cond(type_: str, status: bool, reason: str, message: str) -> JSON:
        return {
            "type": type_,
            "status": "True" if status else "False",
            "lastTransitionTime": t,
            "reason": reason,
            "message": message,
        }

    content = (
        cond(
            "NamespaceDeletionContentFailure",
            True,
            "ContentDeletionFailed",
            "Failed to delete all resource types, " + ", ".join(failures),
        )
        if failures
        else cond(
            "NamespaceDeletionContentFailure",
            False,
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        )
    )
    if remaining:
        counts = ", ".join(f"{r} has {n} resource instances" for r, n in sorted(remaining.items()))
        content_remaining = cond(
            "NamespaceContentRemaining",
            True,
            "SomeResourcesRemain",
            f"Some resources are remaining: {counts}",
        )
    else:
        content_remaining = cond(
            "NamespaceContentRemaining", False, "ContentRemoved", "All content successfully removed"
        )
    if finalizers:
        fins = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
        finalizers_remaining = cond(
            "NamespaceFinalizersRemaining",
            True,
            "SomeFinalizersRemain",
            f"Some content in the namespace has finalizers remaining: {fins}",
        )
    else:
        finalizers_remaining = cond(
            "NamespaceFinalizersRemaining",
            False,
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished",
        )
    return [
        cond(
            "NamespaceDeletionDiscoveryFailure",
            False,
            "ResourcesDiscovered",
            "All resources successfully discovered",
        ),
        cond(
            "NamespaceDeletionGroupVersionParsingFailure",
            False,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        content,
        content_remaining,
        finalizers_remaining,
    ]


class NamespaceController(Controller):
    name = "namespace"
    component = "namespace-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.namespaces = ctx.informers.informer(kube.NAMESPACES)
        self.namespaces.add_handlers(
            on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new)
        )

    def synced(self) -> bool:
        return self.namespaces.has_synced()

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get("", key)
        if ns is None or not kube.deleting(ns):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        remaining, finalizers, failures = await self.delete_content(key)
        if remaining or failures:
            await self._set_conditions(ns, remaining, finalizers, failures)
            self.queue.add_after(key, RECHECK_S)
            return
        await self._set_conditions(ns, remaining, finalizers, failures)
        await self.finalize(key)

    async def delete_content(
        self, namespace: str
    ) -> tuple[dict[str, int], dict[str, int], list[str]]:
        """Delete everything in the namespace; what remains, by resource and finalizer."""
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        failures: list[str] = []
        for rt in namespaced_resources():
            try:
                items = (await self.api.list(rt, namespace=namespace)).get("items") or []
            except errors.APIError as e:
                if e.is_retryable:
                    raise
                failures.append(f"{rt.qualified_resource}: {e}")
                continue
            label = f"{rt.resource}.{rt.group}"
            for obj in items:
                left: JSON | None = obj
                if not kube.deleting(obj):
                    try:
                        left = await self.api.delete(
                            rt,
                            kube.name(obj),
                            namespace=namespace,
                            options={"propagationPolicy": "Background"},
                        )
                    except errors.NotFound:
                        left = None
                    except errors.APIError as e:
                        if e.is_retryable:
                            raise
                        failures.append(f"{rt.qualified_resource}: {e}")
                # What the delete left behind (marked, waiting on finalizers or
                # a kubelet) is what remains.
                if left is None or not kube.deleting(left):
                    continue
                remaining[label] = remaining.get(label, 0) + 1
                for f in kube.meta(left).get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
        return remaining, finalizers, failures

    async def _set_conditions(
        self,
        ns: JSON,
        remaining: dict[str, int],
        finalizers: dict[str, int],
        failures: list[str],
    ) -> None:
        status = ns.get("status") or {}
        conditions: list[JSON] = list(status.get("conditions") or [])
        wanted = deletion_conditions(remaining, finalizers, failures, self.ctx.clock())
        for c in wanted:
            conditions = kube.set_condition_in(conditions, c)
        if conditions == status.get("conditions"):
            return
        new = kube.deepcopy(ns)
        new.setdefault("status", {})["conditions"] = conditions
        with contextlib.suppress(errors.NotFound):
            await self.api.update_status(kube.NAMESPACES, new)

    async def finalize(self, name: str) -> None:
        """Remove the `kubernetes` finalizer from the live namespace."""
        try:
            live = await self.api.get(kube.NAMESPACES, name)
        except errors.NotFound:
            return
        spec = live.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        try:
            await self.api.update(kube.NAMESPACES, live, subresource="finalize")
        except errors.NotFound:
            return
        self.log.info("namespace %s is empty; finalized", name)
