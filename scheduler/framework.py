"""Where a pod may run, and where it runs best: the scheduler's decision, without I/O.

As upstream's scheduling framework, a decision is a pipeline of filter plugins
(each node passes or gives reasons it cannot take the pod) and score plugins
(each feasible node gets 0..100 per plugin, weighted and summed). Everything
here is a pure function of the pod and a `Snapshot` of the nodes with the pods
placed on them, so unit tests feed plain dicts and assert the exact verdict
and message a user would read in `kubectl describe pod`.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apimachinery import quantity, selectors
from apimachinery.taints import tolerates

JSON = dict[str, Any]

# What the scheduler assumes a container without requests asks for when scoring
# (upstream's non-zero defaults), so that empty pods still spread.
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_NOT_READY = "node(s) were not ready"
REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_NODE_NAME = "node(s) didn't match the requested node name"
REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"
REASON_POD_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
REASON_TOO_MANY_PODS = "Too many pods"
REASON_TOPOLOGY_SPREAD = "node(s) didn't match pod topology spread constraints"
REASON_TOPOLOGY_LABEL = REASON_TOPOLOGY_SPREAD + " (missing required label)"

HOSTNAME_LABEL = "kubernetes.io/hostname"


# --- resources ----------------------------------------------------------------


@dataclass
class Resources:
    milli_cpu: int = 0
    memory: int = 0
    pods: int = 0
    ephemeral_storage: int = 0

    def add(self, other: Resources) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.pods += other.pods
        self.ephemeral_storage += other.ephemeral_storage

    def sub(self, other: Resources) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.pods -= other.pods
        self.ephemeral_storage -= other.ephemeral_storage


@functools.lru_cache(maxsize=4096)
def _quantity_milli(value: Any) -> int:
    try:
        return quantity.milli_value(value)
    except (quantity.QuantityError, TypeError):
        return 0


@functools.lru_cache(maxsize=4096)
def _quantity_int(value: Any) -> int:
    try:
        return quantity.int_value(value)
    except (quantity.QuantityError, TypeError):
        return 0


def _container_requests(container: Mapping[str, Any]) -> Mapping[str, Any]:
    resources = container.get("resources") or {}
    # As upstream defaulting: a limit without a request is also the request.
    return {**(resources.get("limits") or {}), **(resources.get("requests") or {})}


def pod_requests(pod: Mapping[str, Any], *, non_zero: bool = False) -> Resources:
    """What a pod asks for: the sum of its app containers, or its largest init
    container when that is more (init containers run one at a time), plus
    spec.overhead. `non_zero` applies the scoring defaults to empty requests."""
    spec = pod.get("spec") or {}
    total = Resources(pods=1)
    for c in spec.get("containers") or []:
        req = _container_requests(c)
        cpu = _quantity_milli(req["cpu"]) if "cpu" in req else 0
        mem = _quantity_int(req["memory"]) if "memory" in req else 0
        if non_zero:
            cpu = cpu or DEFAULT_MILLI_CPU
            mem = mem or DEFAULT_MEMORY
        total.milli_cpu += cpu
        total.memory += mem
        total.ephemeral_storage += _quantity_int(req.get("ephemeral-storage", 0))
    for c in spec.get("initContainers") or []:
        req = _container_requests(c)
        total.milli_cpu = max(total.milli_cpu, _quantity_milli(req.get("cpu", 0)))
        total.memory = max(total.memory, _quantity_int(req.get("memory", 0)))
    overhead = spec.get("overhead") or {}
    total.milli_cpu += _quantity_milli(overhead.get("cpu", 0))
    total.memory += _quantity_int(overhead.get("memory", 0))
    return total


def node_allocatable(node: Mapping[str, Any]) -> Resources:
    status = node.get("status") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    return Resources(
        milli_cpu=_quantity_milli(alloc.get("cpu", 0)),
        memory=_quantity_int(alloc.get("memory", 0)),
        pods=_quantity_int(alloc.get("pods", 110)) if "pods" in alloc else 110,
        ephemeral_storage=_quantity_int(alloc.get("ephemeral-storage", 0)),
    )


def host_ports(pod: Mapping[str, Any]) -> set[tuple[str, str, int]]:
    """(protocol, hostIP, hostPort) the pod wants on its node."""
    out: set[tuple[str, str, int]] = set()
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            hp = p.get("hostPort")
            if hp:
                out.add((p.get("protocol") or "TCP", p.get("hostIP") or "0.0.0.0", int(hp)))
    return out


def _ports_conflict(want: set[tuple[str, str, int]], used: set[tuple[str, str, int]]) -> bool:
    for proto, ip, port in want:
        for uproto, uip, uport in used:
            if proto == uproto and port == uport and ("0.0.0.0" in (ip, uip) or ip == uip):
                return True
    return False


# --- the snapshot ---------------------------------------------------------------


@dataclass
class NodeInfo:
    """A node and the pods placed on it (bound, or assumed while binding)."""

    node: JSON
    pods: dict[str, JSON] = field(default_factory=dict)  # by uid
    requested: Resources = field(default_factory=Resources)
    non_zero_requested: Resources = field(default_factory=Resources)
    used_ports: set[tuple[str, str, int]] = field(default_factory=set)
    # Pods here with required anti-affinity terms (checked against every newcomer).
    with_anti_affinity: dict[str, JSON] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str((self.node.get("metadata") or {}).get("name", ""))

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.node.get("metadata") or {}).get("labels") or {})

    def add_pod(self, pod: JSON) -> None:
        uid = pod_uid(pod)
        if uid in self.pods:
            self.remove_pod(uid)
        self.pods[uid] = pod
        self.requested.add(pod_requests(pod))
        self.non_zero_requested.add(pod_requests(pod, non_zero=True))
        self.used_ports |= host_ports(pod)
        if _affinity_terms(
            pod, "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"
        ):
            self.with_anti_affinity[uid] = pod

    def remove_pod(self, uid: str) -> None:
        pod = self.pods.pop(uid, None)
        if pod is None:
            return
        self.with_anti_affinity.pop(uid, None)
        self.requested.sub(pod_requests(pod))
        self.non_zero_requested.sub(pod_requests(pod, non_zero=True))
        self.used_ports = set()
        for other in self.pods.values():
            self.used_ports |= host_ports(other)


def pod_uid(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}")


def pod_priority(pod: Mapping[str, Any]) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


@dataclass
class Snapshot:
    nodes: dict[str, NodeInfo] = field(default_factory=dict)

    @staticmethod
    def build(nodes: Iterable[JSON], pods: Iterable[JSON]) -> Snapshot:
        snap = Snapshot()
        for node in nodes:
            info = NodeInfo(node=node)
            snap.nodes[info.name] = info
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name in snap.nodes and not is_terminal(pod):
                snap.nodes[node_name].add_pod(pod)
        return snap

    def all_pods(self) -> Iterable[tuple[NodeInfo, JSON]]:
        for info in self.nodes.values():
            for pod in info.pods.values():
                yield info, pod

    def pods_with_anti_affinity(self) -> Iterable[tuple[NodeInfo, JSON]]:
        for info in self.nodes.values():
            for pod in info.with_anti_affinity.values():
                yield info, pod


def is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


# --- tolerations, affinity ------------------------------------------------------


def untolerated_taint(
    pod: Mapping[str, Any], node: Mapping[str, Any], effects: Sequence[str]
) -> JSON | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in effects:
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return dict(taint)
    return None


def _node_field(node: Mapping[str, Any], key: str) -> str | None:
    if key == "metadata.name":
        return str((node.get("metadata") or {}).get("name", ""))
    return None


def _match_node_requirement(expr: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key = str(expr.get("key", ""))
    op = expr.get("operator")
    vals = [str(v) for v in expr.get("values") or []]
    present = key in values
    have = values.get(key, "")
    if op == "In":
        return present and have in vals
    if op == "NotIn":
        return not present or have not in vals
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(vals) == 1:
        try:
            a, b = int(have), int(vals[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def match_node_selector_term(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A NodeSelectorTerm: all its matchExpressions (labels) and matchFields hold.
    An empty term matches nothing, as upstream."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    if not all(_match_node_requirement(e, labels) for e in exprs):
        return False
    for f in fields:
        value = _node_field(node, str(f.get("key", "")))
        if value is None or not _match_node_requirement(f, {str(f.get("key")): value}):
            return False
    return True


def matches_node_selector_and_affinity(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    return terms is None or any(match_node_selector_term(t, node) for t in terms)


def _term_selects(
    term: Mapping[str, Any], owner: Mapping[str, Any], other: Mapping[str, Any]
) -> bool:
    """Whether the pod (anti-)affinity term of `owner` selects pod `other`."""
    owner_ns = (owner.get("metadata") or {}).get("namespace", "")
    other_meta = other.get("metadata") or {}
    namespaces = term.get("namespaces") or []
    if term.get("namespaceSelector") is None and not namespaces:
        namespaces = [owner_ns]
    if namespaces and other_meta.get("namespace", "") not in namespaces:
        return False
    try:
        sel = selectors.label_selector_from_dict(term.get("labelSelector"))
    except Exception:
        return False
    return sel.matches(other_meta.get("labels") or {})


def _affinity_terms(pod: Mapping[str, Any], kind: str, how: str) -> list[JSON]:
    aff = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return list(aff.get(how) or [])


def _topology_value(info: NodeInfo, key: str) -> str | None:
    return info.labels.get(key)


# --- filters --------------------------------------------------------------------

Filter = Callable[[JSON, NodeInfo, Snapshot], list[str]]


def filter_node_unschedulable(pod: JSON, info: NodeInfo, _: Snapshot) -> list[str]:
    if not (info.node.get("spec") or {}).get("unschedulable"):
        return []
    taint = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    tols = (pod.get("spec") or {}).get("tolerations") or []
    return [] if any(tolerates(t, taint) for t in tols) else [REASON_UNSCHEDULABLE]


def filter_node_ready(pod: JSON, info: NodeInfo, _: Snapshot) -> list[str]:
    for cond in (info.node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") != "True":
            taint = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
            tols = (pod.get("spec") or {}).get("tolerations") or []
            return [] if any(tolerates(t, taint) for t in tols) else [REASON_NOT_READY]
    return []


def filter_node_name(pod: JSON, info: NodeInfo, _: Snapshot) -> list[str]:
    wanted = (pod.get("spec") or {}).get("nodeName")
    return [REASON_NODE_NAME] if wanted and wanted != info.name else []


def filter_taints(pod: JSON, info: NodeInfo, _: Snapshot) -> list[str]:
    taint = untolerated_taint(pod, info.node, ("NoSchedule", "NoExecute"))
    if taint is None:
        return []
    return [f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"]


def filter_node_affinity(pod: JSON, info: NodeInfo, _: Snapshot) -> list[str]:
    return [] if matches_node_selector_and_affinity(pod, info.node) else [REASON_NODE_AFFINITY]


def filter_ports(pod: JSON, info: NodeInfo, _: Snapshot) -> list[str]:
    want = host_ports(pod)
    return [REASON_PORTS] if want and _ports_conflict(want, info.used_ports) else []


def insufficient(pod: JSON, info: NodeInfo) -> list[str]:
    """Upstream NodeResourcesFit reasons ("Insufficient cpu", "Too many pods")."""
    alloc = node_allocatable(info.node)
    req = pod_requests(pod)
    reasons = []
    if info.requested.pods + 1 > alloc.pods:
        reasons.append(REASON_TOO_MANY_PODS)
    if req.milli_cpu and info.requested.milli_cpu + req.milli_cpu > alloc.milli_cpu:
        reasons.append("Insufficient cpu")
    if req.memory and info.requested.memory + req.memory > alloc.memory:
        reasons.append("Insufficient memory")
    if (
        req.ephemeral_storage
        and alloc.ephemeral_storage
        and info.requested.ephemeral_storage + req.ephemeral_storage > alloc.ephemeral_storage
    ):
        reasons.append("Insufficient ephemeral-storage")
    return reasons


def filter_resources(pod: JSON, info: NodeInfo, _: Snapshot) -> list[str]:
    return insufficient(pod, info)


def filter_inter_pod_affinity(pod: JSON, info: NodeInfo, snap: Snapshot) -> list[str]:
    required = "requiredDuringSchedulingIgnoredDuringExecution"
    # Existing pods' anti-affinity against this pod.
    for other_info, other in snap.pods_with_anti_affinity():
        for term in _affinity_terms(other, "podAntiAffinity", required):
            key = str(term.get("topologyKey", ""))
            value = _topology_value(other_info, key)
            if (
                value is not None
                and _topology_value(info, key) == value
                and _term_selects(term, other, pod)
            ):
                return [REASON_EXISTING_ANTI_AFFINITY]
    # This pod's anti-affinity.
    for term in _affinity_terms(pod, "podAntiAffinity", required):
        key = str(term.get("topologyKey", ""))
        value = _topology_value(info, key)
        if value is None:
            continue
        for other_info, other in snap.all_pods():
            if _topology_value(other_info, key) == value and _term_selects(term, pod, other):
                return [REASON_POD_ANTI_AFFINITY]
    # This pod's affinity: every term must find a matching pod in the node's domain,
    # unless no pod anywhere matches and the pod matches its own term (first of a group).
    for term in _affinity_terms(pod, "podAffinity", required):
        key = str(term.get("topologyKey", ""))
        value = _topology_value(info, key)
        matching = [(i, o) for i, o in snap.all_pods() if _term_selects(term, pod, o)]
        if any(_topology_value(i, key) == value for i, _o in matching) and value is not None:
            continue
        if not matching and _term_selects(term, pod, pod) and value is not None:
            continue
        return [REASON_POD_AFFINITY]
    return []


# --- topology spread ------------------------------------------------------------


def _spread_constraints(pod: Mapping[str, Any], when: str) -> list[JSON]:
    return [
        c
        for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []
        if c.get("whenUnsatisfiable", "DoNotSchedule") == when
    ]


def _spread_selector(constraint: Mapping[str, Any], pod: Mapping[str, Any]) -> Any:
    """The constraint's labelSelector, narrowed by matchLabelKeys to the pod's
    own values of those labels (for example pod-template-hash: one revision)."""
    selector = dict(constraint.get("labelSelector") or {})
    labels = (pod.get("metadata") or {}).get("labels") or {}
    keys = [k for k in constraint.get("matchLabelKeys") or [] if k in labels]
    if keys:
        selector["matchExpressions"] = [
            *(selector.get("matchExpressions") or []),
            *({"key": k, "operator": "In", "values": [labels[k]]} for k in keys),
        ]
    if not selector:
        return None  # no selector matches no pod
    return selectors.label_selector_from_dict(selector)


def _spread_counts(
    constraint: Mapping[str, Any], pod: JSON, snap: Snapshot, all_keys: Sequence[str]
) -> tuple[Counter[str], Any]:
    """Matching pods per domain of the constraint's topologyKey, over the nodes
    that count (upstream: nodes with every topology key of the pod's
    constraints, passing its node affinity unless nodeAffinityPolicy is Ignore,
    and tolerated unless nodeTaintsPolicy is Ignore, its default)."""
    key = str(constraint.get("topologyKey", ""))
    selector = _spread_selector(constraint, pod)
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    counts: Counter[str] = Counter()
    for info in snap.nodes.values():
        labels = info.labels
        if any(k not in labels for k in all_keys):
            continue
        if constraint.get("nodeAffinityPolicy", "Honor") == "Honor" and not (
            matches_node_selector_and_affinity(pod, info.node)
        ):
            continue
        if constraint.get("nodeTaintsPolicy", "Ignore") == "Honor" and untolerated_taint(
            pod, info.node, ("NoSchedule", "NoExecute")
        ):
            continue
        domain = labels[key]
        counts[domain] += 0  # a domain with no matching pod still counts (its minimum is 0)
        if selector is None:
            continue
        for other in info.pods.values():
            meta = other.get("metadata") or {}
            if (
                meta.get("namespace", "") == namespace
                and not meta.get("deletionTimestamp")
                and selector.matches(meta.get("labels") or {})
            ):
                counts[domain] += 1
    return counts, selector


def filter_topology_spread(pod: JSON, info: NodeInfo, snap: Snapshot) -> list[str]:
    """whenUnsatisfiable: DoNotSchedule. Placing the pod on this node must keep
    (matching pods in its domain + 1) - (fewest in any domain) <= maxSkew, the
    fewest being 0 while there are fewer domains than minDomains."""
    constraints = _spread_constraints(pod, "DoNotSchedule")
    if not constraints:
        return []
    keys = [str(c.get("topologyKey", "")) for c in constraints]
    if any(k not in info.labels for k in keys):
        return [REASON_TOPOLOGY_LABEL]
    own_labels = (pod.get("metadata") or {}).get("labels") or {}
    for constraint, key in zip(constraints, keys, strict=True):
        counts, selector = _spread_counts(constraint, pod, snap, keys)
        fewest = min(counts.values(), default=0)
        if len(counts) < int(constraint.get("minDomains") or 1):
            fewest = 0
        itself = 1 if selector is not None and selector.matches(own_labels) else 0
        skew = counts.get(info.labels[key], 0) + itself - fewest
        if skew > int(constraint.get("maxSkew") or 1):
            return [REASON_TOPOLOGY_SPREAD]
    return []


# In upstream's order: the first filter that fails gives the node's reasons.
FILTERS: tuple[tuple[str, Filter], ...] = (
    ("NodeUnschedulable", filter_node_unschedulable),
    ("NodeName", filter_node_name),
    ("TaintToleration", filter_taints),
    ("NodeReady", filter_node_ready),
    ("NodeAffinity", filter_node_affinity),
    ("NodePorts", filter_ports),
    ("NodeResourcesFit", filter_resources),
    ("PodTopologySpread", filter_topology_spread),
    ("InterPodAffinity", filter_inter_pod_affinity),
)


def run_filters(pod: JSON, info: NodeInfo, snap: Snapshot) -> list[str]:
    for _name, fn in FILTERS:
        reasons = fn(pod, info, snap)
        if reasons:
            return reasons
    return []


# --- scores ---------------------------------------------------------------------

Score = Callable[[JSON, Sequence[NodeInfo], Snapshot], dict[str, float]]


def _fractions(pod: JSON, info: NodeInfo) -> tuple[float, float]:
    alloc = node_allocatable(info.node)
    req = pod_requests(pod, non_zero=True)
    cpu = (
        (info.non_zero_requested.milli_cpu + req.milli_cpu) / alloc.milli_cpu
        if alloc.milli_cpu
        else 1.0
    )
    mem = (info.non_zero_requested.memory + req.memory) / alloc.memory if alloc.memory else 1.0
    return min(cpu, 1.0), min(mem, 1.0)


def score_least_allocated(pod: JSON, nodes: Sequence[NodeInfo], _: Snapshot) -> dict[str, float]:
    out = {}
    for info in nodes:
        cpu, mem = _fractions(pod, info)
        out[info.name] = ((1 - cpu) * 100 + (1 - mem) * 100) / 2
    return out


def score_balanced(pod: JSON, nodes: Sequence[NodeInfo], _: Snapshot) -> dict[str, float]:
    out = {}
    for info in nodes:
        cpu, mem = _fractions(pod, info)
        out[info.name] = (1 - abs(cpu - mem) / 2) * 100
    return out


def _controller_uid(pod: Mapping[str, Any]) -> str:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid", ""))
    return ""


def score_selector_spread(pod: JSON, nodes: Sequence[NodeInfo], _: Snapshot) -> dict[str, float]:
    """Fewer pods of the same controller on a node scores higher (spreads replicas)."""
    owner = _controller_uid(pod)
    if not owner:
        return {info.name: 0.0 for info in nodes}
    ns = (pod.get("metadata") or {}).get("namespace")
    counts = {
        info.name: sum(
            1
            for p in info.pods.values()
            if _controller_uid(p) == owner and (p.get("metadata") or {}).get("namespace") == ns
        )
        for info in nodes
    }
    most = max(counts.values(), default=0)
    if most == 0:
        return {name: 100.0 for name in counts}
    return {name: 100.0 * (most - c) / most for name, c in counts.items()}


def score_node_affinity(pod: JSON, nodes: Sequence[NodeInfo], _: Snapshot) -> dict[str, float]:
    terms = _affinity_terms(pod, "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
    raw = {
        info.name: float(
            sum(
                int(t.get("weight") or 0)
                for t in terms
                if match_node_selector_term(t.get("preference") or {}, info.node)
            )
        )
        for info in nodes
    }
    return _normalize(raw)


def score_pod_affinity(pod: JSON, nodes: Sequence[NodeInfo], snap: Snapshot) -> dict[str, float]:
    preferred = "preferredDuringSchedulingIgnoredDuringExecution"
    raw: dict[str, float] = {info.name: 0.0 for info in nodes}
    for kind, sign in (("podAffinity", 1), ("podAntiAffinity", -1)):
        for weighted in _affinity_terms(pod, kind, preferred):
            term = weighted.get("podAffinityTerm") or {}
            weight = int(weighted.get("weight") or 0)
            key = str(term.get("topologyKey", ""))
            domains = Counter(
                _topology_value(i, key) for i, o in snap.all_pods() if _term_selects(term, pod, o)
            )
            for info in nodes:
                value = _topology_value(info, key)
                if value is not None and domains.get(value):
                    raw[info.name] += sign * weight * domains[value]
    lo = min(raw.values(), default=0.0)
    hi = max(raw.values(), default=0.0)
    if hi == lo:
        return {name: 0.0 for name in raw}
    return {name: 100.0 * (v - lo) / (hi - lo) for name, v in raw.items()}


def score_taint_prefer(pod: JSON, nodes: Sequence[NodeInfo], _: Snapshot) -> dict[str, float]:
    tols = (pod.get("spec") or {}).get("tolerations") or []
    raw = {
        info.name: float(
            sum(
                1
                for taint in (info.node.get("spec") or {}).get("taints") or []
                if taint.get("effect") == "PreferNoSchedule"
                and not any(tolerates(t, taint) for t in tols)
            )
        )
        for info in nodes
    }
    most = max(raw.values(), default=0.0)
    if most == 0:
        return {name: 100.0 for name in raw}
    return {name: 100.0 * (most - v) / most for name, v in raw.items()}


def score_topology_spread(pod: JSON, nodes: Sequence[NodeInfo], snap: Snapshot) -> dict[str, float]:
    """whenUnsatisfiable: ScheduleAnyway: fewer matching pods in a node's domain
    scores higher (each constraint weighted by log(domains + 2), as upstream);
    a node without a constraint's key scores 0."""
    constraints = _spread_constraints(pod, "ScheduleAnyway")
    if not constraints:
        return {info.name: 0.0 for info in nodes}
    keys = [str(c.get("topologyKey", "")) for c in constraints]
    raw: dict[str, float] = {}
    for constraint, key in zip(constraints, keys, strict=True):
        counts, _ = _spread_counts(constraint, pod, snap, keys)
        weight = math.log(len(counts) + 2)
        for info in nodes:
            if all(k in info.labels for k in keys):
                raw[info.name] = raw.get(info.name, 0.0) + weight * (
                    counts.get(info.labels[key], 0) + int(constraint.get("maxSkew") or 1) - 1
                )
    if not raw:
        return {info.name: 0.0 for info in nodes}
    most, least = max(raw.values()), min(raw.values())
    if most == 0:
        return {info.name: 100.0 if info.name in raw else 0.0 for info in nodes}
    return {
        info.name: 100.0 * (most + least - raw[info.name]) / most if info.name in raw else 0.0
        for info in nodes
    }


