"""The Deployment controller: rolls a Deployment's pod template out through
ReplicaSets, one per template, as upstream does.

Each template gets a ReplicaSet named `<deployment>-<pod-template-hash>`, whose
selector and pods carry the `pod-template-hash` label so ReplicaSets of one
Deployment never fight over pods. A rollout scales the new ReplicaSet up and
the old ones down within maxSurge/maxUnavailable (RollingUpdate), or all old
ones to zero before the new one starts (Recreate). Revisions live in the
`deployment.kubernetes.io/revision` annotation of each ReplicaSet; old
ReplicaSets scaled to zero are the rollout history (`kubectl rollout history`),
kept up to revisionHistoryLimit, and `kubectl rollout undo` is nothing but
kubectl copying an old ReplicaSet's template back into the Deployment.

Status and the Progressing/Available conditions use upstream's reasons and
messages, because `kubectl rollout status` and `kubectl describe` read them.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from typing import Any

from apimachinery import errors
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller, key_of, split_key

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
POD_TEMPLATE_HASH = "pod-template-hash"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"

# Annotations of the Deployment that are not copied onto its ReplicaSets.
_NOT_COPIED = {
    LAST_APPLIED,
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    ROLLBACK_TO,
}

# Condition reasons (upstream's deploymentutil).
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


# --- pure helpers -----------------------------------------------------------


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """The pod-template-hash of a template: FNV-32a, encoded with the consonant
    alphabet upstream uses so a hash never spells a word."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += int(collision_count).to_bytes(8, "little")
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in str(_fnv32a(data)).encode())


def _template_without_hash(template: Mapping[str, Any]) -> JSON:
    t = kube.deepcopy(dict(template))
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
        if not labels:
            t["metadata"].pop("labels")
    if "metadata" in t and not t["metadata"]:
        t.pop("metadata")
    return t


