"""Upstream's defaults, applied to objects as they are admitted.

What `kubectl get -o yaml` shows for an object that was created from a short
manifest comes from here: `restartPolicy: Always`, `dnsPolicy: ClusterFirst`,
`terminationGracePeriodSeconds: 30`, `imagePullPolicy` from the image tag, a
Service's `targetPort`, a Deployment's 25%/25% rolling update, and so on. The
functions work in place on Kubernetes JSON dicts (already strictly decoded),
only ever fill what is missing, and are idempotent: defaulting an object twice
changes nothing. Quantities are rewritten in canonical form here too, since
upstream stores them that way (`cpu: 0.5` is stored as `cpu: 500m`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any

from apimachinery import quantity

JSON = dict[str, Any]


def _list(obj: JSON, key: str) -> list[JSON]:
    value = obj.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(obj: JSON, key: str) -> JSON:
    value = obj.get(key)
    if not isinstance(value, dict):
        value = {}
        obj[key] = value
    return value


def _sub(obj: JSON, *keys: str) -> JSON | None:
    cur: Any = obj
    for k in keys:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(k)
    return cur if isinstance(cur, dict) else None


# --- quantities -----------------------------------------------------------------


def canonical_resources(resources: Any) -> None:
    """Rewrite every quantity of a ResourceList in place (raises QuantityError)."""
    if not isinstance(resources, dict):
        return
    for name, value in list(resources.items()):
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            resources[name] = quantity.canonical(value)


def _canonical_requirements(req: Any) -> None:
    if isinstance(req, dict):
        canonical_resources(req.get("limits"))
        canonical_resources(req.get("requests"))


# --- pods -----------------------------------------------------------------------


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged image, else IfNotPresent (digests count as tags)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    _default_handler(probe)


def _default_handler(handler: Any) -> None:
    if not isinstance(handler, dict):
        return
    http = handler.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _default_env(env: Iterable[JSON]) -> None:
    for var in env:
        source = var.get("valueFrom")
        if isinstance(source, dict):
            field_ref = source.get("fieldRef")
            if isinstance(field_ref, dict):
                field_ref.setdefault("apiVersion", "v1")
            res = source.get("resourceFieldRef")
            if isinstance(res, dict) and "divisor" in res:
                res["divisor"] = quantity.canonical(res["divisor"])
            elif isinstance(res, dict):
                res["divisor"] = "0"


def default_container(c: JSON, *, host_network: bool = False) -> None:
    image = c.get("image")
    if isinstance(image, str) and image and "imagePullPolicy" not in c:
        c["imagePullPolicy"] = image_pull_policy(image)
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}
    _canonical_requirements(c["resources"])
    for port in _list(c, "ports"):
        port.setdefault("protocol", "TCP")
        if host_network and "hostPort" not in port and "containerPort" in port:
            port["hostPort"] = port["containerPort"]
    _default_env(_list(c, "env"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        _default_handler(lifecycle.get("postStart"))
        _default_handler(lifecycle.get("preStop"))


_VOLUME_SOURCES = (
    "emptyDir",
    "configMap",
    "secret",
    "hostPath",
    "persistentVolumeClaim",
    "projected",
    "downwardAPI",
    "nfs",
    "csi",
    "ephemeral",
    "image",
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "iscsi",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
)
VOLUME_SOURCES = _VOLUME_SOURCES


def _default_volume(v: JSON) -> None:
    if not any(k in v for k in _VOLUME_SOURCES):
        v["emptyDir"] = {}
    for kind in ("configMap", "secret", "downwardAPI", "projected"):
        src = v.get(kind)
        if isinstance(src, dict):
            src.setdefault("defaultMode", 420)
            if kind == "projected":
                for proj in _list(src, "sources"):
                    sat = proj.get("serviceAccountToken")
                    if isinstance(sat, dict):
                        sat.setdefault("expirationSeconds", 3600)
            if kind == "downwardAPI":
                for item in _list(src, "items"):
                    ref = item.get("fieldRef")
                    if isinstance(ref, dict):
                        ref.setdefault("apiVersion", "v1")
    empty = v.get("emptyDir")
    if isinstance(empty, dict) and "sizeLimit" in empty:
        empty["sizeLimit"] = quantity.canonical(empty["sizeLimit"])
    host = v.get("hostPath")
    if isinstance(host, dict):
        host.setdefault("type", "")


def default_pod_spec(spec: JSON, *, restart_policy: bool = True) -> None:
    """Defaults of a PodSpec, for pods and pod templates alike."""
    if restart_policy:
        spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    if "serviceAccount" in spec and "serviceAccountName" not in spec:
        spec["serviceAccountName"] = spec["serviceAccount"]
    host_network = spec.get("hostNetwork") is True
    for c in _list(spec, "initContainers") + _list(spec, "containers"):
        default_container(c, host_network=host_network)
    for v in _list(spec, "volumes"):
        _default_volume(v)
    canonical_resources(spec.get("overhead"))
    _canonical_requirements(spec.get("resources"))


def qos_class(spec: JSON) -> str:
    """Guaranteed, Burstable or BestEffort, as upstream computes it at create."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    any_set = False
    guaranteed = True
    for c in _list(spec, "initContainers") + _list(spec, "containers"):
        res = c.get("resources") or {}
        req = {k: v for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: v for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        if any(quantity.parse_quantity(v) != 0 for v in [*req.values(), *lim.values()]):
            any_set = True
        if set(lim) != {"cpu", "memory"}:
            guaranteed = False
        for name, value in lim.items():
            if name in req and quantity.compare(req[name], value) != 0:
                guaranteed = False
        requests.update(req)
        limits.update(lim)
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def default_pod(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    default_pod_spec(spec)
    # A container with a limit and no request requests its limit.
    for c in _list(spec, "initContainers") + _list(spec, "containers"):
        res = c.get("resources")
        if isinstance(res, dict) and isinstance(res.get("limits"), dict):
            requests = res.setdefault("requests", {})
            for name, value in res["limits"].items():
                requests.setdefault(name, value)
    spec.setdefault("enableServiceLinks", True)
    if spec.get("serviceAccountName"):
        spec.setdefault("serviceAccount", spec["serviceAccountName"])


def _default_template(spec: JSON, *, restart_policy: bool = True) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        default_pod_spec(_dict(template, "spec"), restart_policy=restart_policy)


# --- workloads ------------------------------------------------------------------


def default_deployment(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    strategy = _dict(spec, "strategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = _dict(strategy, "rollingUpdate")
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(spec)


def default_replicaset(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    _default_template(spec)


def default_pvc(obj: JSON, *, status: bool = True) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("volumeMode", "Filesystem")
    resources = spec.get("resources")
    _canonical_requirements(resources)
    if status:
        _dict(obj, "status").setdefault("phase", "Pending")


def default_statefulset(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = _dict(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _dict(strategy, "rollingUpdate").setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    for claim in _list(spec, "volumeClaimTemplates"):
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        default_pvc(claim)
    _default_template(spec)


def default_daemonset(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    strategy = _dict(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = _dict(strategy, "rollingUpdate")
        ru.setdefault("maxUnavailable", 1)
        ru.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _default_template(spec)


def default_job_spec(spec: JSON) -> None:
    if "completions" not in spec and "parallelism" not in spec:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if spec.get("completionMode") == "Indexed" and "backoffLimitPerIndex" in spec:
        spec.pop("backoffLimit", None)
    pod_failure = spec.get("podFailurePolicy")
    spec.setdefault(
        "podReplacementPolicy", "Failed" if isinstance(pod_failure, dict) else "TerminatingOrFailed"
    )
    # A Job's pods may not restart in place: restartPolicy is the user's choice
    # (OnFailure or Never), never defaulted to Always.
    _default_template(spec, restart_policy=False)


def default_job(obj: JSON) -> None:
    default_job_spec(_dict(obj, "spec"))


def default_cronjob(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    # Only the pod template is defaulted here: the Job's own defaults (backoffLimit...)
    # are filled when the CronJob controller creates the Job, as upstream.
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        _default_template(_dict(job_template, "spec"), restart_policy=False)


# --- core -----------------------------------------------------------------------


def default_service(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "ClientIP":
        cfg = _dict(_dict(spec, "sessionAffinityConfig"), "clientIP")
        cfg.setdefault("timeoutSeconds", 10800)
    svc_type = spec["type"]
    for port in _list(spec, "ports"):
        port.setdefault("protocol", "TCP")
        if "targetPort" not in port and "port" in port:
            port["targetPort"] = port["port"]
    if svc_type != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec.get("clusterIP") != "None" or spec.get("selector"):
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("ipFamilies", ["IPv4"])
    if svc_type in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if svc_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if spec.get("clusterIP") and "clusterIPs" not in spec:
        spec["clusterIPs"] = [spec["clusterIP"]]


def default_endpoints(obj: JSON) -> None:
    for subset in _list(obj, "subsets"):
        for port in _list(subset, "ports"):
            port.setdefault("protocol", "TCP")


def default_endpointslice(obj: JSON) -> None:
    for port in _list(obj, "ports"):
        port.setdefault("protocol", "TCP")
        port.setdefault("name", "")


def default_secret(obj: JSON) -> None:
    """type Opaque; stringData is merged into data (base64) and not stored."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = {}
            obj["data"] = data
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def default_namespace(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("finalizers", ["kubernetes"])
    _dict(obj, "status").setdefault("phase", "Active")


def default_node(obj: JSON) -> None:
    status = obj.get("status")
    if isinstance(status, dict):
        canonical_resources(status.get("capacity"))
        canonical_resources(status.get("allocatable"))
        if status.get("capacity") and not status.get("allocatable"):
            status["allocatable"] = dict(status["capacity"])


def default_pv(obj: JSON, *, status: bool = True) -> None:
    spec = _dict(obj, "spec")
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    canonical_resources(spec.get("capacity"))
    host = spec.get("hostPath")
    if isinstance(host, dict):
        host.setdefault("type", "")
    if status:
        _dict(obj, "status").setdefault("phase", "Pending")


def default_resourcequota(obj: JSON) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        canonical_resources(spec.get("hard"))
    status = obj.get("status")
    if isinstance(status, dict):
        canonical_resources(status.get("hard"))
        canonical_resources(status.get("used"))


def default_limitrange(obj: JSON) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for item in _list(spec, "limits"):
        for k in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            canonical_resources(item.get(k))
        if item.get("type") == "Container":
            default = item.setdefault("default", {})
            for name, value in (item.get("max") or {}).items():
                default.setdefault(name, value)
            request = item.setdefault("defaultRequest", {})
            for name, value in default.items():
                request.setdefault(name, value)
            for name, value in (item.get("min") or {}).items():
                request.setdefault(name, value)
            if not default:
                del item["default"]
            if not request:
                del item["defaultRequest"]


def default_priorityclass(obj: JSON) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def default_ingress(obj: JSON) -> None:
    del obj  # Ingress has no defaults upstream beyond what validation requires.


RBAC_GROUP = "rbac.authorization.k8s.io"


def default_rolebinding(obj: JSON) -> None:
    """Role and cluster role bindings: roleRef.apiGroup is RBAC's, a User or Group
    subject's apiGroup too, a ServiceAccount's the core group (left empty)."""
    role_ref = _dict(obj, "roleRef")
    if not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = RBAC_GROUP
    for subject in _list(obj, "subjects"):
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = RBAC_GROUP


DEFAULTERS: dict[tuple[str, str], Callable[[JSON], None]] = {
    ("v1", "Pod"): default_pod,
    ("v1", "Service"): default_service,
    ("v1", "Endpoints"): default_endpoints,
    ("v1", "Secret"): default_secret,
    ("v1", "Namespace"): default_namespace,
    ("v1", "Node"): default_node,
    ("v1", "PersistentVolumeClaim"): default_pvc,
    ("v1", "PersistentVolume"): default_pv,
    ("v1", "ResourceQuota"): default_resourcequota,
    ("v1", "LimitRange"): default_limitrange,
    ("apps/v1", "Deployment"): default_deployment,
    ("apps/v1", "ReplicaSet"): default_replicaset,
    ("apps/v1", "StatefulSet"): default_statefulset,
    ("apps/v1", "DaemonSet"): default_daemonset,
    ("batch/v1", "Job"): default_job,
    ("batch/v1", "CronJob"): default_cronjob,
    ("discovery.k8s.io/v1", "EndpointSlice"): default_endpointslice,
    ("scheduling.k8s.io/v1", "PriorityClass"): default_priorityclass,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): default_rolebinding,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): default_rolebinding,
}


def apply(obj: JSON) -> None:
    """Fill upstream's defaults into `obj` in place, by its apiVersion and kind."""
    fn = DEFAULTERS.get((str(obj.get("apiVersion", "")), str(obj.get("kind", ""))))
    if fn is not None:
        fn(obj)


def pod_template_spec(spec: JSON) -> JSON | None:
    """The PodSpec inside a workload spec (template.spec or jobTemplate.spec.template.spec)."""
    return _sub(spec, "template", "spec") or _sub(spec, "jobTemplate", "spec", "template", "spec")
