"""Validation of pods and pod templates: containers, ports, env, resources,
probes, volumes, scheduling constraints, and what a pod update may change.

Upstream's `ValidatePodSpec` with its field paths and messages, minus the
checks for features kubelab does not model (Windows, resource claims).
"""

from __future__ import annotations

from typing import Any

from apimachinery import names
from apimachinery.defaults import VOLUME_SOURCES
from apimachinery.fielderrors import ErrorList, path
from apimachinery.validators.common import (
    JSON,
    as_dict,
    as_list,
    dicts,
    non_negative,
    positive,
    supported,
    validate_annotations,
    validate_label_selector,
    validate_labels,
    validate_resource_list,
    validate_resource_requirements,
)

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("SCTP", "TCP", "UDP")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
HOST_PATH_TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)
NODE_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
FIELD_REF_PATHS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
RESOURCE_FIELD_REFS = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)


def _port_ref(value: Any, fld: str, errs: ErrorList) -> None:
    """A probe's or service's target port: a number 1-65535 or an IANA name."""
    if isinstance(value, int):
        for msg in names.port_number_errors(value):
            errs.invalid(fld, value, msg)
    elif isinstance(value, str):
        if value.isdigit():
            return
        for msg in names.port_name_errors(value):
            errs.invalid(fld, value, msg)
    elif value is None:
        errs.required(fld)


def _handler(handler: JSON, fld: str, errs: ErrorList, *, kinds: tuple[str, ...]) -> None:
    present = [k for k in kinds if handler.get(k) is not None]
    if not present:
        errs.required(fld, "must specify a handler type")
        return
    if len(present) > 1:
        errs.forbidden(path(fld, present[1]), "may not specify more than 1 handler type")
    exec_ = as_dict(handler.get("exec"))
    if "exec" in present and not as_list(exec_.get("command")):
        errs.required(path(fld, "exec", "command"))
    http = as_dict(handler.get("httpGet"))
    if "httpGet" in present:
        _port_ref(http.get("port"), path(fld, "httpGet", "port"), errs)
        supported(http.get("scheme"), path(fld, "httpGet", "scheme"), ("HTTP", "HTTPS"), errs)
    tcp = as_dict(handler.get("tcpSocket"))
    if "tcpSocket" in present:
        _port_ref(tcp.get("port"), path(fld, "tcpSocket", "port"), errs)
    grpc = as_dict(handler.get("grpc"))
    if "grpc" in present:
        port = grpc.get("port")
        if port is None:
            errs.required(path(fld, "grpc", "port"))
        else:
            for msg in names.port_number_errors(port):
                errs.invalid(path(fld, "grpc", "port"), port, msg)
    sleep = as_dict(handler.get("sleep"))
    if "sleep" in present:
        non_negative(sleep.get("seconds"), path(fld, "sleep", "seconds"), errs)


def _probe(probe: JSON, fld: str, errs: ErrorList, *, success_must_be_one: bool) -> None:
    _handler(probe, fld, errs, kinds=("exec", "httpGet", "tcpSocket", "grpc"))
    for name in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds"):
        non_negative(probe.get(name), path(fld, name), errs)
    for name in ("successThreshold", "failureThreshold"):
        non_negative(probe.get(name), path(fld, name), errs)
    success = probe.get("successThreshold")
    if success_must_be_one and isinstance(success, int) and success != 1:
        errs.invalid(path(fld, "successThreshold"), success, "must be 1")
    positive(
        probe.get("terminationGracePeriodSeconds"), path(fld, "terminationGracePeriodSeconds"), errs
    )


