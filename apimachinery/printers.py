"""Server-side printing: the `Table` objects `kubectl get` shows.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints
the cells the server sends, so the columns here are upstream's (pkg/printers/
internalversion): `kubectl get pods` shows NAME READY STATUS RESTARTS AGE, and
IP NODE NOMINATED NODE READINESS GATES with `-o wide` (priority 1 columns).
A kind without a printer gets NAME AGE.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

JSON = dict[str, Any]
Column = tuple[str, str, int, str]  # name, type, priority, description
Row = list[Any]

_NAME: Column = ("Name", "string", 0, "Name must be unique within a namespace.")
_AGE: Column = ("Age", "string", 0, "CreationTimestamp is a timestamp of creation.")


def _parse_time(value: Any) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except (TypeError, ValueError):
        return None


def human_duration(seconds: float) -> str:
    """Upstream's duration.HumanDuration: 5s, 3m20s, 5h, 2d3h, 45d, 3y..."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24
        rest = days % 365
        return f"{days // 365}y{rest}d" if rest else f"{days // 365}y"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None, now: datetime.datetime | None = None) -> str:
    t = _parse_time(timestamp or "")
    if t is None:
        return "<unknown>"
    now = now or datetime.datetime.now(datetime.UTC)
    return human_duration((now - t).total_seconds())


def _meta(obj: JSON) -> JSON:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _age(obj: JSON) -> str:
    return age(_meta(obj).get("creationTimestamp"))


def _join(values: list[str], empty: str = "<none>") -> str:
    return ",".join(values) if values else empty


def _selector(sel: Any) -> str:
    if not isinstance(sel, dict):
        return "<none>"
    labels = (
        sel.get("matchLabels", sel) if "matchLabels" in sel or "matchExpressions" in sel else sel
    )
    parts = [f"{k}={v}" for k, v in (labels or {}).items() if isinstance(v, str)]
    for expr in sel.get("matchExpressions") or []:
        op = str(expr.get("operator", "")).lower()
        vals = ",".join(expr.get("values") or [])
        key = expr.get("key", "")
        if op in ("in", "notin"):
            parts.append(f"{key} {op} ({vals})")
        elif op == "exists":
            parts.append(key)
        else:
            parts.append(f"!{key}")
    return _join(parts)


def _containers(spec: JSON) -> tuple[str, str]:
    cs = spec.get("containers") or []
    return _join([c.get("name", "") for c in cs]), _join([c.get("image", "") for c in cs])


# --- pods ---------------------------------------------------------------------


