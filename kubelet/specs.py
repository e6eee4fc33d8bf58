"""From a pod's container spec to a Docker container: env, mounts, security, limits.

Pure translation, no I/O: the caller fetches what a pod refers to (ConfigMaps,
Secrets, the image's user) and passes it in; problems come back as
`ConfigError` with upstream's message, which the kubelet shows as the
container's `CreateContainerConfigError` waiting reason.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apimachinery import quantity
from kubelet import pods as podlib

JSON = dict[str, Any]

# Where the sandbox mounts projected volumes (configMap, secret, downwardAPI), so
# the kubelet can write their files into it with put_archive.
PROJECTED_ROOT = "/kubelab/volumes"

# Fetched objects a pod refers to: ("configmap"|"secret", name) -> object or None.
Objects = Mapping[tuple[str, str], JSON | None]


class ConfigError(Exception):
    """A container that cannot be configured (CreateContainerConfigError)."""


@dataclass
class NodeContext:
    """What a node knows when it creates a pod's containers."""

    node_name: str
    node_ip: str
    network: str
    cluster: str = "kubelab"
    cluster_dns: str = "10.96.0.10"
    cluster_domain: str = "cluster.local"
    service_cidr: str = "10.96.0.0/12"
    pause_image: str = "kubelab/pause:3.9"
    # Docker network mode of hostNetwork pods: the node's namespace (`container:<node
    # container>` in the compose topology, `host` when the kubelet runs on the host).
    host_network_mode: str = "host"
    # Added to every container and volume (tests mark theirs `io.kubelab.test=1`).
    extra_labels: dict[str, str] = field(default_factory=dict)


