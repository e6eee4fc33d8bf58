"""Merging the cluster's admin kubeconfig into the user's.

The apiserver writes `admin.kubeconfig` (cluster, user and context `kubelab`)
in its cert dir at first start. `kubelab up` and `kubelab kubeconfig --merge`
put those three entries into ~/.kube/config (or the first file of
$KUBECONFIG), replacing older entries of the same names and leaving every
other context alone, and make `kubelab` the current context, so `kubectl`
works at once. The merge is a pure function; only `write` touches the disk.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from kubelab import config

KubeConfig = dict[str, Any]


def empty() -> KubeConfig:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": "",
        "preferences": {},
    }


def _single(admin: KubeConfig, section: str) -> dict[str, Any]:
    entries = admin.get(section) or []
    if not entries:
        raise ValueError(f"the admin kubeconfig has no {section}")
    return dict(entries[0])


def for_context(admin: KubeConfig, *, name: str = config.CONTEXT, server: str = "") -> KubeConfig:
    """The admin kubeconfig renamed to `name` (cluster, user, context), server overridden."""
    cluster = copy.deepcopy(_single(admin, "clusters"))
    user = copy.deepcopy(_single(admin, "users"))
    cluster["name"] = name
    user["name"] = name
    if server:
        cluster.setdefault("cluster", {})["server"] = server
    out = empty()
    out["clusters"] = [cluster]
    out["users"] = [user]
    out["contexts"] = [{"name": name, "context": {"cluster": name, "user": name}}]
    out["current-context"] = name
    return out


def merge(existing: KubeConfig | None, ours: KubeConfig) -> KubeConfig:
    """`existing` with `ours`' entries added (same names replaced) and made current."""
    merged = copy.deepcopy(existing) if existing else empty()
    for section in ("clusters", "users", "contexts"):
        mine = ours.get(section) or []
        names = {entry["name"] for entry in mine}
        kept = [e for e in merged.get(section) or [] if e.get("name") not in names]
        merged[section] = kept + copy.deepcopy(mine)
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    merged["current-context"] = ours["current-context"]
    return merged


def remove(existing: KubeConfig, name: str = config.CONTEXT) -> KubeConfig:
    """`existing` without the entries called `name` (and not current if it was)."""
    out = copy.deepcopy(existing)
    for section in ("clusters", "users", "contexts"):
        out[section] = [e for e in out.get(section) or [] if e.get("name") != name]
    if out.get("current-context") == name:
        out["current-context"] = ""
    return out


def load(path: Path) -> KubeConfig | None:
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text())
    return data if isinstance(data, dict) else None


def write(path: Path, kubeconfig: KubeConfig) -> None:
    """Write atomically, readable by the owner only (it holds a token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kubeconfig-")
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(kubeconfig, f, sort_keys=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def merge_admin(admin_text: str) -> str:
    """Merge the apiserver's admin.kubeconfig as context `kubelab` (server on loopback)
    into the user's kubeconfig and make it current; returns the file's path."""
    admin = yaml.safe_load(admin_text)
    ours = for_context(admin, server=f"https://127.0.0.1:{config.REST_PORT}")
    path = config.kubeconfig_path()
    write(path, merge(load(path), ours))
    return str(path)
