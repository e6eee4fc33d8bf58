"""Validation of Ingress, IngressClass, EndpointSlice, Lease, PriorityClass and
SelfSubjectAccessReview."""

from __future__ import annotations

from apimachinery import names
from apimachinery.fielderrors import ErrorList, path
from apimachinery.validators.common import (
    JSON,
    as_dict,
    as_list,
    dicts,
    non_negative,
    supported,
)
from apimachinery.validators.pods import PROTOCOLS

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
MAX_USER_PRIORITY = 1_000_000_000


def _backend(backend: JSON, fld: str, errs: ErrorList) -> None:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        errs.invalid(fld, "", "cannot set both resource and service backends")
        return
    if service is None and resource is None:
        errs.invalid(fld, "", "resource or service backend is required")
        return
    if service is None:
        return
    svc = as_dict(service)
    name = svc.get("name")
    if not name:
        errs.required(path(fld, "service", "name"))
    else:
        for msg in names.dns1035_label_errors(str(name)):
            errs.invalid(path(fld, "service", "name"), name, msg)
    port = as_dict(svc.get("port"))
    pp = path(fld, "service", "port")
    if port.get("name") and port.get("number"):
        errs.invalid(pp, "", "cannot set both port name & port number")
    elif port.get("name"):
        for msg in names.port_name_errors(str(port["name"])):
            errs.invalid(path(pp, "name"), port["name"], msg)
    elif port.get("number") is not None:
        for msg in names.port_number_errors(port["number"]):
            errs.invalid(path(pp, "number"), port["number"], msg)
    else:
        errs.required(pp, "port name or number is required")


def _host(host: str, fld: str, errs: ErrorList) -> None:
    if host.startswith("*"):
        for msg in names.wildcard_subdomain_errors(host):
            errs.invalid(fld, host, msg)
        return
    for msg in names.dns1123_subdomain_errors(host):
        errs.invalid(fld, host, msg)
    try:
        import ipaddress

        ipaddress.ip_address(host)
    except ValueError:
        return
    errs.invalid(fld, host, "must be a DNS name, not an IP address")