def pod_meta(pod: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = pod.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", "")), str(meta.get("uid", ""))


def docker_name(pod: Mapping[str, Any], container: str, attempt: int) -> str:
    """`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`, as dockershim named them."""
    ns, name, uid = pod_meta(pod)
    return f"k8s_{container}_{name}_{ns}_{uid}_{attempt}"


def labels(
    pod: Mapping[str, Any], ctx: NodeContext, *, kind: str, container: str, attempt: int
) -> dict[str, str]:
    ns, name, uid = pod_meta(pod)
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    out = {
        **ctx.extra_labels,
        podlib.LABEL_NODE: ctx.node_name,
        podlib.LABEL_CLUSTER: ctx.cluster,
        podlib.LABEL_NAMESPACE: ns,
        podlib.LABEL_POD: name,
        podlib.LABEL_UID: uid,
        podlib.LABEL_CONTAINER: container or "POD",
        podlib.LABEL_KIND: kind,
        podlib.LABEL_ATTEMPT: str(attempt),
        podlib.LABEL_GRACE: str(30 if grace is None else grace),
    }
    return out


def volume_name(pod: Mapping[str, Any], volume: str) -> str:
    _, _, uid = pod_meta(pod)
    return f"kubelab-{uid}-{volume}"


def hostpath_volume_name(node: str, path: str) -> str:
    """A node's "disk" for one hostPath: a Docker volume that belongs to the node."""
    safe = re.sub(r"[^a-zA-Z0-9_.-]+", "_", path.strip("/")) or "root"
    return f"kubelab-node-{node}-hostpath-{safe}"


def pvc_volume_name(namespace: str, claim: str) -> str:
    return f"kubelab-pvc-{namespace}-{claim}"


# --- sandbox ------------------------------------------------------------------------


def sandbox_script(ctx: NodeContext, *, resolv_conf: bool = False) -> str:
    """The pause process: write the pod's resolv.conf (Docker's user-defined networks
    would otherwise point it at their embedded 127.0.0.11), route the service range
    via the node, then sleep until TERM. Every container of the pod shares both."""
    steps = ""
    if resolv_conf:
        steps += 'printf "%s" "$KUBELAB_RESOLV_CONF" > /etc/resolv.conf 2>/dev/null; '
    if ctx.node_ip and ctx.service_cidr:
        steps += f"ip route replace {ctx.service_cidr} via {ctx.node_ip} 2>/dev/null; "
    return f"{steps}trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"


def resolv_conf(dns: Mapping[str, Any]) -> str:
    """resolv.conf text for Docker-style dns settings (`dns`, `dns_search`, `dns_opt`)."""
    lines = [f"nameserver {ns}" for ns in dns.get("dns") or []]
    if dns.get("dns_search"):
        lines.append("search " + " ".join(dns["dns_search"]))
    if dns.get("dns_opt"):
        lines.append("options " + " ".join(dns["dns_opt"]))
    return "\n".join(lines) + "\n"


def dns_settings(pod: Mapping[str, Any], ctx: NodeContext) -> JSON:
    spec = pod.get("spec") or {}
    ns, _, _ = pod_meta(pod)
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    config = spec.get("dnsConfig") or {}
    out: JSON = {}
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        d = ctx.cluster_domain
        out = {
            "dns": [ctx.cluster_dns],
            "dns_search": [f"{ns}.svc.{d}", f"svc.{d}", d],
            "dns_opt": ["ndots:5"],
        }
    elif policy == "None":
        out = {"dns": [], "dns_search": [], "dns_opt": []}
    if config:
        out.setdefault("dns", []).extend(config.get("nameservers") or [])
        out.setdefault("dns_search", []).extend(config.get("searches") or [])
        opts = [
            f"{o['name']}:{o['value']}" if o.get("value") is not None else str(o.get("name"))
            for o in config.get("options") or []
        ]
        names = {o.split(":")[0] for o in opts}
        kept = [o for o in out.get("dns_opt", []) if o.split(":")[0] not in names]
        out["dns_opt"] = kept + opts
    return {k: v for k, v in out.items() if v}


def projected_volumes(pod: Mapping[str, Any]) -> list[JSON]:
    return [
        v
        for v in (pod.get("spec") or {}).get("volumes") or []
        if any(k in v for k in ("configMap", "secret", "downwardAPI", "projected"))
    ]


def sandbox_config(pod: Mapping[str, Any], ctx: NodeContext, *, attempt: int) -> JSON:
    spec = pod.get("spec") or {}
    _, name, _ = pod_meta(pod)
    hostname = spec.get("hostname") or name
    domain = ""
    if spec.get("subdomain"):
        ns, _, _ = pod_meta(pod)
        domain = f"{spec['subdomain']}.{ns}.svc.{ctx.cluster_domain}"
    mounts = [
        {
            "Type": "volume",
            "Source": volume_name(pod, v["name"]),
            "Target": f"{PROJECTED_ROOT}/{v['name']}",
        }
        for v in projected_volumes(pod)
    ]
    dns = dns_settings(pod, ctx)
    if spec.get("hostNetwork"):
        # The node's own network namespace: its IP, its hostname, no route to add.
        # DNS: the node's, unless dnsPolicy is ClusterFirstWithHostNet.
        if spec.get("dnsPolicy") != "ClusterFirstWithHostNet":
            dns = {}
        node_ctx = NodeContext(node_name=ctx.node_name, node_ip="", network="", service_cidr="")
        cfg: JSON = {
            "image": ctx.pause_image,
            "name": docker_name(pod, "POD", attempt),
            "entrypoint": [
                "/bin/sh",
                "-c",
                sandbox_script(node_ctx, resolv_conf=bool(dns.get("dns"))),
            ],
            "command": [],
            "network_mode": ctx.host_network_mode,
            "labels": labels(pod, ctx, kind=podlib.SANDBOX, container="", attempt=attempt),
            "mounts": mounts,
            "stop_signal": "SIGTERM",
        }
    else:
        cfg = {
            "image": ctx.pause_image,
            "name": docker_name(pod, "POD", attempt),
            "entrypoint": [
                "/bin/sh",
                "-c",
                sandbox_script(ctx, resolv_conf=bool(dns.get("dns"))),
            ],
            "command": [],
            "hostname": hostname[:63],
            "domainname": domain,
            "network": ctx.network,
            "cap_add": ["NET_ADMIN"],
            "labels": labels(pod, ctx, kind=podlib.SANDBOX, container="", attempt=attempt),
            "mounts": mounts,
            "stop_signal": "SIGTERM",
            **dns,
        }
    if dns.get("dns"):
        cfg["environment"] = [f"KUBELAB_RESOLV_CONF={resolv_conf(dns)}"]
    return cfg


# --- env ------------------------------------------------------------------------------

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Upstream's `$(VAR)` expansion; `$$` escapes; unknown references stay as written."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        var = m.group(1)
        return env.get(var, m.group(0))

    return _VAR_REF.sub(sub, text)


def referenced_objects(pod: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The ConfigMaps and Secrets a pod's env and volumes name."""
    out: set[tuple[str, str]] = set()
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for e in c.get("env") or []:
            src = e.get("valueFrom") or {}
            if "configMapKeyRef" in src:
                out.add(("configmap", src["configMapKeyRef"].get("name", "")))
            if "secretKeyRef" in src:
                out.add(("secret", src["secretKeyRef"].get("name", "")))
        for ef in c.get("envFrom") or []:
            if "configMapRef" in ef:
                out.add(("configmap", ef["configMapRef"].get("name", "")))
            if "secretRef" in ef:
                out.add(("secret", ef["secretRef"].get("name", "")))
    for v in spec.get("volumes") or []:
        if "configMap" in v:
            out.add(("configmap", v["configMap"].get("name", "")))
        if "secret" in v:
            out.add(("secret", v["secret"].get("secretName", "")))
        for src in (v.get("projected") or {}).get("sources") or []:
            if "configMap" in src:
                out.add(("configmap", src["configMap"].get("name", "")))
            if "secret" in src:
                out.add(("secret", src["secret"].get("name", "")))
    return out


def object_data(obj: Mapping[str, Any] | None, kind: str) -> dict[str, bytes]:
    if obj is None:
        return {}
    out: dict[str, bytes] = {}
    if kind == "secret":
        for k, v in (obj.get("data") or {}).items():
            out[k] = base64.b64decode(v or "")
        for k, v in (obj.get("stringData") or {}).items():
            out[k] = str(v).encode()
        return out
    for k, v in (obj.get("data") or {}).items():
        out[k] = str(v).encode()
    for k, v in (obj.get("binaryData") or {}).items():
        out[k] = base64.b64decode(v or "")
    return out


def _kind_word(kind: str) -> str:
    return "configmap" if kind == "configmap" else "secret"


def field_value(pod: Mapping[str, Any], path: str, *, pod_ip: str, host_ip: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple: dict[str, str] = {
        "metadata.name": str(meta.get("name", "")),
        "metadata.namespace": str(meta.get("namespace", "")),
        "metadata.uid": str(meta.get("uid", "")),
        "spec.nodeName": str(spec.get("nodeName", "")),
        "spec.serviceAccountName": str(spec.get("serviceAccountName") or "default"),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
    }
    if path in simple:
        return simple[path]
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise ConfigError(f'unsupported fieldRef path "{path}"')


def resource_value(container: Mapping[str, Any], ref: Mapping[str, Any], node_alloc: JSON) -> str:
    res = container.get("resources") or {}
    kind, _, name = str(ref.get("resource", "")).partition(".")
    value = (res.get(kind) or {}).get(name)
    if value is None and kind == "limits":
        value = node_alloc.get(name)
    if value is None:
        return "0"
    divisor = quantity.parse_quantity(ref.get("divisor") or "1")
    q = quantity.parse_quantity(value) / (divisor or 1)
    return str(int(-(-q // 1)))


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    objects: Objects,
    *,
    pod_ip: str,
    host_ip: str,
    node_alloc: JSON | None = None,
) -> dict[str, str]:
    """The container's environment (envFrom, then env with `$(VAR)` expansion)."""
    env: dict[str, str] = {}
    for ef in container.get("envFrom") or []:
        prefix = str(ef.get("prefix") or "")
        for kind, ref_key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            if ref_key not in ef:
                continue
            ref = ef[ref_key] or {}
            name = str(ref.get("name", ""))
            obj = objects.get((kind, name))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{_kind_word(kind)} "{name}" not found')
            for k, v in object_data(obj, kind).items():
                env[prefix + k] = v.decode(errors="replace")
    for e in container.get("env") or []:
        name = str(e.get("name", ""))
        if "valueFrom" not in e:
            env[name] = expand(str(e.get("value") or ""), env)
            continue
        src = e["valueFrom"] or {}
        if "fieldRef" in src:
            env[name] = field_value(
                pod, str(src["fieldRef"].get("fieldPath", "")), pod_ip=pod_ip, host_ip=host_ip
            )
        elif "resourceFieldRef" in src:
            env[name] = resource_value(container, src["resourceFieldRef"], node_alloc or {})
        else:
            for kind, ref_key in (("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                if ref_key not in src:
                    continue
                ref = src[ref_key] or {}
                obj_name = str(ref.get("name", ""))
                key = str(ref.get("key", ""))
                obj = objects.get((kind, obj_name))
                data = object_data(obj, kind)
                if obj is None:
                    if ref.get("optional"):
                        break
                    raise ConfigError(f'{_kind_word(kind)} "{obj_name}" not found')
                if key not in data:
                    if ref.get("optional"):
                        break
                    raise ConfigError(
                        f"couldn't find key {key} in "
                        f"{'ConfigMap' if kind == 'configmap' else 'Secret'} "
                        f"{pod_meta(pod)[0]}/{obj_name}"
                    )
                env[name] = data[key].decode(errors="replace")
    return env


# --- volumes --------------------------------------------------------------------------


def _items(source: Mapping[str, Any], data: Mapping[str, bytes]) -> dict[str, bytes]:
    items = source.get("items")
    if not items:
        return dict(data)
    out = {}
    for it in items:
        k = str(it.get("key", ""))
        if k in data:
            out[str(it.get("path") or k)] = data[k]
    return out


def volume_files(
    pod: Mapping[str, Any], volume: Mapping[str, Any], objects: Objects, *, pod_ip: str = ""
) -> dict[str, bytes]:
    """Files of a configMap/secret/downwardAPI/projected volume (path -> content);
    ConfigError (`configmap "x" not found`) when a required object is missing."""
    files: dict[str, bytes] = {}
    sources: list[tuple[str, Mapping[str, Any]]] = []
    if "configMap" in volume:
        sources.append(("configmap", volume["configMap"]))
    if "secret" in volume:
        sec = volume["secret"]
        sources.append(("secret", {**sec, "name": sec.get("secretName", "")}))
    if "downwardAPI" in volume:
        sources.append(("downwardapi", volume["downwardAPI"]))
    for src in (volume.get("projected") or {}).get("sources") or []:
        for kind, key in (("configmap", "configMap"), ("secret", "secret")):
            if key in src:
                sources.append((kind, src[key]))
        if "downwardAPI" in src:
            sources.append(("downwardapi", src["downwardAPI"]))
    for kind, source in sources:
        if kind == "downwardapi":
            for it in source.get("items") or []:
                ref = it.get("fieldRef") or {}
                value = field_value(pod, str(ref.get("fieldPath", "")), pod_ip=pod_ip, host_ip="")
                files[str(it.get("path", ""))] = value.encode()
            continue
        obj = objects.get((kind, str(source.get("name", ""))))
        if obj is None:
            if source.get("optional"):
                continue
            raise ConfigError(f'{_kind_word(kind)} "{source.get("name", "")}" not found')
        files.update(_items(source, object_data(obj, kind)))
    return files


def mounts(pod: Mapping[str, Any], container: Mapping[str, Any], ctx: NodeContext) -> list[JSON]:
    """Docker mounts for the container's volumeMounts."""
    ns, _, _ = pod_meta(pod)
    volumes = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or []}
    out: list[JSON] = []
    for vm in container.get("volumeMounts") or []:
        vol = volumes.get(vm.get("name", ""))
        if vol is None:
            continue
        read_only = bool(vm.get("readOnly"))
        target = str(vm.get("mountPath", ""))
        if "emptyDir" in vol and (vol["emptyDir"] or {}).get("medium") == "Memory":
            out.append({"Type": "tmpfs", "Target": target})
            continue
        if "hostPath" in vol:
            source = hostpath_volume_name(ctx.node_name, str(vol["hostPath"].get("path", "")))
        elif "persistentVolumeClaim" in vol:
            source = pvc_volume_name(ns, str(vol["persistentVolumeClaim"].get("claimName", "")))
        else:
            source = volume_name(pod, vol["name"])
            if vol in projected_volumes(pod):
                read_only = True
        mount: JSON = {"Type": "volume", "Source": source, "Target": target, "ReadOnly": read_only}
        sub_path = str(vm.get("subPath") or "").strip("/")
        if sub_path and ".." not in sub_path.split("/"):
            # Docker 20.10 cannot mount part of a volume: the runtime binds the
            # volume's own directory on the Docker host instead.
            mount["SubPath"] = sub_path
        out.append(mount)
    return out


def volumes_to_create(pod: Mapping[str, Any], ctx: NodeContext) -> list[str]:
    """Docker volumes the pod needs (emptyDir, projected, hostPath, claims)."""
    ns, _, _ = pod_meta(pod)
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if "hostPath" in vol:
            out.append(hostpath_volume_name(ctx.node_name, str(vol["hostPath"].get("path", ""))))
        elif "persistentVolumeClaim" in vol:
            out.append(pvc_volume_name(ns, str(vol["persistentVolumeClaim"].get("claimName", ""))))
        elif "emptyDir" in vol and (vol["emptyDir"] or {}).get("medium") == "Memory":
            continue
        else:
            out.append(volume_name(pod, vol["name"]))
    return out


# --- security and resources -----------------------------------------------------------


@dataclass
class Security:
    user: str = ""
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    read_only: bool = False
    security_opt: list[str] = field(default_factory=list)
    group_add: list[str] = field(default_factory=list)


def _is_root_user(user: str) -> tuple[bool, bool]:
    """(is root, is numeric) for an image's Config.User (`""`, `nginx`, `101:101`)."""
    name = user.split(":", maxsplit=1)[0]
    if name in ("", "root"):
        return True, True
    if name.isdigit():
        return int(name) == 0, True
    return False, False


def security(pod: Mapping[str, Any], container: Mapping[str, Any], image_user: str) -> Security:
    """Docker security options; ConfigError for runAsNonRoot violations (upstream's words)."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}

    def pick(key: str) -> Any:
        return csc.get(key) if csc.get(key) is not None else psc.get(key)

    run_as_user = pick("runAsUser")
    run_as_group = pick("runAsGroup")
    name = container.get("name", "")
    if pick("runAsNonRoot"):
        ref = podlib.pod_ref(pod)
        if run_as_user is not None:
            if int(run_as_user) == 0:
                raise ConfigError(
                    f'container\'s runAsUser breaks non-root policy (pod: "{ref}", '
                    f"container: {name})"
                )
        else:
            root, numeric = _is_root_user(image_user)
            if not numeric:
                raise ConfigError(
                    f"container has runAsNonRoot and image has non-numeric user "
                    f"({image_user.split(':', maxsplit=1)[0]}), cannot verify user is non-root "
                    f'(pod: "{ref}", container: {name})'
                )
            if root:
                raise ConfigError(
                    f'container has runAsNonRoot and image will run as root (pod: "{ref}", '
                    f"container: {name})"
                )
    sec = Security()
    if run_as_user is not None:
        sec.user = str(run_as_user)
        if run_as_group is not None:
            sec.user += f":{run_as_group}"
    elif run_as_group is not None:
        base = image_user.split(":", maxsplit=1)[0] or "0"
        sec.user = f"{base}:{run_as_group}"
    caps = csc.get("capabilities") or {}
    sec.cap_add = [str(c) for c in caps.get("add") or []]
    sec.cap_drop = [str(c) for c in caps.get("drop") or []]
    sec.privileged = bool(csc.get("privileged"))
    sec.read_only = bool(csc.get("readOnlyRootFilesystem"))
    if csc.get("allowPrivilegeEscalation") is False:
        sec.security_opt.append("no-new-privileges")
    for g in psc.get("supplementalGroups") or []:
        sec.group_add.append(str(g))
    if psc.get("fsGroup") is not None:
        sec.group_add.append(str(psc["fsGroup"]))
    return sec


def resource_limits(container: Mapping[str, Any]) -> JSON:
    res = container.get("resources") or {}
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    out: JSON = {}
    if "memory" in limits:
        out["mem_limit"] = quantity.int_value(limits["memory"])
    if "cpu" in limits:
        out["nano_cpus"] = quantity.milli_value(limits["cpu"]) * 1_000_000
    cpu_req = requests.get("cpu", limits.get("cpu"))
    if cpu_req is not None:
        # As upstream: shares = milliCPU * 1024 / 1000, at least 2.
        out["cpu_shares"] = max(2, quantity.milli_value(cpu_req) * 1024 // 1000)
    return out


def container_config(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    ctx: NodeContext,
    *,
    kind: str,
    attempt: int,
    sandbox_id: str,
    env: Mapping[str, str],
    image_user: str,
    sandbox_attempt: int = 0,
) -> JSON:
    """The keyword arguments of a Docker container create for one pod container."""
    sec = security(pod, container, image_user)
    command = [expand(str(a), env) for a in container.get("command") or []]
    args = [expand(str(a), env) for a in container.get("args") or []]
    labels_ = labels(pod, ctx, kind=kind, container=container["name"], attempt=attempt)
    labels_[podlib.LABEL_HASH] = podlib.spec_hash(container)
    labels_[podlib.LABEL_SANDBOX_ATTEMPT] = str(sandbox_attempt)
    cfg: JSON = {
        "image": container.get("image", ""),
        "name": docker_name(pod, container["name"], attempt),
        "environment": [f"{k}={v}" for k, v in env.items()],
        "network_mode": f"container:{sandbox_id}",
        "labels": labels_,
        "mounts": mounts(pod, container, ctx),
        "tty": bool(container.get("tty")),
        "stdin_open": bool(container.get("stdin")),
        **resource_limits(container),
    }
    if command:
        cfg["entrypoint"] = command
        cfg["command"] = args
    elif args:
        cfg["command"] = args
    if container.get("workingDir"):
        cfg["working_dir"] = container["workingDir"]
    if sec.user:
        cfg["user"] = sec.user
    if sec.cap_add:
        cfg["cap_add"] = sec.cap_add
    if sec.cap_drop:
        cfg["cap_drop"] = sec.cap_drop
    if sec.privileged:
        cfg["privileged"] = True
    if sec.read_only:
        cfg["read_only"] = True
    if sec.security_opt:
        cfg["security_opt"] = sec.security_opt
    if sec.group_add:
        cfg["group_add"] = sec.group_add
    return cfg


ObjectFetcher = Callable[[str, str, str], JSON | None]
