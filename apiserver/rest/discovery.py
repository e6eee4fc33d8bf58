"""Discovery documents: what `kubectl api-resources`, `api-versions` and every
client's REST mapper read (`/api`, `/api/v1`, `/apis`, `/apis/<g>`,
`/apis/<g>/<v>`, `/version`), built from `apimachinery.scheme`.

We serve the legacy (unaggregated) documents: clients that ask for aggregated
discovery (apidiscovery.k8s.io/v2) see a plain JSON content type and fall back
to these, as they do with older servers.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from apimachinery import scheme
from apimachinery.scheme import ResourceType

JSON = dict[str, Any]

VERSION: JSON = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kubelab",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0 (kubelab: python)",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# Subresource -> (verbs, kind, group, version) as upstream's discovery lists them.
_SUBRESOURCES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "status": (("get", "patch", "update"), "", "", ""),
    "scale": (("get", "patch", "update"), "Scale", "autoscaling", "v1"),
    "binding": (("create",), "Binding", "", ""),
    "eviction": (("create",), "Eviction", "policy", "v1"),
    "log": (("get",), "Pod", "", ""),
    "exec": (("create", "get"), "PodExecOptions", "", ""),
    "attach": (("create", "get"), "PodAttachOptions", "", ""),
    "portforward": (("create", "get"), "PodPortForwardOptions", "", ""),
    "proxy": (("create", "delete", "get", "patch", "update"), "", "", ""),
    "ephemeralcontainers": (("get", "patch", "update"), "", "", ""),
    "finalize": (("update",), "", "", ""),
    "token": (("create",), "TokenRequest", "authentication.k8s.io", "v1"),
}


def groups() -> dict[str, list[str]]:
    """Group name -> its versions, in the scheme's order ("" is the core group)."""
    out: dict[str, list[str]] = {}
    for rt in scheme.all_resources():
        versions = out.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)
    return out


def _hash(rt: ResourceType) -> str:
    digest = hashlib.sha256(f"{rt.api_version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def resource_list(group: str, version: str) -> JSON | None:
    """The APIResourceList of one group/version (None when not served)."""
    rts = [r for r in scheme.all_resources() if r.group == group and r.version == version]
    if not rts:
        return None
    resources: list[JSON] = []
    for rt in rts:
        entry: JSON = {
            "name": rt.resource,
            "singularName": rt.singular or rt.kind.lower(),
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        if "list" in rt.verbs:
            entry["storageVersionHash"] = _hash(rt)
        resources.append(entry)
        for sub in rt.subresources:
            verbs, kind, sub_group, sub_version = _SUBRESOURCES.get(sub, (("get",), "", "", ""))
            sub_entry: JSON = {
                "name": f"{rt.resource}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind or rt.kind,
                "verbs": list(verbs),
            }
            if sub_group:
                sub_entry["group"] = sub_group
                sub_entry["version"] = sub_version
            resources.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def api_versions(server_address: str) -> JSON:
    return {
        "kind": "APIVersions",
        "versions": groups().get("", ["v1"]),
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group(name: str) -> JSON | None:
    versions = groups().get(name)
    if not name or not versions:
        return None
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def api_group_list() -> JSON:
    out = []
    for name in groups():
        group = api_group(name)
        if group is not None:
            group.pop("kind")
            group.pop("apiVersion")
            out.append(group)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


def root_paths() -> JSON:
    """`GET /` (what `curl http://localhost:8001` shows through kubectl proxy)."""
    paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/metrics", "/openapi/v2"]
    paths.append("/openapi/v3")
    paths += ["/readyz", "/version"]
    for name, versions in groups().items():
        if name:
            paths.append(f"/apis/{name}")
            paths += [f"/apis/{name}/{v}" for v in versions]
    return {"paths": sorted(paths)}
