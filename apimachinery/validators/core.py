"""Validation of core (v1) kinds other than pods: Namespace, Node, Service,
Endpoints, ConfigMap, Secret, Event, ServiceAccount, ResourceQuota,
LimitRange, PersistentVolumeClaim and PersistentVolume."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from apimachinery import names, quantity
from apimachinery.fielderrors import ErrorList, key, path, show
from apimachinery.validators.common import (
    JSON,
    as_dict,
    as_list,
    dicts,
    non_negative,
    supported,
    validate_label_selector,
    validate_labels,
    validate_resource_list,
)
from apimachinery.validators.pods import PROTOCOLS, TAINT_EFFECTS, validate_node_selector

MAX_DATA_SIZE = 1024 * 1024
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def validate_namespace(obj: JSON, errs: ErrorList) -> None:
    for i, fin in enumerate(as_list(as_dict(obj.get("spec")).get("finalizers"))):
        for msg in names.qualified_name_errors(str(fin)):
            errs.invalid(path("spec", "finalizers", i), fin, msg)


def validate_node(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(dicts(spec.get("taints"))):
        p = path("spec", "taints", i)
        k = taint.get("key")
        if not k:
            errs.required(path(p, "key"))
        else:
            for msg in names.qualified_name_errors(str(k)):
                errs.invalid(path(p, "key"), k, msg)
        for msg in names.label_value_errors(str(taint.get("value") or "")):
            errs.invalid(path(p, "value"), taint.get("value"), msg)
        effect = taint.get("effect")
        if not effect:
            errs.required(path(p, "effect"))
        else:
            supported(effect, path(p, "effect"), TAINT_EFFECTS, errs)
        pair = (str(k), str(effect))
        if pair in seen:
            errs.duplicate(p, f"{k}:{effect}")
        seen.add(pair)
    status = as_dict(obj.get("status"))
    validate_resource_list(status.get("capacity"), "status.capacity", errs, check_names=False)
    validate_resource_list(status.get("allocatable"), "status.allocatable", errs, check_names=False)


def _service_port_name(name: Any, fld: str, errs: ErrorList) -> None:
    for msg in names.dns1123_label_errors(str(name)):
        errs.invalid(fld, name, msg)


def validate_service(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    stype = spec.get("type")
    supported(stype, "spec.type", SERVICE_TYPES, errs)
    supported(spec.get("sessionAffinity"), "spec.sessionAffinity", ("ClientIP", "None"), errs)
    ports = dicts(spec.get("ports"))
    headless = spec.get("clusterIP") == "None"
    if stype == "ExternalName":
        ext = spec.get("externalName")
        if not ext:
            errs.required("spec.externalName")
        else:
            for msg in names.dns1123_subdomain_errors(str(ext).rstrip(".")):
                errs.invalid("spec.externalName", ext, msg)
    elif not ports and not headless:
        errs.required("spec.ports")
    seen_names: set[str] = set()
    seen_ports: set[tuple[int, str]] = set()
    for i, port in enumerate(ports):
        p = path("spec", "ports", i)
        name = port.get("name")
        if len(ports) > 1 and not name:
            errs.required(path(p, "name"))
        if name:
            _service_port_name(name, path(p, "name"), errs)
            if name in seen_names:
                errs.duplicate(path(p, "name"), name)
            seen_names.add(str(name))
        number = port.get("port")
        if number is None:
            errs.required(path(p, "port"))
        else:
            for msg in names.port_number_errors(number):
                errs.invalid(path(p, "port"), number, msg)
        protocol = port.get("protocol")
        if protocol is None:
            errs.required(path(p, "protocol"))
        else:
            supported(protocol, path(p, "protocol"), PROTOCOLS, errs)
        if isinstance(number, int) and isinstance(protocol, str):
            if (number, protocol) in seen_ports:
                errs.duplicate(p, {"port": number, "protocol": protocol})
            seen_ports.add((number, protocol))
        target = port.get("targetPort")
        if isinstance(target, int):
            for msg in names.port_number_errors(target):
                errs.invalid(path(p, "targetPort"), target, msg)
        elif isinstance(target, str) and not target.isdigit():
            for msg in names.port_name_errors(target):
                errs.invalid(path(p, "targetPort"), target, msg)
        node_port = port.get("nodePort")
        if node_port:
            if stype == "ClusterIP":
                errs.forbidden(path(p, "nodePort"), "may not be used when `type` is 'ClusterIP'")
            elif isinstance(node_port, int):
                for msg in names.port_number_errors(node_port):
                    errs.invalid(path(p, "nodePort"), node_port, msg)
    cluster_ip = spec.get("clusterIP")
    if cluster_ip and cluster_ip != "None":
        for msg in names.ip_errors(str(cluster_ip)):
            errs.invalid("spec.clusterIP", cluster_ip, msg)
    if stype == "ExternalName" and cluster_ip:
        errs.forbidden("spec.clusterIP", "may not be set for ExternalName services")
    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        for msg in names.ip_errors(str(ip)):
            errs.invalid(path("spec", "externalIPs", i), ip, msg)
    validate_labels(spec.get("selector"), "spec.selector", errs)
    for policy in ("externalTrafficPolicy", "internalTrafficPolicy"):
        supported(spec.get(policy), path("spec", policy), ("Cluster", "Local"), errs)
    if spec.get("externalTrafficPolicy") and stype not in ("NodePort", "LoadBalancer"):
        errs.invalid(
            "spec.externalTrafficPolicy",
            spec["externalTrafficPolicy"],
            "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
        )
    timeout = as_dict(as_dict(spec.get("sessionAffinityConfig")).get("clientIP")).get(
        "timeoutSeconds"
    )
    if isinstance(timeout, int) and not 0 < timeout <= 86400:
        errs.invalid(
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            timeout,
            "must be greater than 0 and less than 86400",
        )


def validate_service_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    a = as_dict(new.get("spec")).get("clusterIP")
    b = as_dict(old.get("spec")).get("clusterIP")
    if b and a != b and as_dict(new.get("spec")).get("type") != "ExternalName":
        errs.immutable("spec.clusterIP", a or "")


def validate_endpoints(obj: JSON, errs: ErrorList) -> None:
    for i, subset in enumerate(dicts(obj.get("subsets"))):
        sp = path("subsets", i)
        for kind in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(dicts(subset.get(kind))):
                ip = addr.get("ip")
                if not ip:
                    errs.required(path(sp, kind, j, "ip"))
                else:
                    for msg in names.ip_errors(str(ip)):
                        errs.invalid(path(sp, kind, j, "ip"), ip, msg)
                hostname = addr.get("hostname")
                if hostname:
                    for msg in names.dns1123_label_errors(str(hostname)):
                        errs.invalid(path(sp, kind, j, "hostname"), hostname, msg)
        ports = dicts(subset.get("ports"))
        for j, port in enumerate(ports):
            pp = path(sp, "ports", j)
            if len(ports) > 1 and not port.get("name"):
                errs.required(path(pp, "name"))
            if port.get("name"):
                _service_port_name(port["name"], path(pp, "name"), errs)
            number = port.get("port")
            if number is None:
                errs.required(path(pp, "port"))
            else:
                for msg in names.port_number_errors(number):
                    errs.invalid(path(pp, "port"), number, msg)
            supported(port.get("protocol"), path(pp, "protocol"), PROTOCOLS, errs)


def _data_keys(data: Any, fld: str, errs: ErrorList) -> int:
    size = 0
    for k, v in as_dict(data).items():
        for msg in names.config_key_errors(k):
            errs.invalid(key(fld, k), k, msg)
        size += len(k) + len(str(v))
    return size


def validate_configmap(obj: JSON, errs: ErrorList) -> None:
    size = _data_keys(obj.get("data"), "data", errs)
    size += _data_keys(obj.get("binaryData"), "binaryData", errs)
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    for k in data:
        if k in binary:
            errs.invalid(key("data", k), k, "duplicate of key present in binaryData")
    if size > MAX_DATA_SIZE:
        errs.too_long("[]", MAX_DATA_SIZE)


def _immutable_data(new: JSON, old: JSON, errs: ErrorList, fields: tuple[str, ...]) -> None:
    if old.get("immutable") is not True:
        return
    for f in fields:
        if new.get(f) != old.get(f):
            errs.forbidden(f, "field is immutable when `immutable` is set")
    if new.get("immutable") is not True:
        errs.forbidden("immutable", "field is immutable when `immutable` is set")


def validate_configmap_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    _immutable_data(new, old, errs, ("data", "binaryData"))


def decode_secret_data(obj: JSON) -> str | None:
    """The decoding error of a Secret's data (upstream's 400 wording), or None."""
    for v in as_dict(obj.get("data")).values():
        if not isinstance(v, str):
            continue
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            return f"illegal base64 data at input byte {_bad_base64_offset(v)}"
    return None


def _bad_base64_offset(value: str) -> int:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, c in enumerate(value):
        if c == "=":
            return i if (len(value) % 4 or i < len(value) - 2) else len(value)
        if c not in alphabet:
            return i
    return len(value) - len(value) % 4


_SECRET_REQUIRED = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def validate_secret(obj: JSON, errs: ErrorList) -> None:
    size = _data_keys(obj.get("data"), "data", errs)
    data = as_dict(obj.get("data"))
    stype = obj.get("type") or "Opaque"
    for required in _SECRET_REQUIRED.get(str(stype), ()):
        if required not in data:
            errs.required(key("data", required))
    if stype == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        errs.required("data[username]", "must have at least one of username or password")
    if stype == "kubernetes.io/service-account-token":
        annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.required("metadata.annotations[kubernetes.io/service-account.name]")
    if size > MAX_DATA_SIZE:
        errs.too_long("data", MAX_DATA_SIZE)


def validate_secret_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    if (new.get("type") or "Opaque") != (old.get("type") or "Opaque"):
        errs.immutable("type", new.get("type"))
    _immutable_data(new, old, errs, ("data",))


def validate_event(obj: JSON, errs: ErrorList) -> None:
    involved = as_dict(obj.get("involvedObject"))
    ns = as_dict(obj.get("metadata")).get("namespace")
    ins = involved.get("namespace")
    if ins and ns and ins != ns:
        errs.invalid("involvedObject.namespace", ins, "does not match event.namespace")
    supported(obj.get("type"), "type", ("Normal", "Warning"), errs)
    count = obj.get("count")
    non_negative(count, "count", errs)


def validate_serviceaccount(obj: JSON, errs: ErrorList) -> None:
    for i, ref in enumerate(dicts(obj.get("imagePullSecrets"))):
        if not ref.get("name"):
            errs.required(path("imagePullSecrets", i, "name"))


def _quota_list(resources: Any, fld: str, errs: ErrorList) -> None:
    validate_resource_list(resources, fld, errs, check_names=False)


def validate_resourcequota(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    _quota_list(spec.get("hard"), "spec.hard", errs)
    status = as_dict(obj.get("status"))
    _quota_list(status.get("hard"), "status.hard", errs)
    _quota_list(status.get("used"), "status.used", errs)
    scopes = (
        "Terminating",
        "NotTerminating",
        "BestEffort",
        "NotBestEffort",
        "PriorityClass",
        "CrossNamespacePodAffinity",
    )
    for i, scope in enumerate(as_list(spec.get("scopes"))):
        supported(scope, path("spec", "scopes", i), scopes, errs)


def validate_limitrange(obj: JSON, errs: ErrorList) -> None:
    for i, item in enumerate(dicts(as_dict(obj.get("spec")).get("limits"))):
        p = path("spec", "limits", i)
        itype = item.get("type")
        if not itype:
            errs.required(path(p, "type"))
        else:
            supported(itype, path(p, "type"), ("Container", "Pod", "PersistentVolumeClaim"), errs)
        parsed = {
            k: validate_resource_list(item.get(k), path(p, k), errs, check_names=False)
            for k in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
        }
        if itype == "Pod":
            for k in ("default", "defaultRequest"):
                if parsed[k]:
                    errs.forbidden(path(p, k), "may not be specified when `type` is 'Pod'")
        for name, lo in parsed["min"].items():
            hi = parsed["max"].get(name)
            if hi is not None and lo > hi:
                errs.invalid(
                    key(path(p, "min"), name),
                    str(item["min"][name]),
                    f"min value {item['min'][name]} is greater than max value {item['max'][name]}",
                )
        for name, value in parsed["default"].items():
            hi = parsed["max"].get(name)
            if hi is not None and value > hi:
                errs.invalid(
                    key(path(p, "default"), name),
                    str(item["default"][name]),
                    f"default value {item['default'][name]} is greater than max value "
                    f"{item['max'][name]}",
                )


def validate_pvc_spec(spec: JSON, fld: str, errs: ErrorList) -> None:
    modes = as_list(spec.get("accessModes"))
    if not modes:
        errs.required(path(fld, "accessModes"), "at least 1 access mode is required")
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.not_supported(path(fld, "accessModes"), mode, ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.forbidden(
            path(fld, "accessModes"), "may not use ReadWriteOncePod with other access modes"
        )
    if spec.get("selector") is not None:
        validate_label_selector(spec["selector"], path(fld, "selector"), errs)
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.required(key(path(fld, "resources"), "storage"))
    else:
        parsed = validate_resource_list(
            requests, path(fld, "resources", "requests"), errs, check_names=False
        )
        if "storage" in parsed and parsed["storage"] == 0:
            errs.invalid(
                key(path(fld, "resources", "requests"), "storage"),
                str(requests["storage"]),
                "must be greater than zero",
            )
    supported(spec.get("volumeMode"), path(fld, "volumeMode"), ("Block", "Filesystem"), errs)


def validate_pvc(obj: JSON, errs: ErrorList) -> None:
    validate_pvc_spec(as_dict(obj.get("spec")), "spec", errs)


def validate_pvc_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    a = dict(as_dict(new.get("spec")))
    b = dict(as_dict(old.get("spec")))
    for s in (a, b):
        s.pop("resources", None)
        s.pop("volumeAttributesClassName", None)
    if not b.get("volumeName"):
        a.pop("volumeName", None)
        b.pop("volumeName", None)
    if a != b:
        errs.forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims",
        )
    new_storage = as_dict(as_dict(as_dict(new.get("spec")).get("resources")).get("requests")).get(
        "storage"
    )
    old_storage = as_dict(as_dict(as_dict(old.get("spec")).get("resources")).get("requests")).get(
        "storage"
    )
    if new_storage is not None and old_storage is not None:
        try:
            if quantity.compare(new_storage, old_storage) < 0:
                errs.forbidden(
                    "spec.resources.requests.storage", "field can not be less than status.capacity"
                )
        except quantity.QuantityError:
            pass


_PV_SOURCES = (
    "hostPath",
    "local",
    "nfs",
    "csi",
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
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


def validate_pv(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    capacity = as_dict(spec.get("capacity"))
    if "storage" not in capacity:
        errs.required("spec.capacity", f"must specify {show('storage')}")
    validate_resource_list(capacity, "spec.capacity", errs, check_names=False)
    modes = as_list(spec.get("accessModes"))
    if not modes:
        errs.required("spec.accessModes")
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.not_supported("spec.accessModes", mode, ACCESS_MODES)
    supported(
        spec.get("persistentVolumeReclaimPolicy"),
        "spec.persistentVolumeReclaimPolicy",
        ("Delete", "Recycle", "Retain"),
        errs,
    )
    present = [s for s in _PV_SOURCES if spec.get(s) is not None]
    if not present:
        errs.required("spec", "must specify a volume type")
    elif len(present) > 1:
        errs.forbidden(path("spec", present[1]), "may not specify more than 1 volume type")
    if "local" in present and spec.get("nodeAffinity") is None:
        errs.required("spec.nodeAffinity", "Local volume requires node affinity")
    if "hostPath" in present and not as_dict(spec.get("hostPath")).get("path"):
        errs.required("spec.hostPath.path")
    affinity = as_dict(spec.get("nodeAffinity"))
    if affinity.get("required") is not None:
        validate_node_selector(as_dict(affinity["required"]), "spec.nodeAffinity.required", errs)


def validate_pv_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    for f in ("hostPath", "local", "nfs", "csi"):
        a = as_dict(new.get("spec")).get(f)
        b = as_dict(old.get("spec")).get(f)
        if a != b:
            errs.forbidden(
                path("spec", f), "spec.persistentvolumesource is immutable after creation"
            )
