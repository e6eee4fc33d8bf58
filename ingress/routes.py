"""Which backend an HTTP request goes to, from the Ingresses (no I/O).

The routing table is built from every Ingress of our IngressClass, as the
Ingress specification (and ingress-nginx) define it:

- rules match on the request's host: exact, or a `*.example.com` wildcard
  matching exactly one more label; a rule without host matches every host;
- paths: `Exact` matches the path as is; `Prefix` (and
  `ImplementationSpecific`, treated as Prefix) matches by path elements
  (`/foo` matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`); the longest
  matching path wins and, at equal length, Exact beats Prefix;
- a host with its own rules is never served by rules without host;
- `spec.defaultBackend` serves what no rule matches (the oldest Ingress's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

CLASS_NAME = "kubelab"
CONTROLLER = "kubelab.io/ingress-controller"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


@dataclass(frozen=True)
class Backend:
    namespace: str
    service: str
    port_number: int = 0
    port_name: str = ""


@dataclass(frozen=True)
class PathRule:
    path: str
    exact: bool
    backend: Backend
    ingress: str  # ns/name, for logs


def is_ours(ingress: JSON, default_class: bool) -> bool:
    """Whether this Ingress belongs to our controller."""
    spec = ingress.get("spec") or {}
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    class_name = spec.get("ingressClassName") or annotations.get("kubernetes.io/ingress.class")
    if class_name:
        return bool(class_name == CLASS_NAME)
    return default_class


def _backend(namespace: str, spec: JSON | None) -> Backend | None:
    service = (spec or {}).get("service")
    if not service:
        return None
    port = service.get("port") or {}
    return Backend(
        namespace, str(service["name"]), int(port.get("number") or 0), str(port.get("name") or "")
    )


def _path_matches(rule: PathRule, path: str) -> bool:
    if rule.exact:
        return path == rule.path
    prefix = rule.path.rstrip("/")
    if not prefix:
        return True  # "/" matches everything
    return path == prefix or path.startswith(prefix + "/")


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        suffix = pattern[1:]
        head, _, rest = host.partition(".")
        return bool(head) and "." + rest == suffix
    return pattern == host


class RouteTable:
    def __init__(self, ingresses: list[JSON]) -> None:
        self.hosts: dict[str, list[PathRule]] = {}
        self.any_host: list[PathRule] = []
        self.default: Backend | None = None
        ordered = sorted(
            ingresses,
            key=lambda i: (
                (i.get("metadata") or {}).get("creationTimestamp") or "",
                (i.get("metadata") or {}).get("namespace") or "",
                (i.get("metadata") or {}).get("name") or "",
            ),
        )
        for ing in ordered:
            meta = ing.get("metadata") or {}
            namespace = str(meta.get("namespace") or "default")
            key = f"{namespace}/{meta.get('name', '')}"
            spec = ing.get("spec") or {}
            if self.default is None:
                self.default = _backend(namespace, spec.get("defaultBackend"))
            for rule in spec.get("rules") or []:
                host = str(rule.get("host") or "").lower()
                target = self.hosts.setdefault(host, []) if host else self.any_host
                for p in (rule.get("http") or {}).get("paths") or []:
                    backend = _backend(namespace, p.get("backend"))
                    if backend is None:
                        continue
                    target.append(
                        PathRule(
                            str(p.get("path") or "/"),
                            p.get("pathType") == "Exact",
                            backend,
                            key,
                        )
                    )

    def match(self, host: str, path: str) -> Backend | None:
        """The backend for a request, or None (then: 404)."""
        host = host.lower().rsplit(":", 1)[0] if not host.startswith("[") else host.lower()
        rules = self.hosts.get(host)
        if rules is None:
            wildcard = [p for p in self.hosts if p.startswith("*.") and _host_matches(p, host)]
            rules = self.hosts[wildcard[0]] if wildcard else self.any_host
        best: PathRule | None = None
        for rule in rules:
            if not _path_matches(rule, path):
                continue
            length = len(rule.path.rstrip("/")) if not rule.exact else len(rule.path)
            if best is None:
                best = rule
                continue
            best_length = len(best.path.rstrip("/")) if not best.exact else len(best.path)
            if length > best_length or (length == best_length and rule.exact and not best.exact):
                best = rule
        if best is not None:
            return best.backend
        return self.default


def backend_addresses(svc: JSON | None, endpoints: JSON | None, backend: Backend) -> list[str]:
    """`ip:port` of every ready endpoint behind a Service port (sorted)."""
    if svc is None:
        return []
    port_name = None
    for port in (svc.get("spec") or {}).get("ports") or []:
        if (backend.port_number and port.get("port") == backend.port_number) or (
            backend.port_name and port.get("name") == backend.port_name
        ):
            port_name = port.get("name") or ""
            break
    if port_name is None:
        return []
    result = set()
    for subset in (endpoints or {}).get("subsets") or []:
        ports = subset.get("ports") or []
        target = next((p["port"] for p in ports if (p.get("name") or "") == port_name), None)
        if target is None and len(ports) == 1 and not port_name:
            target = ports[0]["port"]
        if target is None:
            continue
        for address in subset.get("addresses") or []:
            result.add(f"{address['ip']}:{int(target)}")
    return sorted(result)