def _env(env: list[JSON], fld: str, errs: ErrorList) -> None:
    for i, var in enumerate(env):
        p = path(fld, i)
        name = var.get("name")
        if not name:
            errs.required(path(p, "name"))
        else:
            for msg in names.env_var_name_errors(str(name)):
                errs.invalid(path(p, "name"), name, msg)
        source = var.get("valueFrom")
        if source is None:
            continue
        src = as_dict(source)
        sp = path(p, "valueFrom")
        kinds = [
            k
            for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
            if src.get(k) is not None
        ]
        if var.get("value"):
            errs.invalid(sp, "", "may not be specified when `value` is not empty")
        if not kinds:
            errs.invalid(
                sp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, "
                "`configMapKeyRef` or `secretKeyRef`",
            )
            continue
        if len(kinds) > 1:
            errs.invalid(sp, "", "may not have more than one field specified at a time")
            continue
        ref = as_dict(src[kinds[0]])
        rp = path(sp, kinds[0])
        if kinds[0] == "fieldRef":
            fp = ref.get("fieldPath")
            if not fp:
                errs.required(path(rp, "fieldPath"))
            elif not (
                fp in FIELD_REF_PATHS
                or fp.startswith(("metadata.labels['", "metadata.annotations['"))
            ):
                errs.not_supported(path(rp, "fieldPath"), fp, FIELD_REF_PATHS)
        elif kinds[0] == "resourceFieldRef":
            res = ref.get("resource")
            if not res:
                errs.required(path(rp, "resource"))
            else:
                supported(res, path(rp, "resource"), RESOURCE_FIELD_REFS, errs)
        else:
            if not ref.get("key"):
                errs.required(path(rp, "key"))
            else:
                for msg in names.config_key_errors(str(ref["key"])):
                    errs.invalid(path(rp, "key"), ref["key"], msg)
            if not ref.get("name"):
                errs.required(path(rp, "name"))


def _env_from(sources: list[JSON], fld: str, errs: ErrorList) -> None:
    for i, src in enumerate(sources):
        p = path(fld, i)
        kinds = [k for k in ("configMapRef", "secretRef") if src.get(k) is not None]
        if len(kinds) != 1:
            errs.invalid(
                p,
                "",
                "may not have more than one field specified at a time"
                if kinds
                else "must specify one of: `configMapRef` or `secretRef`",
            )
            continue
        ref = as_dict(src[kinds[0]])
        if not ref.get("name"):
            errs.required(path(p, kinds[0], "name"))
        prefix = src.get("prefix")
        if prefix:
            for msg in names.env_var_name_errors(str(prefix)):
                errs.invalid(path(p, "prefix"), prefix, msg)


def _ports(ports: list[JSON], fld: str, errs: ErrorList, *, host_network: bool) -> None:
    seen_names: set[str] = set()
    for i, port in enumerate(ports):
        p = path(fld, i)
        name = port.get("name")
        if name:
            for msg in names.port_name_errors(str(name)):
                errs.invalid(path(p, "name"), name, msg)
            if name in seen_names:
                errs.duplicate(path(p, "name"), name)
            seen_names.add(str(name))
        cp = port.get("containerPort")
        if cp is None or cp == 0:
            errs.required(path(p, "containerPort"))
        else:
            for msg in names.port_number_errors(cp):
                errs.invalid(path(p, "containerPort"), cp, msg)
        hp = port.get("hostPort")
        if hp:
            for msg in names.port_number_errors(hp):
                errs.invalid(path(p, "hostPort"), hp, msg)
        if host_network and hp and cp and hp != cp:
            errs.invalid(
                path(p, "hostPort"), hp, "must match `containerPort` when `hostNetwork` is true"
            )
        protocol = port.get("protocol")
        if protocol is None:
            errs.required(path(p, "protocol"))
        else:
            supported(protocol, path(p, "protocol"), PROTOCOLS, errs)