def validate_ingress(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    rules = dicts(spec.get("rules"))
    if not rules and spec.get("defaultBackend") is None:
        errs.invalid("spec", "", "either `defaultBackend` or `rules` must be specified")
    if spec.get("defaultBackend") is not None:
        _backend(as_dict(spec["defaultBackend"]), "spec.defaultBackend", errs)
    class_name = spec.get("ingressClassName")
    if class_name:
        for msg in names.dns1123_subdomain_errors(str(class_name)):
            errs.invalid("spec.ingressClassName", class_name, msg)
    for i, rule in enumerate(rules):
        rp = path("spec", "rules", i)
        host = rule.get("host")
        if host:
            _host(str(host), path(rp, "host"), errs)
        http = rule.get("http")
        if http is None:
            continue
        paths = dicts(as_dict(http).get("paths"))
        if not paths:
            errs.required(path(rp, "http", "paths"))
        for j, p in enumerate(paths):
            pp = path(rp, "http", "paths", j)
            ptype = p.get("pathType")
            if ptype is None:
                errs.required(path(pp, "pathType"), "pathType must be specified")
            else:
                supported(ptype, path(pp, "pathType"), PATH_TYPES, errs)
            text = p.get("path")
            if ptype in ("Exact", "Prefix"):
                if not text or not str(text).startswith("/"):
                    errs.invalid(path(pp, "path"), text or "", "must be an absolute path")
                elif "//" in str(text):
                    errs.invalid(path(pp, "path"), text, "must not contain '//'")
            _backend(as_dict(p.get("backend")), path(pp, "backend"), errs)
    for i, tls in enumerate(dicts(spec.get("tls"))):
        for j, host in enumerate(as_list(tls.get("hosts"))):
            _host(str(host), path("spec", "tls", i, "hosts", j), errs)


def validate_ingressclass(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    controller = spec.get("controller")
    if not controller:
        errs.required("spec.controller")
    elif len(str(controller)) > 250:
        errs.too_long("spec.controller", 250)
    params = spec.get("parameters")
    if params is not None:
        p = as_dict(params)
        if not p.get("kind"):
            errs.required("spec.parameters.kind")
        if not p.get("name"):
            errs.required("spec.parameters.name")
        supported(p.get("scope"), "spec.parameters.scope", ("Cluster", "Namespace"), errs)


def validate_ingressclass_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    a = as_dict(new.get("spec")).get("controller")
    b = as_dict(old.get("spec")).get("controller")
    if a != b:
        errs.immutable("spec.controller", a)


def validate_endpointslice(obj: JSON, errs: ErrorList) -> None:
    address_type = obj.get("addressType")
    if not address_type:
        errs.required("addressType")
    else:
        supported(address_type, "addressType", ("IPv4", "IPv6", "FQDN"), errs)
    endpoints = dicts(obj.get("endpoints"))
    if len(endpoints) > 1000:
        errs.too_many("endpoints", len(endpoints), 1000)
    for i, ep in enumerate(endpoints):
        p = path("endpoints", i)
        addresses = as_list(ep.get("addresses"))
        if not addresses:
            errs.required(path(p, "addresses"), "must contain at least 1 address")
        elif len(addresses) > 100:
            errs.too_many(path(p, "addresses"), len(addresses), 100)
        for j, addr in enumerate(addresses):
            if address_type in ("IPv4", "IPv6"):
                for msg in names.ip_errors(str(addr)):
                    errs.invalid(path(p, "addresses", j), addr, msg)
            elif address_type == "FQDN":
                for msg in names.dns1123_subdomain_errors(str(addr)):
                    errs.invalid(path(p, "addresses", j), addr, msg)
        hostname = ep.get("hostname")
        if hostname:
            for msg in names.dns1123_label_errors(str(hostname)):
                errs.invalid(path(p, "hostname"), hostname, msg)
    ports = dicts(obj.get("ports"))
    if len(ports) > 100:
        errs.too_many("ports", len(ports), 100)
    seen: set[str] = set()
    for i, port in enumerate(ports):
        p = path("ports", i)
        name = port.get("name") or ""
        if name:
            for msg in names.dns1123_label_errors(str(name)):
                errs.invalid(path(p, "name"), name, msg)
        if name in seen:
            errs.duplicate(path(p, "name"), name)
        seen.add(str(name))
        supported(port.get("protocol"), path(p, "protocol"), PROTOCOLS, errs)
        number = port.get("port")
        if isinstance(number, int) and not 0 <= number <= 65535:
            errs.invalid(path(p, "port"), number, "must be between 0 and 65535, inclusive")


def validate_endpointslice_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    if new.get("addressType") != old.get("addressType"):
        errs.immutable("addressType", new.get("addressType"))


def validate_lease(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        errs.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    non_negative(spec.get("leaseTransitions"), "spec.leaseTransitions", errs)


def validate_priorityclass(obj: JSON, errs: ErrorList) -> None:
    name = str(as_dict(obj.get("metadata")).get("name") or "")
    value = obj.get("value")
    system = name in ("system-node-critical", "system-cluster-critical")
    if name.startswith("system-") and not system:
        errs.invalid(
            "metadata.name", name, "priority class names with 'system-' prefix are reserved"
        )
    if isinstance(value, int) and value > MAX_USER_PRIORITY and not system:
        errs.forbidden(
            "value", f"maximum allowed value of a user defined priority is {MAX_USER_PRIORITY}"
        )
    supported(
        obj.get("preemptionPolicy"),
        "preemptionPolicy",
        ("Never", "PreemptLowerPriority"),
        errs,
    )


def validate_priorityclass_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    if new.get("value") != old.get("value"):
        errs.forbidden("value", "may not be changed in an update.")
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        errs.immutable("preemptionPolicy", new.get("preemptionPolicy"))


def validate_selfsubjectaccessreview(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    has_resource = spec.get("resourceAttributes") is not None
    has_non_resource = spec.get("nonResourceAttributes") is not None
    if has_resource == has_non_resource:
        errs.invalid(
            "spec.resourceAttributes",
            "",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