def equal_ignore_hash(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _template_without_hash(a) == _template_without_hash(b)


def int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        pct = int(text[:-1])
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(text)


def replicas_of(d: Mapping[str, Any]) -> int:
    value = (d.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def is_rolling(d: Mapping[str, Any]) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return bool(strategy.get("type", "RollingUpdate") == "RollingUpdate")


def resolve_fenceposts(d: Mapping[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers; never both zero."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas_of(d)
    surge = int_or_percent(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(d: Mapping[str, Any]) -> int:
    if not is_rolling(d) or replicas_of(d) == 0:
        return 0
    _, unavailable = resolve_fenceposts(d)
    return min(unavailable, replicas_of(d))


def max_surge(d: Mapping[str, Any]) -> int:
    return resolve_fenceposts(d)[0] if is_rolling(d) else 0


def rs_replicas(rs: Mapping[str, Any] | None) -> int:
    if rs is None:
        return 0
    value = (rs.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def rs_status(rs: Mapping[str, Any] | None, field: str) -> int:
    if rs is None:
        return 0
    return int((rs.get("status") or {}).get(field) or 0)


def safe_available(rs: Mapping[str, Any]) -> int:
    """Available pods of a ReplicaSet as far as scaling down may count on them.

    Right after a ReplicaSet was scaled down its status still counts the pods
    being removed; counting at most spec.replicas keeps maxUnavailable from
    being overrun on such a stale status.
    """
    return min(rs_status(rs, "availableReplicas"), rs_replicas(rs))


def revision(rs: Mapping[str, Any]) -> int:
    try:
        return int(kube.annotations_of(rs).get(REVISION, "0"))
    except ValueError:
        return 0


def max_revision(rss: list[JSON]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def _created(obj: Mapping[str, Any]) -> tuple[float, str]:
    return (kube.parse_time(kube.meta(obj).get("creationTimestamp")) or 0.0, kube.name(obj))


def new_rs_new_replicas(d: JSON, all_rss: list[JSON], new_rs: JSON) -> int:
    """How big the new ReplicaSet may be now (upstream's NewRSNewReplicas)."""
    if not is_rolling(d):
        return replicas_of(d)
    surge, _ = resolve_fenceposts(d)
    current = sum(rs_replicas(rs) for rs in all_rss)
    max_total = replicas_of(d) + surge
    if current >= max_total:
        return rs_replicas(new_rs)
    scale_up = min(max_total - current, replicas_of(d) - rs_replicas(new_rs))
    return rs_replicas(new_rs) + scale_up


def active(rss: list[JSON]) -> list[JSON]:
    return [rs for rs in rss if rs_replicas(rs) > 0]


def find_active_or_latest(new_rs: JSON | None, old_rss: list[JSON]) -> JSON | None:
    if new_rs is None and not old_rss:
        return None
    old_sorted = sorted(old_rss, key=_created, reverse=True)
    all_active = active([*([new_rs] if new_rs else []), *old_sorted])
    if len(all_active) == 0:
        return new_rs if new_rs is not None else old_sorted[0]
    if len(all_active) == 1:
        return all_active[0]
    return None


def is_saturated(d: JSON, rs: JSON | None) -> bool:
    if rs is None:
        return False
    desired = kube.annotations_of(rs).get(DESIRED_REPLICAS)
    return (
        rs_replicas(rs) == replicas_of(d)
        and desired == str(replicas_of(d))
        and rs_status(rs, "availableReplicas") == replicas_of(d)
    )


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
    return deadline is not None and int(deadline) != 2**31 - 1  # upstream's "no deadline"


def progress_deadline(d: Mapping[str, Any]) -> int:
    return int((d.get("spec") or {}).get("progressDeadlineSeconds", 600))


def new_condition(type_: str, status: str, reason: str, message: str, now: float) -> JSON:
    t = kube.rfc3339(now)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": t,
        "lastTransitionTime": t,
        "reason": reason,
        "message": message,
    }


def set_deployment_condition(status: JSON, cond: JSON) -> None:
    """Upstream's SetDeploymentCondition: unchanged when status and reason are."""
    conditions = list(status.get("conditions") or [])
    cur = kube.condition_in(conditions, cond["type"])
    same = cur is not None and (cur.get("status"), cur.get("reason")) == (
        cond["status"],
        cond["reason"],
    )
    if same:
        return
    new = dict(cond)
    if cur is not None and cur.get("status") == cond["status"]:
        new["lastTransitionTime"] = cur.get("lastTransitionTime", new["lastTransitionTime"])
    status["conditions"] = [*kube.remove_condition_in(conditions, cond["type"]), new]


def remove_deployment_condition(status: JSON, type_: str) -> None:
    conditions = kube.remove_condition_in(list(status.get("conditions") or []), type_)
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def calculate_status(all_rss: list[JSON], new_rs: JSON | None, d: JSON, now: float) -> JSON:
    available = sum(rs_status(rs, "availableReplicas") for rs in all_rss)
    total = sum(rs_replicas(rs) for rs in all_rss)
    old = d.get("status") or {}
    status: JSON = {
        "observedGeneration": int(kube.meta(d).get("generation") or 0),
        "replicas": sum(rs_status(rs, "replicas") for rs in all_rss),
        "updatedReplicas": rs_status(new_rs, "replicas"),
        "readyReplicas": sum(rs_status(rs, "readyReplicas") for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
    }
    status = {k: v for k, v in status.items() if v}
    if old.get("collisionCount"):
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = [dict(c) for c in old["conditions"]]
    if available >= replicas_of(d) - max_unavailable(d):
        cond = new_condition(
            "Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now
        )
    else:
        cond = new_condition(
            "Available",
            "False",
            MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    set_deployment_condition(status, cond)
    return status


def deployment_complete(d: JSON, status: Mapping[str, Any]) -> bool:
    want = replicas_of(d)
    return (
        int(status.get("updatedReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("observedGeneration") or 0) >= int(kube.meta(d).get("generation") or 0)
    )


def deployment_progressing(d: JSON, new: Mapping[str, Any]) -> bool:
    old = d.get("status") or {}

    def get(s: Mapping[str, Any], f: str) -> int:
        return int(s.get(f) or 0)

    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(new, "replicas") - get(new, "updatedReplicas")
    return (
        get(new, "updatedReplicas") > get(old, "updatedReplicas")
        or new_old < old_old
        or get(new, "readyReplicas") > get(old, "readyReplicas")
        or get(new, "availableReplicas") > get(old, "availableReplicas")
    )


def deployment_timed_out(d: JSON, status: Mapping[str, Any], now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = kube.condition_in(list(status.get("conditions") or []), "Progressing")
    if cond is None:
        return False
    if cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = kube.parse_time(cond.get("lastUpdateTime")) or now
    return since + progress_deadline(d) < now


def set_replicas_annotations(rs: JSON, desired: int, max_replicas: int) -> bool:
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for k, v in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if ann.get(k) != v:
            ann[k] = v
            changed = True
    return changed


def set_new_rs_annotations(d: JSON, rs: JSON, new_revision: int) -> bool:
    """Copy the Deployment's annotations (change-cause...) and the revision onto
    its new ReplicaSet; whether anything changed."""
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for k, v in kube.annotations_of(d).items():
        if k in _NOT_COPIED or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    old = ann.get(REVISION, "")
    try:
        old_revision = int(old) if old else 0
    except ValueError:
        old_revision = 0
    if old_revision < new_revision:
        ann[REVISION] = str(new_revision)
        if old:
            history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
            ann[REVISION_HISTORY] = ",".join([*history, old])
        changed = True
    return changed


def _proportion(d: JSON, rs: JSON, to_add: int, added: int) -> int:
    if rs_replicas(rs) == 0 or to_add in (0, added):
        return 0
    if replicas_of(d) == 0:
        fraction = -rs_replicas(rs)
    else:
        deployment_replicas = replicas_of(d) + max_surge(d)
        try:
            annotated = int(kube.annotations_of(rs).get(MAX_REPLICAS, ""))
        except ValueError:
            annotated = int((d.get("status") or {}).get("replicas") or 0)
        if annotated <= 0:
            annotated = max(rs_replicas(rs), 1)
        fraction = round(rs_replicas(rs) * deployment_replicas / annotated) - rs_replicas(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_sizes(d: JSON, rss: list[JSON]) -> dict[str, int]:
    """New sizes for several active ReplicaSets when a Deployment is scaled in
    the middle of a rollout: each grows or shrinks in proportion to its size."""
    total = sum(rs_replicas(rs) for rs in rss)
    allowed = replicas_of(d) + max_surge(d) if replicas_of(d) > 0 else 0
    to_add = allowed - total
    if to_add > 0:
        ordered = sorted(rss, key=lambda rs: (-rs_replicas(rs), [-x for x in _created(rs)[:1]]))
    else:
        ordered = sorted(rss, key=lambda rs: (-rs_replicas(rs), _created(rs)[0]))
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        p = _proportion(d, rs, to_add, added)
        sizes[kube.name(rs)] = rs_replicas(rs) + p
        added += p
    if ordered and to_add != added:
        first = kube.name(ordered[0])
        sizes[first] = max(sizes[first] + to_add - added, 0)
    return sizes


# --- the controller ---------------------------------------------------------


class DeploymentController(Controller):
    name = "deployment"
    component = "deployment-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.deployments = ctx.informers.informer(kube.DEPLOYMENTS)
        self.replicasets = ctx.informers.informer(kube.REPLICASETS)
        self.pods = ctx.informers.informer(kube.PODS)
        self.deployments.add_handlers(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )
        self.replicasets.add_handlers(
            on_add=self._rs_changed,
            on_update=self._rs_changed_both,
            on_delete=self._rs_changed,
        )
        self.pods.add_handlers(on_delete=self._pod_deleted)

    def synced(self) -> bool:
        return all(i.has_synced() for i in (self.deployments, self.replicasets, self.pods))

    def _deployment_keys_for_rs(self, rs: Mapping[str, Any]) -> list[str]:
        ref = kube.controller_ref(rs)
        ns = kube.namespace(rs)
        if ref is not None:
            if ref.get("kind") != "Deployment":
                return []
            return [f"{ns}/{ref.get('name')}"]
        return [
            key_of(d)
            for d in self.deployments.list(namespace=ns)
            if kube.selects(kube.label_selector((d.get("spec") or {}).get("selector")), rs)
        ]

    def _rs_changed_both(self, old: JSON, new: JSON) -> None:
        self._rs_changed(old)
        self._rs_changed(new)

    def _rs_changed(self, rs: JSON) -> None:
        self.enqueue_keys(self._deployment_keys_for_rs(rs))

    def _pod_deleted(self, pod: JSON) -> None:
        # Recreate waits for the old pods to be gone.
        ref = kube.controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(kube.namespace(pod), str(ref.get("name", "")))
        if rs is not None:
            self.enqueue_keys(self._deployment_keys_for_rs(rs))

    # --- sync -----------------------------------------------------------------

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.deployments.get(ns, name)
        if cached is None:
            return
        d = kube.deepcopy(cached)
        selector = (d.get("spec") or {}).get("selector")
        if not selector or (
            not selector.get("matchLabels") and not selector.get("matchExpressions")
        ):
            self.event(
                d,
                "Warning",
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            return
        rs_list = await self.claim_replicasets(d)
        if kube.deleting(d):
            new_rs, old_rss = await self.get_all_replicasets(d, rs_list, create=False)
            await self.sync_deployment_status([*old_rss, *([new_rs] if new_rs else [])], new_rs, d)
            return
        d = await self.check_paused_conditions(d)
        if (d.get("spec") or {}).get("paused"):
            await self.sync_scale(d, rs_list)
            return
        if await self.is_scaling_event(d, rs_list):
            await self.sync_scale(d, rs_list)
            return
        if is_rolling(d):
            await self.rollout_rolling(d, rs_list)
        else:
            await self.rollout_recreate(d, rs_list)

    async def claim_replicasets(self, d: JSON) -> list[JSON]:
        selector = kube.label_selector((d.get("spec") or {}).get("selector"))
        owned: list[JSON] = []
        for rs in self.replicasets.list(namespace=kube.namespace(d)):
            ref = kube.controller_ref(rs)
            matches = kube.selects(selector, rs)
            if ref is not None:
                if ref.get("uid") != kube.uid(d):
                    continue
                if matches:
                    owned.append(rs)
                elif not kube.deleting(rs) and not kube.deleting(d):
                    refs = [r for r in kube.owner_references(rs) if r.get("uid") != kube.uid(d)]
                    await self._patch_rs(
                        rs, {"metadata": {"uid": kube.uid(rs), "ownerReferences": refs or None}}
                    )
                continue
            if not matches or kube.deleting(rs) or kube.deleting(d):
                continue
            refs = [*kube.owner_references(rs), kube.owner_reference(d)]
            adopted = await self._patch_rs(
                rs, {"metadata": {"uid": kube.uid(rs), "ownerReferences": refs}}
            )
            if adopted is not None:
                owned.append(adopted)
        return owned

    async def _patch_rs(self, rs: JSON, patch: JSON) -> JSON | None:
        try:
            return await self.api.patch(
                kube.REPLICASETS, kube.name(rs), patch, namespace=kube.namespace(rs)
            )
        except errors.NotFound:
            return None

    async def get_all_replicasets(
        self, d: JSON, rs_list: list[JSON], *, create: bool
    ) -> tuple[JSON | None, list[JSON]]:
        template = (d.get("spec") or {}).get("template") or {}
        matching = sorted(
            (
                rs
                for rs in rs_list
                if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template)
            ),
            key=_created,
        )
        existing = matching[0] if matching else None
        old_rss = [rs for rs in rs_list if existing is None or kube.uid(rs) != kube.uid(existing)]
        new_rs = await self.get_new_replicaset(d, old_rss, existing, create=create)
        if new_rs is not None:
            # Later steps of this pass must see what was just written.
            rs_list[:] = [rs for rs in rs_list if kube.uid(rs) != kube.uid(new_rs)] + [new_rs]
        return new_rs, old_rss

    async def get_new_replicaset(
        self, d: JSON, old_rss: list[JSON], existing: JSON | None, *, create: bool
    ) -> JSON | None:
        new_revision = max_revision(old_rss) + 1
        now = self.ctx.clock()
        spec = d.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        if existing is not None:
            rs = kube.deepcopy(existing)
            changed = set_new_rs_annotations(d, rs, new_revision)
            if int((rs.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                changed = True
            if changed:
                rs = await self.api.update(kube.REPLICASETS, rs)
            await self._set_deployment_revision(d, kube.annotations_of(rs).get(REVISION, ""))
            status = d.setdefault("status", {})
            if (
                has_progress_deadline(d)
                and kube.condition_in(list(status.get("conditions") or []), "Progressing") is None
            ):
                set_deployment_condition(
                    status,
                    new_condition(
                        "Progressing",
                        "True",
                        FOUND_NEW_RS,
                        f'Found new replica set "{kube.name(rs)}"',
                        now,
                    ),
                )
                d.update(await self.api.update_status(kube.DEPLOYMENTS, d))
            return rs
        if not create:
            return None
        template = kube.deepcopy(spec.get("template") or {})
        collision = (d.get("status") or {}).get("collisionCount")
        pod_hash = compute_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = pod_hash
        selector = kube.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = pod_hash
        new_rs: JSON = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{kube.name(d)}-{pod_hash}",
                "namespace": kube.namespace(d),
                "ownerReferences": [kube.owner_reference(d)],
                "labels": dict(template["metadata"]["labels"]),
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": min_ready,
                "selector": selector,
                "template": template,
            },
        }
        replicas = new_rs_new_replicas(d, old_rss, new_rs)
        new_rs["spec"]["replicas"] = replicas
        set_new_rs_annotations(d, new_rs, new_revision)
        set_replicas_annotations(new_rs, replicas_of(d), replicas_of(d) + max_surge(d))
        try:
            created = await self.api.create(kube.REPLICASETS, new_rs, namespace=kube.namespace(d))
        except errors.AlreadyExists:
            current = await self.api.get(
                kube.REPLICASETS, new_rs["metadata"]["name"], namespace=kube.namespace(d)
            )
            if kube.is_controlled_by(current, d) and equal_ignore_hash(
                (current.get("spec") or {}).get("template") or {}, spec.get("template") or {}
            ):
                # Ours, created by an earlier pass the cache has not shown yet.
                return current
            status = d.setdefault("status", {})
            status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
            await self.api.update_status(kube.DEPLOYMENTS, d)
            raise errors.Conflict(
                message=f"hash collision for replica set {new_rs['metadata']['name']}; retrying"
            ) from None
        if replicas > 0:
            self.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {kube.name(created)} from 0 to {replicas}",
            )
        await self._set_deployment_revision(d, str(new_revision))
        if has_progress_deadline(d):
            status = d.setdefault("status", {})
            cond = new_condition(
                "Progressing",
                "True",
                NEW_RS_CREATED,
                f'Created new replica set "{kube.name(created)}"',
                now,
            )
            remove_deployment_condition(status, "Progressing")
            set_deployment_condition(status, cond)
            d.update(await self.api.update_status(kube.DEPLOYMENTS, d))
        return created

    async def _set_deployment_revision(self, d: JSON, rev: str) -> None:
        if not rev or kube.annotations_of(d).get(REVISION) == rev:
            return
        try:
            if int(kube.annotations_of(d).get(REVISION, "0")) > int(rev):
                pass
        except ValueError:
            pass
        new = kube.deepcopy(d)
        new["metadata"].setdefault("annotations", {})[REVISION] = rev
        updated = await self.api.update(kube.DEPLOYMENTS, new)
        d.clear()
        d.update(updated)

    async def scale_replicaset(self, rs: JSON, new_scale: int, d: JSON) -> JSON:
        new = kube.deepcopy(rs)
        size_changed = rs_replicas(rs) != new_scale
        ann_changed = set_replicas_annotations(new, replicas_of(d), replicas_of(d) + max_surge(d))
        if not size_changed and not ann_changed:
            return rs
        new["spec"]["replicas"] = new_scale
        updated = await self.api.update(kube.REPLICASETS, new)
        if size_changed:
            direction = "up" if new_scale > rs_replicas(rs) else "down"
            self.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {kube.name(rs)} "
                f"from {rs_replicas(rs)} to {new_scale}",
            )
        return updated

    async def is_scaling_event(self, d: JSON, rs_list: list[JSON]) -> bool:
        new_rs, old_rss = await self.get_all_replicasets(d, rs_list, create=False)
        for rs in active([*([new_rs] if new_rs else []), *old_rss]):
            desired = kube.annotations_of(rs).get(DESIRED_REPLICAS)
            if desired is None:
                continue
            try:
                if int(desired) != replicas_of(d):
                    return True
            except ValueError:
                continue
        return False

    async def sync_scale(self, d: JSON, rs_list: list[JSON]) -> None:
        """A scaling event or a paused Deployment: resize, no rollout."""
        new_rs, old_rss = await self.get_all_replicasets(d, rs_list, create=False)
        new_rs, old_rss = await self.scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused"):
            await self.cleanup(d, old_rss)
        await self.sync_deployment_status([*old_rss, *([new_rs] if new_rs else [])], new_rs, d)

    async def scale(
        self, d: JSON, new_rs: JSON | None, old_rss: list[JSON]
    ) -> tuple[JSON | None, list[JSON]]:
        target = find_active_or_latest(new_rs, old_rss)
        if target is not None:
            if rs_replicas(target) != replicas_of(d):
                updated = await self.scale_replicaset(target, replicas_of(d), d)
                return _replace(new_rs, old_rss, updated)
            return new_rs, old_rss
        if is_saturated(d, new_rs):
            for rs in active(old_rss):
                updated = await self.scale_replicaset(rs, 0, d)
                new_rs, old_rss = _replace(new_rs, old_rss, updated)
            return new_rs, old_rss
        if is_rolling(d):
            rss = active([*([new_rs] if new_rs else []), *old_rss])
            sizes = proportional_sizes(d, rss)
            for rs in rss:
                size = sizes.get(kube.name(rs), rs_replicas(rs))
                updated = await self.scale_replicaset(rs, size, d)
                new_rs, old_rss = _replace(new_rs, old_rss, updated)
        return new_rs, old_rss

    async def rollout_rolling(self, d: JSON, rs_list: list[JSON]) -> None:
        new_rs, old_rss = await self.get_all_replicasets(d, rs_list, create=True)
        assert new_rs is not None
        all_rss = [*old_rss, new_rs]
        # scale up the new ReplicaSet within maxSurge
        if rs_replicas(new_rs) != replicas_of(d):
            if rs_replicas(new_rs) > replicas_of(d):
                target = replicas_of(d)
            else:
                target = new_rs_new_replicas(d, all_rss, new_rs)
            if target != rs_replicas(new_rs):
                new_rs = await self.scale_replicaset(new_rs, target, d)
                await self.sync_rollout_status([*old_rss, new_rs], new_rs, d)
                return
        # scale the old ones down within maxUnavailable
        old_rss, scaled = await self.reconcile_old_replicasets(d, old_rss, new_rs)
        if scaled:
            await self.sync_rollout_status([*old_rss, new_rs], new_rs, d)
            return
        if deployment_complete(
            d, calculate_status([*old_rss, new_rs], new_rs, d, self.ctx.clock())
        ):
            await self.cleanup(d, old_rss)
        await self.sync_rollout_status([*old_rss, new_rs], new_rs, d)

    async def reconcile_old_replicasets(
        self, d: JSON, old_rss: list[JSON], new_rs: JSON
    ) -> tuple[list[JSON], bool]:
        if sum(rs_replicas(rs) for rs in old_rss) == 0:
            return old_rss, False
        all_pods = sum(rs_replicas(rs) for rs in [*old_rss, new_rs])
        min_available = replicas_of(d) - max_unavailable(d)
        new_unavailable = rs_replicas(new_rs) - safe_available(new_rs)
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return old_rss, False
        # First the old pods that are not available anyway.
        cleaned = 0
        old_rss = sorted(old_rss, key=_created)
        for i, rs in enumerate(old_rss):
            if cleaned >= max_scaled_down:
                break
            unhealthy = rs_replicas(rs) - safe_available(rs)
            if rs_replicas(rs) == 0 or unhealthy <= 0:
                continue
            down = min(max_scaled_down - cleaned, unhealthy)
            old_rss[i] = await self.scale_replicaset(rs, rs_replicas(rs) - down, d)
            cleaned += down
        # Then available ones, as long as minAvailable holds.
        available = sum(safe_available(rs) for rs in [*old_rss, new_rs])
        scaled = 0
        if available > min_available:
            budget = available - min_available
            for i, rs in enumerate(old_rss):
                if scaled >= budget:
                    break
                if rs_replicas(rs) == 0:
                    continue
                down = min(rs_replicas(rs), budget - scaled)
                old_rss[i] = await self.scale_replicaset(rs, rs_replicas(rs) - down, d)
                scaled += down
        return old_rss, cleaned + scaled > 0

    async def rollout_recreate(self, d: JSON, rs_list: list[JSON]) -> None:
        new_rs, old_rss = await self.get_all_replicasets(d, rs_list, create=False)
        scaled = False
        for i, rs in enumerate(old_rss):
            if rs_replicas(rs) > 0:
                old_rss[i] = await self.scale_replicaset(rs, 0, d)
                scaled = True
        all_rss = [*old_rss, *([new_rs] if new_rs else [])]
        if scaled:
            await self.sync_rollout_status(all_rss, new_rs, d)
            return
        if self._old_pods_running(new_rs, old_rss):
            await self.sync_rollout_status(all_rss, new_rs, d)
            return
        if new_rs is None:
            new_rs, old_rss = await self.get_all_replicasets(d, rs_list, create=True)
            assert new_rs is not None
        if rs_replicas(new_rs) != replicas_of(d):
            new_rs = await self.scale_replicaset(new_rs, replicas_of(d), d)
        all_rss = [*old_rss, new_rs]
        if deployment_complete(d, calculate_status(all_rss, new_rs, d, self.ctx.clock())):
            await self.cleanup(d, old_rss)
        await self.sync_rollout_status(all_rss, new_rs, d)

    def _old_pods_running(self, new_rs: JSON | None, old_rss: list[JSON]) -> bool:
        if any(rs_status(rs, "replicas") > 0 for rs in old_rss):
            return True
        old_uids = {kube.uid(rs) for rs in old_rss}
        for pod in self.pods.list(namespace=kube.namespace(old_rss[0]) if old_rss else None):
            ref = kube.controller_ref(pod)
            if ref is None or ref.get("uid") not in old_uids:
                continue
            if not kube.pod_is_terminated(pod):
                return True
        return False

    async def cleanup(self, d: JSON, old_rss: list[JSON]) -> None:
        """Delete the oldest empty ReplicaSets beyond revisionHistoryLimit."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit", 10)
        if limit is None:
            return
        alive = [rs for rs in old_rss if not kube.deleting(rs)]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        for rs in sorted(alive, key=lambda rs: (revision(rs), *_created(rs))):
            if diff <= 0:
                break
            if rs_status(rs, "replicas") != 0 or rs_replicas(rs) != 0:
                continue
            if int(kube.meta(rs).get("generation") or 0) > int(
                (rs.get("status") or {}).get("observedGeneration") or 0
            ):
                continue
            with contextlib.suppress(errors.NotFound):
                await self.api.delete(kube.REPLICASETS, kube.name(rs), namespace=kube.namespace(rs))
            diff -= 1

    async def check_paused_conditions(self, d: JSON) -> JSON:
        if not has_progress_deadline(d):
            return d
        status = d.setdefault("status", {})
        cond = kube.condition_in(list(status.get("conditions") or []), "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return d
        paused = bool((d.get("spec") or {}).get("paused"))
        paused_cond = cond is not None and cond.get("reason") == PAUSED
        now = self.ctx.clock()
        if paused and not paused_cond:
            new = new_condition("Progressing", "Unknown", PAUSED, "Deployment is paused", now)
        elif not paused and paused_cond:
            new = new_condition("Progressing", "Unknown", RESUMED, "Deployment is resumed", now)
        else:
            return d
        set_deployment_condition(status, new)
        return await self.api.update_status(kube.DEPLOYMENTS, d)

    async def sync_deployment_status(
        self, all_rss: list[JSON], new_rs: JSON | None, d: JSON
    ) -> None:
        status = calculate_status(all_rss, new_rs, d, self.ctx.clock())
        if status == (d.get("status") or {}):
            return
        new = kube.deepcopy(d)
        new["status"] = status
        await self.api.update_status(kube.DEPLOYMENTS, new)

    async def sync_rollout_status(self, all_rss: list[JSON], new_rs: JSON | None, d: JSON) -> None:
        now = self.ctx.clock()
        status = calculate_status(all_rss, new_rs, d, now)
        if not has_progress_deadline(d):
            remove_deployment_condition(status, "Progressing")
        cond = kube.condition_in(list(status.get("conditions") or []), "Progressing")
        complete = (
            int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
            and cond is not None
            and cond.get("reason") == NEW_RS_AVAILABLE
        )
        if has_progress_deadline(d) and not complete:
            rs_name = kube.name(new_rs) if new_rs else ""
            if deployment_complete(d, status):
                message = (
                    f'ReplicaSet "{rs_name}" has successfully progressed.'
                    if new_rs
                    else "Deployment has successfully progressed."
                )
                set_deployment_condition(
                    status, new_condition("Progressing", "True", NEW_RS_AVAILABLE, message, now)
                )
            elif deployment_progressing(d, status):
                message = (
                    f'ReplicaSet "{rs_name}" is progressing.'
                    if new_rs
                    else "Deployment is progressing."
                )
                new = new_condition("Progressing", "True", RS_UPDATED, message, now)
                if cond is not None and cond.get("status") == "True":
                    new["lastTransitionTime"] = cond.get(
                        "lastTransitionTime", new["lastTransitionTime"]
                    )
                remove_deployment_condition(status, "Progressing")
                set_deployment_condition(status, new)
            elif deployment_timed_out(d, status, now):
                message = (
                    f'ReplicaSet "{rs_name}" has timed out progressing.'
                    if new_rs
                    else "Deployment has timed out progressing."
                )
                set_deployment_condition(
                    status, new_condition("Progressing", "False", TIMED_OUT, message, now)
                )
        if status == (d.get("status") or {}):
            self._requeue_stuck(d, status, now)
            return
        new_d = kube.deepcopy(d)
        new_d["status"] = status
        await self.api.update_status(kube.DEPLOYMENTS, new_d)
        self._requeue_stuck(d, status, now)

    def _requeue_stuck(self, d: JSON, status: JSON, now: float) -> None:
        """Look again when the progress deadline would pass."""
        cond = kube.condition_in(list(status.get("conditions") or []), "Progressing")
        if cond is None or cond.get("status") != "True" or cond.get("reason") == NEW_RS_AVAILABLE:
            return
        if not has_progress_deadline(d) or deployment_complete(d, status):
            return
        since = kube.parse_time(cond.get("lastUpdateTime")) or now
        self.queue.add_after(key_of(d), max(since + progress_deadline(d) - now, 0) + 1)


def _replace(
    new_rs: JSON | None, old_rss: list[JSON], updated: JSON
) -> tuple[JSON | None, list[JSON]]:
    if new_rs is not None and kube.uid(new_rs) == kube.uid(updated):
        return updated, old_rss
    return new_rs, [updated if kube.uid(rs) == kube.uid(updated) else rs for rs in old_rss]