def _container(
    c: JSON,
    fld: str,
    errs: ErrorList,
    *,
    volumes: set[str],
    init: bool,
    host_network: bool,
) -> None:
    name = c.get("name")
    if not name:
        errs.required(path(fld, "name"))
    else:
        for msg in names.dns1123_label_errors(str(name)):
            errs.invalid(path(fld, "name"), name, msg)
    if not c.get("image"):
        errs.required(path(fld, "image"))
    supported(c.get("imagePullPolicy"), path(fld, "imagePullPolicy"), PULL_POLICIES, errs)
    supported(
        c.get("terminationMessagePolicy"),
        path(fld, "terminationMessagePolicy"),
        TERMINATION_MESSAGE_POLICIES,
        errs,
    )
    _ports(dicts(c.get("ports")), path(fld, "ports"), errs, host_network=host_network)
    _env(dicts(c.get("env")), path(fld, "env"), errs)
    _env_from(dicts(c.get("envFrom")), path(fld, "envFrom"), errs)
    validate_resource_requirements(c.get("resources"), path(fld, "resources"), errs)
    mount_paths: set[str] = set()
    for i, mount in enumerate(dicts(c.get("volumeMounts"))):
        p = path(fld, "volumeMounts", i)
        mname = mount.get("name")
        if not mname:
            errs.required(path(p, "name"))
        elif mname not in volumes:
            errs.not_found(path(p, "name"), mname)
        mpath = mount.get("mountPath")
        if not mpath:
            errs.required(path(p, "mountPath"))
        elif mpath in mount_paths:
            errs.invalid(path(p, "mountPath"), mpath, "must be unique")
        else:
            mount_paths.add(str(mpath))
        sub = mount.get("subPath")
        if sub and (str(sub).startswith("/") or ".." in str(sub).split("/")):
            errs.invalid(path(p, "subPath"), sub, "must be a relative path without '..'")
    restart = c.get("restartPolicy")
    if init:
        supported(restart, path(fld, "restartPolicy"), ("Always",), errs)
    elif restart is not None:
        errs.forbidden(path(fld, "restartPolicy"), "may not be set for non-init containers")
    sidecar = init and restart == "Always"
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = c.get(probe_name)
        if probe is None:
            continue
        if init and not sidecar:
            errs.forbidden(
                path(fld, probe_name),
                "may not be set for init containers without restartPolicy=Always",
            )
            continue
        _probe(
            as_dict(probe),
            path(fld, probe_name),
            errs,
            success_must_be_one=probe_name != "readinessProbe",
        )
    lifecycle = c.get("lifecycle")
    if lifecycle is not None:
        if init and not sidecar:
            errs.forbidden(
                path(fld, "lifecycle"),
                "may not be set for init containers without restartPolicy=Always",
            )
        else:
            for hook in ("postStart", "preStop"):
                h = as_dict(lifecycle).get(hook)
                if h is not None:
                    _handler(
                        as_dict(h),
                        path(fld, "lifecycle", hook),
                        errs,
                        kinds=("exec", "httpGet", "tcpSocket", "sleep"),
                    )
    sc = as_dict(c.get("securityContext"))
    for idf in ("runAsUser", "runAsGroup"):
        non_negative(sc.get(idf), path(fld, "securityContext", idf), errs)
    if sc.get("privileged") is True and sc.get("allowPrivilegeEscalation") is False:
        errs.invalid(
            path(fld, "securityContext"),
            "",
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        )


def _key_to_paths(items: list[JSON], fld: str, errs: ErrorList) -> None:
    for i, item in enumerate(items):
        p = path(fld, i)
        if not item.get("key"):
            errs.required(path(p, "key"))
        _relative_path(item.get("path"), path(p, "path"), errs)
        _mode(item.get("mode"), path(p, "mode"), errs)


def _relative_path(value: Any, fld: str, errs: ErrorList) -> None:
    if not value:
        errs.required(fld)
        return
    text = str(value)
    if text.startswith("/"):
        errs.invalid(fld, text, "must be a relative path")
    if ".." in text.split("/"):
        errs.invalid(fld, text, "must not contain '..'")


def _mode(value: Any, fld: str, errs: ErrorList) -> None:
    if isinstance(value, int) and not 0 <= value <= 0o777:
        errs.invalid(fld, value, "must be a number between 0 and 0777 (octal), both inclusive")