def pod_status_reason(pod: JSON) -> str:
    """The STATUS column: upstream's printPod logic, simplified."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    spec = pod.get("spec") or {}
    init_specs = spec.get("initContainers") or []
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        term = state.get("terminated")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif (state.get("waiting") or {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif state.get("terminated"):
                term = state["terminated"]
                reason = (
                    f"Signal:{term['signal']}"
                    if term.get("signal")
                    else f"ExitCode:{term.get('exitCode')}"
                )
            elif state.get("running") and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or []
            )
            reason = "Running" if ready else "NotReady"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return str(reason)


def _pod_row(pod: JSON) -> Row:
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    statuses = status.get("containerStatuses") or []
    total = len(spec.get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    restarts_text = str(restarts)
    last: datetime.datetime | None = None
    for c in statuses:
        finished = _parse_time(
            ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        )
        if finished and (last is None or finished > last):
            last = finished
    if restarts and last is not None:
        ago = human_duration((datetime.datetime.now(datetime.UTC) - last).total_seconds())
        restarts_text = f"{restarts} ({ago} ago)"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        true_types = {
            c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"
        }
        done = sum(1 for g in gates if g.get("conditionType") in true_types)
        gates_text = f"{done}/{len(gates)}"
    return [
        _meta(pod).get("name", ""),
        f"{ready}/{total}",
        pod_status_reason(pod),
        restarts_text,
        _age(pod),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]


_POD_COLUMNS: list[Column] = [
    _NAME,
    ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
    ("Status", "string", 0, "The aggregate status of the containers in this pod."),
    (
        "Restarts",
        "string",
        0,
        "The number of times the containers in this pod have been restarted.",
    ),
    _AGE,
    ("IP", "string", 1, "IP address allocated to the pod."),
    ("Node", "string", 1, "Name of the Node this pod is scheduled on."),
    ("Nominated Node", "string", 1, "Name of the node nominated for preemption."),
    ("Readiness Gates", "string", 1, "Pod readiness gates."),
]


# --- workloads ----------------------------------------------------------------


def _deployment_row(d: JSON) -> Row:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    tpl = (spec.get("template") or {}).get("spec") or {}
    names, images = _containers(tpl)
    return [
        _meta(d).get("name", ""),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(d),
        names,
        images,
        _selector(spec.get("selector")),
    ]


_WORKLOAD_WIDE: list[Column] = [
    ("Containers", "string", 1, "Names of each container in the template."),
    ("Images", "string", 1, "Images referenced by each container in the template."),
    ("Selector", "string", 1, "Label selector for pods."),
]


def _replicaset_row(rs: JSON) -> Row:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [
        _meta(rs).get("name", ""),
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(rs),
        names,
        images,
        _selector(spec.get("selector")),
    ]


def _statefulset_row(s: JSON) -> Row:
    spec, status = s.get("spec") or {}, s.get("status") or {}
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [
        _meta(s).get("name", ""),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        _age(s),
        names,
        images,
    ]


def _daemonset_row(s: JSON) -> Row:
    spec, status = s.get("spec") or {}, s.get("status") or {}
    tpl = ((spec.get("template") or {}).get("spec")) or {}
    names, images = _containers(tpl)
    node_selector = _join([f"{k}={v}" for k, v in (tpl.get("nodeSelector") or {}).items()])
    return [
        _meta(s).get("name", ""),
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        node_selector,
        _age(s),
        names,
        images,
        _selector(spec.get("selector")),
    ]


def _job_row(j: JSON) -> Row:
    spec, status = j.get("spec") or {}, j.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = "Running"
    if conds.get("Complete") == "True":
        state = "Complete"
    elif conds.get("Failed") == "True":
        state = "Failed"
    elif conds.get("Suspended") == "True":
        state = "Suspended"
    start = _parse_time(status.get("startTime") or "")
    end = _parse_time(status.get("completionTime") or "")
    duration = ""
    if start:
        duration = human_duration(
            ((end or datetime.datetime.now(datetime.UTC)) - start).total_seconds()
        )
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [
        _meta(j).get("name", ""),
        state,
        f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}",
        duration,
        _age(j),
        names,
        images,
        _selector(spec.get("selector")),
    ]


def _cronjob_row(c: JSON) -> Row:
    spec, status = c.get("spec") or {}, c.get("status") or {}
    last = status.get("lastScheduleTime")
    return [
        _meta(c).get("name", ""),
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        str(bool(spec.get("suspend", False))),
        len(status.get("active") or []),
        age(last) if last else "<none>",
        _age(c),
    ]


# --- networking ---------------------------------------------------------------


def _service_ports(spec: JSON) -> str:
    parts = []
    for p in spec.get("ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        parts.append(f"{text}/{p.get('protocol', 'TCP')}")
    return _join(parts)


def _service_row(s: JSON) -> Row:
    spec, status = s.get("spec") or {}, s.get("status") or {}
    type_ = spec.get("type", "ClusterIP")
    external = "<none>"
    ingress = [
        i.get("ip") or i.get("hostname") or ""
        for i in (status.get("loadBalancer") or {}).get("ingress") or []
    ]
    if type_ == "ExternalName":
        external = spec.get("externalName", "<none>")
    elif spec.get("externalIPs") or ingress:
        external = ",".join([*(spec.get("externalIPs") or []), *ingress])
    elif type_ == "LoadBalancer":
        external = "<pending>"
    return [
        _meta(s).get("name", ""),
        type_,
        spec.get("clusterIP") or "<none>",
        external,
        _service_ports(spec),
        _age(s),
        _join([f"{k}={v}" for k, v in (spec.get("selector") or {}).items()]),
    ]


def _endpoints_row(e: JSON) -> Row:
    addrs: list[str] = []
    for subset in e.get("subsets") or []:
        ports = [str(p.get("port")) for p in subset.get("ports") or []] or [""]
        for a in subset.get("addresses") or []:
            for p in ports:
                addrs.append(f"{a.get('ip')}:{p}" if p else str(a.get("ip")))
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_meta(e).get("name", ""), text or "<none>", _age(e)]


def _endpointslice_row(e: JSON) -> Row:
    ports = _join([str(p.get("port")) for p in e.get("ports") or []], "<unset>")
    addrs = [a for ep in e.get("endpoints") or [] for a in ep.get("addresses") or []]
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_meta(e).get("name", ""), e.get("addressType", ""), ports, text or "<unset>", _age(e)]


def _ingress_row(i: JSON) -> Row:
    spec, status = i.get("spec") or {}, i.get("status") or {}
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    addresses = [
        x.get("ip") or x.get("hostname") or ""
        for x in (status.get("loadBalancer") or {}).get("ingress") or []
    ]
    ports = "80, 443" if spec.get("tls") else "80"
    return [
        _meta(i).get("name", ""),
        spec.get("ingressClassName") or "<none>",
        ",".join(hosts) if hosts else "*",
        ",".join(addresses),
        ports,
        _age(i),
    ]


# --- cluster ------------------------------------------------------------------


def _node_row(n: JSON) -> Row:
    spec, status = n.get("spec") or {}, n.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = (
        "Ready" if conds.get("Ready") == "True" else ("NotReady" if "Ready" in conds else "Unknown")
    )
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(
        k.split("/", 1)[1]
        for k in (_meta(n).get("labels") or {})
        if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]
    )
    info = status.get("nodeInfo") or {}
    internal = [
        a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"
    ]
    external = [
        a.get("address") for a in status.get("addresses") or [] if a.get("type") == "ExternalIP"
    ]
    return [
        _meta(n).get("name", ""),
        state,
        _join(roles),
        _age(n),
        info.get("kubeletVersion", ""),
        _join(internal),
        _join(external),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _namespace_row(n: JSON) -> Row:
    return [_meta(n).get("name", ""), (n.get("status") or {}).get("phase", "Active"), _age(n)]


def _configmap_row(c: JSON) -> Row:
    return [
        _meta(c).get("name", ""),
        len(c.get("data") or {}) + len(c.get("binaryData") or {}),
        _age(c),
    ]


def _secret_row(s: JSON) -> Row:
    return [
        _meta(s).get("name", ""),
        s.get("type", "Opaque"),
        len(s.get("data") or {}) + len(s.get("stringData") or {}),
        _age(s),
    ]


def _serviceaccount_row(s: JSON) -> Row:
    return [_meta(s).get("name", ""), len(s.get("secrets") or []), _age(s)]


def _event_row(e: JSON) -> Row:
    last = e.get("lastTimestamp") or e.get("eventTime") or _meta(e).get("creationTimestamp")
    obj = e.get("involvedObject") or {}
    kind = str(obj.get("kind", "")).lower()
    return [
        age(last),
        e.get("type", ""),
        e.get("reason", ""),
        f"{kind}/{obj.get('name', '')}",
        e.get("message", ""),
        (e.get("source") or {}).get("component", "") or e.get("reportingComponent", ""),
        age(e.get("firstTimestamp") or last),
        e.get("count", 1),
        _meta(e).get("name", ""),
    ]


def _lease_row(lease: JSON) -> Row:
    return [
        _meta(lease).get("name", ""),
        (lease.get("spec") or {}).get("holderIdentity", ""),
        _age(lease),
    ]


def _pvc_row(p: JSON) -> Row:
    spec, status = p.get("spec") or {}, p.get("status") or {}
    return [
        _meta(p).get("name", ""),
        status.get("phase", "Pending"),
        spec.get("volumeName", ""),
        (status.get("capacity") or {}).get("storage", ""),
        ",".join(_access_modes(status.get("accessModes") or [])),
        spec.get("storageClassName") or "<unset>",
        "<unset>",
        _age(p),
    ]


def _access_modes(modes: list[str]) -> list[str]:
    short = {
        "ReadWriteOnce": "RWO",
        "ReadOnlyMany": "ROX",
        "ReadWriteMany": "RWX",
        "ReadWriteOncePod": "RWOP",
    }
    return [short.get(m, m) for m in modes]


def _pv_row(p: JSON) -> Row:
    spec, status = p.get("spec") or {}, p.get("status") or {}
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace')}/{ref.get('name')}" if ref else ""
    return [
        _meta(p).get("name", ""),
        (spec.get("capacity") or {}).get("storage", ""),
        ",".join(_access_modes(spec.get("accessModes") or [])),
        spec.get("persistentVolumeReclaimPolicy", "Retain"),
        status.get("phase", ""),
        claim,
        spec.get("storageClassName", ""),
        "<unset>",
        status.get("reason", ""),
        _age(p),
    ]


def _priorityclass_row(p: JSON) -> Row:
    return [
        _meta(p).get("name", ""),
        p.get("value", 0),
        str(bool(p.get("globalDefault", False))).lower(),
        _age(p),
        p.get("preemptionPolicy", "PreemptLowerPriority"),
    ]


def _controllerrevision_row(r: JSON) -> Row:
    owners = [o for o in _meta(r).get("ownerReferences") or [] if o.get("controller")]
    owner = "<none>"
    if owners:
        group = (
            owners[0].get("apiVersion", "").split("/")[0]
            if "/" in owners[0].get("apiVersion", "")
            else ""
        )
        kind = owners[0].get("kind", "")
        owner = (
            f"{kind.lower()}.{group}/{owners[0].get('name')}"
            if group
            else f"{kind.lower()}/{owners[0].get('name')}"
        )
    return [_meta(r).get("name", ""), owner, r.get("revision", 0), _age(r)]


def _resourcequota_row(q: JSON) -> Row:
    status = q.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    text = ", ".join(f"{k}: {used.get(k, '0')}/{v}" for k, v in sorted(hard.items()))
    return [_meta(q).get("name", ""), _age(q), text]


PRINTERS: dict[tuple[str, str], tuple[list[Column], Callable[[JSON], Row]]] = {}


def _register(group: str, resource: str, columns: list[Column], row: Callable[[JSON], Row]) -> None:
    PRINTERS[(group, resource)] = (columns, row)


def _c(name: str, priority: int = 0, type_: str = "string", description: str = "") -> Column:
    return (name, type_, priority, description or name)


_register("", "pods", _POD_COLUMNS, _pod_row)
_register(
    "apps",
    "deployments",
    [
        _NAME,
        _c("Ready", description="Number of the pod with ready state"),
        _c(
            "Up-to-date",
            type_="integer",
            description="Pods with the desired template spec.",
        ),
        _c(
            "Available",
            type_="integer",
            description="Available pods targeted by this deployment.",
        ),
        _AGE,
        *_WORKLOAD_WIDE,
    ],
    _deployment_row,
)
_register(
    "apps",
    "replicasets",
    [
        _NAME,
        _c("Desired", type_="integer"),
        _c("Current", type_="integer"),
        _c("Ready", type_="integer"),
        _AGE,
        *_WORKLOAD_WIDE,
    ],
    _replicaset_row,
)
_register(
    "apps",
    "statefulsets",
    [_NAME, _c("Ready"), _AGE, *_WORKLOAD_WIDE[:2]],
    _statefulset_row,
)
_register(
    "apps",
    "daemonsets",
    [
        _NAME,
        _c("Desired", type_="integer"),
        _c("Current", type_="integer"),
        _c("Ready", type_="integer"),
        _c("Up-to-date", type_="integer"),
        _c("Available", type_="integer"),
        _c("Node Selector"),
        _AGE,
        *_WORKLOAD_WIDE,
    ],
    _daemonset_row,
)
_register(
    "batch",
    "jobs",
    [_NAME, _c("Status"), _c("Completions"), _c("Duration"), _AGE, *_WORKLOAD_WIDE],
    _job_row,
)
_register(
    "batch",
    "cronjobs",
    [
        _NAME,
        _c("Schedule"),
        _c("Timezone"),
        _c("Suspend", type_="boolean"),
        _c("Active", type_="integer"),
        _c("Last Schedule"),
        _AGE,
    ],
    _cronjob_row,
)
_register(
    "",
    "services",
    [
        _NAME,
        _c("Type"),
        _c("Cluster-IP"),
        _c("External-IP"),
        _c("Port(s)"),
        _AGE,
        _c("Selector", 1),
    ],
    _service_row,
)
_register("", "endpoints", [_NAME, _c("Endpoints"), _AGE], _endpoints_row)
_register(
    "discovery.k8s.io",
    "endpointslices",
    [_NAME, _c("AddressType"), _c("Ports"), _c("Endpoints"), _AGE],
    _endpointslice_row,
)
_register(
    "networking.k8s.io",
    "ingresses",
    [_NAME, _c("Class"), _c("Hosts"), _c("Address"), _c("Ports"), _AGE],
    _ingress_row,
)
_register(
    "",
    "nodes",
    [
        _NAME,
        _c("Status"),
        _c("Roles"),
        _AGE,
        _c("Version"),
        _c("Internal-IP", 1),
        _c("External-IP", 1),
        _c("OS-Image", 1),
        _c("Kernel-Version", 1),
        _c("Container-Runtime", 1),
    ],
    _node_row,
)
_register("", "namespaces", [_NAME, _c("Status"), _AGE], _namespace_row)
_register("", "configmaps", [_NAME, _c("Data", type_="integer"), _AGE], _configmap_row)
_register("", "secrets", [_NAME, _c("Type"), _c("Data", type_="integer"), _AGE], _secret_row)
_register("", "serviceaccounts", [_NAME, _c("Secrets", type_="integer"), _AGE], _serviceaccount_row)
_register(
    "",
    "events",
    [
        _c("Last Seen"),
        _c("Type"),
        _c("Reason"),
        _c("Object"),
        _c("Message"),
        _c("Source", 1),
        _c("First Seen", 1),
        _c("Count", 1, "integer"),
        _c("Name", 1),
    ],
    _event_row,
)
_register("coordination.k8s.io", "leases", [_NAME, _c("Holder"), _AGE], _lease_row)
_register(
    "",
    "persistentvolumeclaims",
    [
        _NAME,
        _c("Status"),
        _c("Volume"),
        _c("Capacity"),
        _c("Access Modes"),
        _c("StorageClass"),
        _c("VolumeAttributesClass"),
        _AGE,
    ],
    _pvc_row,
)
_register(
    "",
    "persistentvolumes",
    [
        _NAME,
        _c("Capacity"),
        _c("Access Modes"),
        _c("Reclaim Policy"),
        _c("Status"),
        _c("Claim"),
        _c("StorageClass"),
        _c("VolumeAttributesClass"),
        _c("Reason"),
        _AGE,
    ],
    _pv_row,
)
_register(
    "scheduling.k8s.io",
    "priorityclasses",
    [
        _NAME,
        _c("Value", type_="integer"),
        _c("Global-Default", type_="boolean"),
        _AGE,
        _c("Preemption Policy"),
    ],
    _priorityclass_row,
)
_register(
    "apps",
    "controllerrevisions",
    [_NAME, _c("Controller"), _c("Revision", type_="integer"), _AGE],
    _controllerrevision_row,
)
_register("", "resourcequotas", [_NAME, _AGE, _c("Request")], _resourcequota_row)


def _ingressclass_row(c: JSON) -> Row:
    spec = c.get("spec") or {}
    params = spec.get("parameters") or {}
    text = "<none>"
    if params:
        group = params.get("apiGroup") or ""
        kind = f"{params.get('kind', '')}.{group}" if group else str(params.get("kind", ""))
        text = f"{kind}/{params.get('name', '')}"
    return [_meta(c).get("name", ""), spec.get("controller", ""), text, _age(c)]


def _limitrange_row(r: JSON) -> Row:
    return [_meta(r).get("name", ""), _meta(r).get("creationTimestamp", "")]


_register(
    "networking.k8s.io",
    "ingressclasses",
    [_NAME, _c("Controller"), _c("Parameters"), _AGE],
    _ingressclass_row,
)
_register("", "limitranges", [_NAME, _c("Created At")], _limitrange_row)


# --- RBAC -----------------------------------------------------------------------


def _role_row(r: JSON) -> Row:
    return [_meta(r).get("name", ""), _meta(r).get("creationTimestamp", "")]


def _binding_row(b: JSON) -> Row:
    """NAME ROLE AGE, and with -o wide USERS GROUPS SERVICEACCOUNTS (as upstream's
    SubjectsStrings: service accounts as namespace/name)."""
    ref = b.get("roleRef") or {}
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in b.get("subjects") or []:
        kind, name = subject.get("kind"), str(subject.get("name", ""))
        if kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return [
        _meta(b).get("name", ""),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(b),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


_ROLE_COLUMNS: list[Column] = [
    _NAME,
    ("Created At", "date", 0, "CreationTimestamp is a timestamp of creation."),
]


def _binding_columns(kind: str) -> list[Column]:
    role_ref = (
        "RoleRef can only reference a ClusterRole in the global namespace."
        if kind == "clusterRoleBinding"
        else "RoleRef can reference a Role in the current namespace or a ClusterRole in the "
        "global namespace."
    )
    return [
        _NAME,
        _c("Role", description=role_ref),
        _AGE,
        _c("Users", 1, description=f"Users in the {kind}"),
        _c("Groups", 1, description=f"Groups in the {kind}"),
        _c("ServiceAccounts", 1, description=f"ServiceAccounts in the {kind}"),
    ]


for _resource in ("roles", "clusterroles"):
    _register("rbac.authorization.k8s.io", _resource, _ROLE_COLUMNS, _role_row)
_register(
    "rbac.authorization.k8s.io", "rolebindings", _binding_columns("roleBinding"), _binding_row
)
_register(
    "rbac.authorization.k8s.io",
    "clusterrolebindings",
    _binding_columns("clusterRoleBinding"),
    _binding_row,
)


def _generic_row(obj: JSON) -> Row:
    return [_meta(obj).get("name", ""), _age(obj)]


def columns_and_row(group: str, resource: str) -> tuple[list[Column], Callable[[JSON], Row]]:
    return PRINTERS.get((group, resource), ([_NAME, _AGE], _generic_row))


def column_definitions(columns: list[Column]) -> list[JSON]:
    return [
        {
            "name": name,
            "type": type_,
            "format": "name" if name == "Name" and priority == 0 else "",
            "description": description,
            "priority": priority,
        }
        for name, type_, priority, description in columns
    ]


def partial_metadata(obj: JSON) -> JSON:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": _meta(obj),
    }


def table(
    group: str,
    resource: str,
    objects: list[JSON],
    *,
    list_metadata: JSON | None = None,
    include_object: str = "Metadata",
    no_headers: bool = False,
) -> JSON:
    """A meta.k8s.io/v1 Table of `objects` (one row each)."""
    columns, row = columns_and_row(group, resource)
    rows = []
    for obj in objects:
        entry: JSON = {"cells": row(obj)}
        if include_object == "Object":
            entry["object"] = obj
        elif include_object != "None":
            entry["object"] = partial_metadata(obj)
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata or {},
        "columnDefinitions": [] if no_headers else column_definitions(columns),
        "rows": rows,
    }
