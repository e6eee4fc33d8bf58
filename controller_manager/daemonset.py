"""The DaemonSet controller: one pod on every node that should run it.

A node should run a DaemonSet's pod when its labels satisfy the template's
nodeSelector and required node affinity, and the pod tolerates its NoSchedule
and NoExecute taints (daemon pods tolerate not-ready, unreachable, the
pressure taints and cordoned nodes, as upstream adds). Pods are created with a
required node affinity on the node's name, as upstream does, so the scheduler
binds them; pods on nodes that should not run them are deleted, failed ones
are replaced. A template change rolls out node by node within
`maxUnavailable` (RollingUpdate), or waits for pods to be deleted (OnDelete);
each template is a ControllerRevision, and pods carry its
`controller-revision-hash` label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apimachinery import selectors
from apimachinery.taints import tolerates
from controller_manager import kube, podcontrol, revisions
from controller_manager.base import JSON, Context, Controller, Expectations, key_of, split_key
from controller_manager.deployment import int_or_percent

DAEMONSETS = kube.rt("apps", "daemonsets")
REVISION_HASH = "controller-revision-hash"

# The tolerations upstream gives every daemon pod.
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def daemon_tolerations(pod_spec: Mapping[str, Any]) -> list[JSON]:
    tolerations = list(pod_spec.get("tolerations") or [])
    for t in DAEMON_TOLERATIONS:
        if not any(
            tolerates(have, {"key": t["key"], "effect": t["effect"]}) for have in tolerations
        ):
            tolerations.append(dict(t))
    return tolerations


def _expression_matches(expr: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key = str(expr.get("key", ""))
    op = expr.get("operator")
    wanted = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return key in values and values[key] in wanted
    if op == "NotIn":
        return key not in values or values[key] not in wanted
    if op == "Exists":
        return key in values
    if op == "DoesNotExist":
        return key not in values
    if op in ("Gt", "Lt") and key in values and wanted:
        try:
            have, want = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def node_matches_affinity(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    labels = kube.labels(node)
    fields = {"metadata.name": kube.name(node)}
    for term in terms:
        exprs = term.get("matchExpressions") or []
        field_exprs = term.get("matchFields") or []
        if not exprs and not field_exprs:
            continue
        if all(_expression_matches(e, labels) for e in exprs) and all(
            _expression_matches(e, fields) for e in field_exprs
        ):
            return True
    return False


def should_run(ds: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    pod_spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    node_selector = pod_spec.get("nodeSelector") or {}
    if not selectors.selector_from_set(node_selector).matches(kube.labels(node)):
        return False
    if not node_matches_affinity(pod_spec, node):
        return False
    tolerations = daemon_tolerations(pod_spec)
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return False
    return True


def target_node(pod: Mapping[str, Any]) -> str:
    """The node a daemon pod is for: where it runs, else its name affinity."""
    if kube.node_name(pod):
        return kube.node_name(pod)
    required = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and f.get("values"):
                return str(f["values"][0])
    return ""


def pod_for_node(ds: JSON, node_name: str, revision_hash: str) -> JSON:
    template = (ds.get("spec") or {}).get("template") or {}
    pod = podcontrol.pod_from_template(ds, template, extra_labels={REVISION_HASH: revision_hash})
    spec = pod["spec"]
    spec["tolerations"] = daemon_tolerations(spec)
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
        ]
    }
    return pod


class DaemonSetController(Controller):
    name = "daemonset"
    component = "daemonset-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.daemonsets = ctx.informers.informer(DAEMONSETS)
        self.pods = ctx.informers.informer(kube.PODS)
        self.nodes = ctx.informers.informer(kube.NODES)
        self.revisions = revisions.Revisions(ctx)
        self.expectations = Expectations()
        self.daemonsets.add_handlers(
            on_add=self.enqueue, on_update=self._ds_updated, on_delete=self._ds_deleted
        )
        self.pods.add_handlers(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )
        self.nodes.add_handlers(
            on_add=self._node_changed, on_update=self._node_updated, on_delete=self._node_changed
        )

    def synced(self) -> bool:
        return all(i.has_synced() for i in (self.daemonsets, self.pods, self.nodes))

    def _ds_updated(self, old: JSON, new: JSON) -> None:
        self.enqueue(new)

    def _ds_deleted(self, ds: JSON) -> None:
        self.expectations.forget(key_of(ds))

    def _owner_key(self, pod: Mapping[str, Any]) -> str | None:
        ref = kube.controller_ref(pod)
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        return f"{kube.namespace(pod)}/{ref.get('name')}"

    def _pod_added(self, pod: JSON) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        key = self._owner_key(new)
        if key is not None:
            if kube.deleting(new) and not kube.deleting(old):
                self.expectations.deletion_observed(key, kube.uid(new))
            self.queue.add(key)

    def _pod_deleted(self, pod: JSON) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, kube.uid(pod))
            self.queue.add(key)

    def _node_changed(self, node: JSON) -> None:
        self.enqueue_keys(key_of(ds) for ds in self.daemonsets.list())

    def _node_updated(self, old: JSON, new: JSON) -> None:
        if kube.labels(old) != kube.labels(new) or (old.get("spec") or {}).get("taints") != (
            new.get("spec") or {}
        ).get("taints"):
            self._node_changed(new)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        ds = self.daemonsets.get(ns, name)
        if ds is None:
            self.expectations.forget(key)
            return
        spec = ds.get("spec") or {}
        selector = kube.label_selector(spec.get("selector"))
        pods = await podcontrol.claim_pods(self.api, ds, self.pods.list(namespace=ns), selector)
        revision_hash = await self.revisions.sync(ds, spec.get("template") or {})
        by_node: dict[str, list[JSON]] = {}
        for p in pods:
            if not kube.deleting(p):
                by_node.setdefault(target_node(p), []).append(p)
        nodes = self.nodes.list()
        if self.expectations.satisfied(key) and not kube.deleting(ds):
            await self.manage(key, ds, nodes, by_node, revision_hash)
        await self.update_status(ds, nodes, by_node, revision_hash)

    async def manage(
        self,
        key: str,
        ds: JSON,
        nodes: list[JSON],
        by_node: dict[str, list[JSON]],
        revision_hash: str,
    ) -> None:
        create: list[str] = []
        delete: list[JSON] = []
        wanted_nodes = {kube.name(n) for n in nodes if should_run(ds, n)}
        for node_name in wanted_nodes:
            node_pods = by_node.get(node_name, [])
            failed = [p for p in node_pods if kube.pod_phase(p) == "Failed"]
            running = [p for p in node_pods if kube.pod_phase(p) != "Failed"]
            delete.extend(failed)
            if not running:
                create.append(node_name)
            elif len(running) > 1:
                running.sort(
                    key=lambda p: kube.parse_time(kube.meta(p).get("creationTimestamp")) or 0
                )
                delete.extend(running[1:])
        for node_name, node_pods in by_node.items():
            if node_name not in wanted_nodes:
                delete.extend(node_pods)
        delete.extend(self.rolling_update_victims(ds, wanted_nodes, by_node, revision_hash, delete))
        self.expectations.expect_creations(key, len(create))
        self.expectations.expect_deletions(key, [kube.uid(p) for p in delete])
        for node_name in sorted(create):
            try:
                created = await self.api.create(
                    kube.PODS,
                    pod_for_node(ds, node_name, revision_hash),
                    namespace=kube.namespace(ds),
                )
            except Exception as e:
                self.expectations.creation_observed(key)
                self.event(ds, "Warning", "FailedCreate", f"Error creating: {e}")
                raise
            self.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {kube.name(created)}")
        for p in delete:
            if await podcontrol.delete_pod(self.api, p):
                self.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {kube.name(p)}")
            else:
                self.expectations.deletion_observed(key, kube.uid(p))

    def rolling_update_victims(
        self,
        ds: JSON,
        wanted_nodes: set[str],
        by_node: dict[str, list[JSON]],
        revision_hash: str,
        already: list[JSON],
    ) -> list[JSON]:
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return []
        max_unavailable = max(
            int_or_percent(
                (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1),
                len(wanted_nodes),
                round_up=True,
            ),
            1,
        )
        doomed = {kube.uid(p) for p in already}
        old_ready: list[JSON] = []
        victims: list[JSON] = []
        unavailable = 0
        for node_name in sorted(wanted_nodes):
            pods = [p for p in by_node.get(node_name, []) if kube.uid(p) not in doomed]
            if not any(kube.pod_is_ready(p) for p in pods):
                unavailable += 1
            for p in pods:
                if kube.labels(p).get(REVISION_HASH) == revision_hash:
                    continue
                if kube.pod_is_ready(p):
                    old_ready.append(p)
                else:
                    victims.append(p)  # not available anyway: replace at once
        budget = max_unavailable - unavailable
        return victims + old_ready[: max(budget, 0)]

    async def update_status(
        self, ds: JSON, nodes: list[JSON], by_node: dict[str, list[JSON]], revision_hash: str
    ) -> None:
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = self.ctx.clock()
        desired = current = misscheduled = ready = updated = available = 0
        for node in nodes:
            node_pods = by_node.get(kube.name(node), [])
            wanted = should_run(ds, node)
            if wanted:
                desired += 1
                if node_pods:
                    current += 1
                if any(kube.pod_is_ready(p) for p in node_pods):
                    ready += 1
                if any(kube.pod_is_available(p, min_ready, now) for p in node_pods):
                    available += 1
                if any(kube.labels(p).get(REVISION_HASH) == revision_hash for p in node_pods):
                    updated += 1
            elif node_pods:
                misscheduled += 1
        old = ds.get("status") or {}
        status: JSON = {
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "observedGeneration": int(kube.meta(ds).get("generation") or 0),
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
        }
        status = {
            k: v
            for k, v in status.items()
            if v
            or k
            in (
                "currentNumberScheduled",
                "numberMisscheduled",
                "desiredNumberScheduled",
                "numberReady",
            )
        }
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        if status != old:
            new = kube.deepcopy(ds)
            new["status"] = status
            await self.api.update_status(DAEMONSETS, new)
        if min_ready and ready != available:
            self.queue.add_after(key_of(ds), min_ready + 0.5)