def _volume(v: JSON, fld: str, errs: ErrorList) -> None:
    present = [k for k in VOLUME_SOURCES if v.get(k) is not None]
    if not present:
        errs.required(fld, "must specify a volume type")
        return
    if len(present) > 1:
        errs.forbidden(path(fld, present[1]), "may not specify more than 1 volume type")
        return
    kind = present[0]
    src = as_dict(v[kind])
    p = path(fld, kind)
    if kind == "configMap":
        if not src.get("name"):
            errs.required(path(p, "name"))
        _key_to_paths(dicts(src.get("items")), path(p, "items"), errs)
        _mode(src.get("defaultMode"), path(p, "defaultMode"), errs)
    elif kind == "secret":
        if not src.get("secretName"):
            errs.required(path(p, "secretName"))
        _key_to_paths(dicts(src.get("items")), path(p, "items"), errs)
        _mode(src.get("defaultMode"), path(p, "defaultMode"), errs)
    elif kind == "hostPath":
        if not src.get("path"):
            errs.required(path(p, "path"))
        supported(src.get("type"), path(p, "type"), HOST_PATH_TYPES, errs)
    elif kind == "persistentVolumeClaim":
        if not src.get("claimName"):
            errs.required(path(p, "claimName"))
    elif kind == "emptyDir":
        supported(src.get("medium"), path(p, "medium"), ("", "Memory", "HugePages"), errs)
        validate_resource_list(
            {"sizeLimit": src["sizeLimit"]} if "sizeLimit" in src else {},
            p,
            errs,
            check_names=False,
        )
    elif kind == "downwardAPI":
        for i, item in enumerate(dicts(src.get("items"))):
            _relative_path(item.get("path"), path(p, "items", i, "path"), errs)
        _mode(src.get("defaultMode"), path(p, "defaultMode"), errs)
    elif kind == "projected":
        for i, proj in enumerate(dicts(src.get("sources"))):
            pp = path(p, "sources", i)
            set_ = [k for k in proj if proj[k] is not None]
            if len(set_) > 1:
                errs.forbidden(
                    path(pp, set_[1]), "may not specify more than 1 volume type per source"
                )
            sat = as_dict(proj.get("serviceAccountToken"))
            if proj.get("serviceAccountToken") is not None:
                _relative_path(sat.get("path"), path(pp, "serviceAccountToken", "path"), errs)
                exp = sat.get("expirationSeconds")
                if isinstance(exp, int) and exp < 600:
                    errs.invalid(
                        path(pp, "serviceAccountToken", "expirationSeconds"),
                        exp,
                        "may not specify a duration less than 10 minutes",
                    )
        _mode(src.get("defaultMode"), path(p, "defaultMode"), errs)