def _normalize(raw: Mapping[str, float]) -> dict[str, float]:
    most = max(raw.values(), default=0.0)
    if most <= 0:
        return {name: 0.0 for name in raw}
    return {name: 100.0 * v / most for name, v in raw.items()}


SCORES: tuple[tuple[str, Score, int], ...] = (
    ("NodeResourcesLeastAllocated", score_least_allocated, 1),
    ("NodeResourcesBalancedAllocation", score_balanced, 1),
    ("SelectorSpread", score_selector_spread, 2),
    ("NodeAffinity", score_node_affinity, 2),
    ("InterPodAffinity", score_pod_affinity, 2),
    ("TaintToleration", score_taint_prefer, 3),
    ("PodTopologySpread", score_topology_spread, 2),
)


# --- the decision ---------------------------------------------------------------


@dataclass
class Decision:
    node: str | None
    # node name -> reasons it was rejected
    rejected: dict[str, list[str]] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)

    def message(self, total: int) -> str:
        return fit_error_message(total, self.rejected)


def fit_error_message(total: int, rejected: Mapping[str, Sequence[str]]) -> str:
    """`0/3 nodes are available: 1 node(s) had untolerated taint {...}, 2 Insufficient cpu.`"""
    counts: Counter[str] = Counter()
    for reasons in rejected.values():
        for r in reasons:
            counts[r] += 1
    parts = sorted(f"{n} {reason}" for reason, n in counts.items())
    if not parts:
        return f"0/{total} nodes are available."
    return f"0/{total} nodes are available: {', '.join(parts)}."