def _node_selector_requirement(req: JSON, fld: str, errs: ErrorList, *, field_ref: bool) -> None:
    op = req.get("operator")
    values = as_list(req.get("values"))
    if op in ("In", "NotIn"):
        if not values:
            errs.required(
                path(fld, "values"), "must be specified when `operator` is 'In' or 'NotIn'"
            )
    elif op in ("Exists", "DoesNotExist"):
        if values:
            errs.forbidden(
                path(fld, "values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )
    elif op in ("Gt", "Lt"):
        if len(values) != 1:
            errs.required(
                path(fld, "values"),
                "must be specified single value when `operator` is 'Lt' or 'Gt'",
            )
        elif not str(values[0]).lstrip("-").isdigit():
            errs.invalid(path(fld, "values", 0), values[0], "must be an integer")
    else:
        errs.invalid(path(fld, "operator"), op or "", "not a valid selector operator")
    if field_ref:
        supported(req.get("key"), path(fld, "key"), ("metadata.name",), errs)
    else:
        for msg in names.qualified_name_errors(str(req.get("key", ""))):
            errs.invalid(path(fld, "key"), req.get("key", ""), msg)


def validate_node_selector_term(term: JSON, fld: str, errs: ErrorList) -> None:
    for i, req in enumerate(dicts(term.get("matchExpressions"))):
        _node_selector_requirement(req, path(fld, "matchExpressions", i), errs, field_ref=False)
    for i, req in enumerate(dicts(term.get("matchFields"))):
        _node_selector_requirement(req, path(fld, "matchFields", i), errs, field_ref=True)


def validate_node_selector(selector: JSON, fld: str, errs: ErrorList) -> None:
    terms = dicts(selector.get("nodeSelectorTerms"))
    if not terms:
        errs.required(path(fld, "nodeSelectorTerms"), "must have at least one node selector term")
    for i, term in enumerate(terms):
        validate_node_selector_term(term, path(fld, "nodeSelectorTerms", i), errs)


def _weight(value: Any, fld: str, errs: ErrorList) -> None:
    if not isinstance(value, int) or not 1 <= value <= 100:
        errs.invalid(fld, value, "must be in the range 1-100")


def _pod_affinity_term(term: JSON, fld: str, errs: ErrorList) -> None:
    if term.get("labelSelector") is not None:
        validate_label_selector(term["labelSelector"], path(fld, "labelSelector"), errs)
    if term.get("namespaceSelector") is not None:
        validate_label_selector(term["namespaceSelector"], path(fld, "namespaceSelector"), errs)
    for i, ns in enumerate(as_list(term.get("namespaces"))):
        for msg in names.dns1123_label_errors(str(ns)):
            errs.invalid(path(fld, "namespaces", i), ns, msg)
    tk = term.get("topologyKey")
    if not tk:
        errs.required(path(fld, "topologyKey"), "can not be empty")
    else:
        for msg in names.qualified_name_errors(str(tk)):
            errs.invalid(path(fld, "topologyKey"), tk, msg)


def _affinity(affinity: JSON, fld: str, errs: ErrorList) -> None:
    node = as_dict(affinity.get("nodeAffinity"))
    req = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    np = path(fld, "nodeAffinity")
    if req is not None:
        validate_node_selector(
            as_dict(req), path(np, "requiredDuringSchedulingIgnoredDuringExecution"), errs
        )
    for i, pref in enumerate(dicts(node.get("preferredDuringSchedulingIgnoredDuringExecution"))):
        p = path(np, "preferredDuringSchedulingIgnoredDuringExecution", i)
        _weight(pref.get("weight"), path(p, "weight"), errs)
        validate_node_selector_term(as_dict(pref.get("preference")), path(p, "preference"), errs)
    for kind in ("podAffinity", "podAntiAffinity"):
        pa = as_dict(affinity.get(kind))
        kp = path(fld, kind)
        for i, term in enumerate(dicts(pa.get("requiredDuringSchedulingIgnoredDuringExecution"))):
            _pod_affinity_term(
                term, path(kp, "requiredDuringSchedulingIgnoredDuringExecution", i), errs
            )
        for i, wt in enumerate(dicts(pa.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            p = path(kp, "preferredDuringSchedulingIgnoredDuringExecution", i)
            _weight(wt.get("weight"), path(p, "weight"), errs)
            _pod_affinity_term(as_dict(wt.get("podAffinityTerm")), path(p, "podAffinityTerm"), errs)


def validate_tolerations(tolerations: list[JSON], fld: str, errs: ErrorList) -> None:
    for i, t in enumerate(tolerations):
        p = path(fld, i)
        k = t.get("key")
        op = t.get("operator") or "Equal"
        if k:
            for msg in names.qualified_name_errors(str(k)):
                errs.invalid(path(p, "key"), k, msg)
        elif op != "Exists":
            errs.invalid(
                path(p, "operator"),
                op,
                "operator must be Exists when `key` is empty, which means "
                '"match all values and all keys"',
            )
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            errs.invalid(
                path(p, "effect"),
                t.get("effect") or "",
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        if op == "Equal":
            for msg in names.label_value_errors(str(t.get("value") or "")):
                errs.invalid(path(p, "value"), t.get("value"), msg)
        elif op == "Exists":
            if t.get("value"):
                errs.invalid(
                    path(p, "operator"),
                    t.get("value"),
                    "value must be empty when `operator` is 'Exists'",
                )
        else:
            errs.not_supported(path(p, "operator"), op, ("Equal", "Exists"))
        if t.get("effect"):
            supported(t.get("effect"), path(p, "effect"), TAINT_EFFECTS, errs)


def _topology_spread(constraints: list[JSON], fld: str, errs: ErrorList) -> None:
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints):
        p = path(fld, i)
        skew = c.get("maxSkew")
        if not isinstance(skew, int) or skew <= 0:
            errs.invalid(path(p, "maxSkew"), skew, "must be greater than zero")
        tk = c.get("topologyKey")
        if not tk:
            errs.required(path(p, "topologyKey"), "can not be empty")
        when = c.get("whenUnsatisfiable")
        if when is None:
            errs.required(path(p, "whenUnsatisfiable"))
        else:
            supported(when, path(p, "whenUnsatisfiable"), ("DoNotSchedule", "ScheduleAnyway"), errs)
        pair = (str(tk), str(when))
        if pair in seen:
            errs.duplicate(path(p, "{topologyKey, whenUnsatisfiable}"), f"{{{tk}, {when}}}")
        seen.add(pair)
        min_domains = c.get("minDomains")
        if min_domains is not None:
            positive(min_domains, path(p, "minDomains"), errs)
        if c.get("labelSelector") is not None:
            validate_label_selector(c["labelSelector"], path(p, "labelSelector"), errs)
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            supported(c.get(policy), path(p, policy), ("Honor", "Ignore"), errs)


def validate_pod_spec(
    spec: JSON, fld: str, errs: ErrorList, *, restart_policies: tuple[str, ...] = RESTART_POLICIES
) -> None:
    volumes: set[str] = set()
    for i, v in enumerate(dicts(spec.get("volumes"))):
        p = path(fld, "volumes", i)
        vname = v.get("name")
        if not vname:
            errs.required(path(p, "name"))
        else:
            for msg in names.dns1123_label_errors(str(vname)):
                errs.invalid(path(p, "name"), vname, msg)
            if vname in volumes:
                errs.duplicate(path(p, "name"), vname)
            volumes.add(str(vname))
        _volume(v, p, errs)
    host_network = spec.get("hostNetwork") is True
    containers = dicts(spec.get("containers"))
    if not containers:
        errs.required(path(fld, "containers"))
    seen: set[str] = set()
    for kind, init in (("initContainers", True), ("containers", False)):
        for i, c in enumerate(dicts(spec.get(kind))):
            p = path(fld, kind, i)
            _container(c, p, errs, volumes=volumes, init=init, host_network=host_network)
            cname = c.get("name")
            if cname:
                if cname in seen:
                    errs.duplicate(path(p, "name"), cname)
                seen.add(str(cname))
    restart = spec.get("restartPolicy")
    if restart is None:
        errs.required(
            path(fld, "restartPolicy"),
            "valid values: " + ", ".join(f'"{r}"' for r in restart_policies),
        )
    elif restart not in restart_policies:
        errs.not_supported(path(fld, "restartPolicy"), restart, restart_policies)
    dns = spec.get("dnsPolicy")
    supported(dns, path(fld, "dnsPolicy"), DNS_POLICIES, errs)
    if dns == "None" and not as_list(as_dict(spec.get("dnsConfig")).get("nameservers")):
        errs.required(path(fld, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None")
    non_negative(
        spec.get("terminationGracePeriodSeconds"), path(fld, "terminationGracePeriodSeconds"), errs
    )
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and not 1 <= ads <= 2147483647:
        errs.invalid(
            path(fld, "activeDeadlineSeconds"), ads, "must be between 1 and 2147483647, inclusive"
        )
    validate_labels(spec.get("nodeSelector"), path(fld, "nodeSelector"), errs)
    for name_field, fn in (
        ("hostname", names.dns1123_label_errors),
        ("subdomain", names.dns1123_label_errors),
        ("serviceAccountName", names.dns1123_subdomain_errors),
        ("nodeName", names.dns1123_subdomain_errors),
        ("priorityClassName", names.dns1123_subdomain_errors),
        ("schedulerName", names.dns1123_subdomain_errors),
    ):
        value = spec.get(name_field)
        if value:
            for msg in fn(str(value)):
                errs.invalid(path(fld, name_field), value, msg)
    affinity = spec.get("affinity")
    if affinity is not None:
        _affinity(as_dict(affinity), path(fld, "affinity"), errs)
    validate_tolerations(dicts(spec.get("tolerations")), path(fld, "tolerations"), errs)
    _topology_spread(
        dicts(spec.get("topologySpreadConstraints")), path(fld, "topologySpreadConstraints"), errs
    )
    sc = as_dict(spec.get("securityContext"))
    for idf in ("runAsUser", "runAsGroup", "fsGroup"):
        non_negative(sc.get(idf), path(fld, "securityContext", idf), errs)
    for i, g in enumerate(as_list(sc.get("supplementalGroups"))):
        non_negative(g, path(fld, "securityContext", "supplementalGroups", i), errs)
    validate_resource_list(spec.get("overhead"), path(fld, "overhead"), errs)
    for i, alias in enumerate(dicts(spec.get("hostAliases"))):
        for msg in names.ip_errors(str(alias.get("ip", ""))):
            errs.invalid(path(fld, "hostAliases", i, "ip"), alias.get("ip", ""), msg)
    for i, gate in enumerate(dicts(spec.get("readinessGates"))):
        for msg in names.qualified_name_errors(str(gate.get("conditionType", ""))):
            errs.invalid(
                path(fld, "readinessGates", i, "conditionType"), gate.get("conditionType", ""), msg
            )


def validate_pod_template(
    template: Any,
    fld: str,
    errs: ErrorList,
    *,
    restart_policies: tuple[str, ...] = RESTART_POLICIES,
) -> None:
    """A PodTemplateSpec inside a workload: labels, annotations and the pod spec."""
    if not isinstance(template, dict):
        errs.required(fld)
        return
    meta = as_dict(template.get("metadata"))
    validate_labels(meta.get("labels"), path(fld, "metadata", "labels"), errs)
    validate_annotations(meta.get("annotations"), path(fld, "metadata", "annotations"), errs)
    validate_pod_spec(
        as_dict(template.get("spec")), path(fld, "spec"), errs, restart_policies=restart_policies
    )


def validate_pod(obj: JSON, errs: ErrorList) -> None:
    validate_pod_spec(as_dict(obj.get("spec")), "spec", errs)


def validate_pod_status(obj: JSON, errs: ErrorList) -> None:
    status = as_dict(obj.get("status"))
    supported(
        status.get("phase"),
        "status.phase",
        ("Pending", "Running", "Succeeded", "Failed", "Unknown"),
        errs,
    )
    for field_name in ("podIP", "hostIP"):
        ip = status.get(field_name)
        if ip:
            for msg in names.ip_errors(str(ip)):
                errs.invalid(path("status", field_name), ip, msg)
    nominated = status.get("nominatedNodeName")
    if nominated:
        for msg in names.dns1123_subdomain_errors(str(nominated)):
            errs.invalid("status.nominatedNodeName", nominated, msg)


POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _mutable_view(spec: JSON) -> JSON:
    """The pod spec with the fields an update may change blanked out."""
    view = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations")}
    for kind in ("containers", "initContainers"):
        if kind in view:
            view[kind] = [{k: v for k, v in c.items() if k != "image"} for c in dicts(view[kind])]
    return view


def _spec_diff(old: JSON, new: JSON) -> str:
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"spec.{k}" for k in changed)


def validate_pod_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    a, b = _mutable_view(old_spec), _mutable_view(new_spec)
    if a != b:
        errs.forbidden("spec", f"{POD_UPDATE_FORBIDDEN}\n  changed: {_spec_diff(a, b)}")
    old_tol = dicts(old_spec.get("tolerations"))
    new_tol = dicts(new_spec.get("tolerations"))
    if any(t not in new_tol for t in old_tol):
        errs.forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        )
    old_ads, new_ads = old_spec.get("activeDeadlineSeconds"), new_spec.get("activeDeadlineSeconds")
    if old_ads is not None and (new_ads is None or new_ads > old_ads):
        errs.invalid(
            "spec.activeDeadlineSeconds",
            new_ads,
            "must be less than or equal to previous value"
            if new_ads is not None
            else "must not update from a positive integer to nil value",
        )