def schedule(pod: JSON, snap: Snapshot, *, tie_break: int = 0) -> Decision:
    """The node for `pod` (highest weighted score among those passing every filter),
    or None with each rejected node's reasons. `tie_break` rotates among equal
    best scores (the caller passes a counter, so equal nodes take turns)."""
    feasible: list[NodeInfo] = []
    rejected: dict[str, list[str]] = {}
    for info in snap.nodes.values():
        reasons = run_filters(pod, info, snap)
        if reasons:
            rejected[info.name] = reasons
        else:
            feasible.append(info)
    if not feasible:
        return Decision(node=None, rejected=rejected)
    if len(feasible) == 1:
        return Decision(node=feasible[0].name, rejected=rejected)
    totals = {info.name: 0.0 for info in feasible}
    for _name, fn, weight in SCORES:
        for node, value in fn(pod, feasible, snap).items():
            totals[node] += weight * value
    best = max(totals.values())
    winners = sorted(n for n, v in totals.items() if math.isclose(v, best, abs_tol=1e-6))
    return Decision(node=winners[tie_break % len(winners)], rejected=rejected, scores=totals)


# --- preemption -----------------------------------------------------------------


@dataclass
class Preemption:
    node: str
    victims: list[JSON]


def _passes_without(pod: JSON, info: NodeInfo, snap: Snapshot) -> bool:
    return not run_filters(pod, info, snap)


def find_preemption(pod: JSON, snap: Snapshot) -> Preemption | None:
    """A node where evicting lower-priority pods lets `pod` fit, with the fewest,
    lowest-priority victims (upstream's DefaultPreemption, simplified): victims are
    removed lowest priority first until the pod fits, then those not needed are
    put back (highest priority first)."""
    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return None
    prio = pod_priority(pod)
    best: tuple[tuple[int, int], Preemption] | None = None
    for info in snap.nodes.values():
        reasons = run_filters(pod, info, snap)
        if not reasons:
            continue
        # Only resource shortage (and anti-affinity from victims) can be cured by eviction.
        if not all(r.startswith("Insufficient") or r == REASON_TOO_MANY_PODS for r in reasons):
            continue
        candidates = sorted(
            (p for p in info.pods.values() if pod_priority(p) < prio),
            key=lambda p: (pod_priority(p), pod_uid(p)),
        )
        if not candidates:
            continue
        trial = NodeInfo(node=info.node)
        for p in info.pods.values():
            trial.add_pod(p)
        removed: list[JSON] = []
        trial_snap = Snapshot(nodes={**snap.nodes, info.name: trial})
        for victim in candidates:
            trial.remove_pod(pod_uid(victim))
            removed.append(victim)
            if _passes_without(pod, trial, trial_snap):
                break
        else:
            continue
        # Reprieve: put back the highest-priority victims that are not needed.
        for victim in sorted(removed, key=lambda p: -pod_priority(p)):
            trial.add_pod(victim)
            if _passes_without(pod, trial, trial_snap):
                removed.remove(victim)
            else:
                trial.remove_pod(pod_uid(victim))
        rank = (max(pod_priority(v) for v in removed), len(removed))
        if best is None or rank < best[0]:
            best = (rank, Preemption(node=info.name, victims=removed))
    return best[1] if best else None
