"""The compose cluster: start, wait, inspect, stop, and the lab's node actions.

Everything goes through the Docker CLI and docker-compose (v1, or `docker
compose` when only v2 is there) with project name `kubelab`, so what kubelab
does can be repeated by hand. Waiting is by polling what a user would check:
the apiserver's /readyz, the Nodes' Ready condition, Docker's health status of
each component container.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubelab import config

CORE_SERVICES = (
    "etcd",
    "apiserver",
    "scheduler",
    "controller-manager",
    "cluster-dns",
    "ingress",
)
NODE_IP_BASE = 20  # kubelab-control-plane is 10.127.255.20, workers follow
PKI_DIR = "/var/lib/kubelab/pki"
LOCK_HELD_ENV = "KUBELAB_COMPOSE_LOCK_HELD"


class ClusterError(RuntimeError):
    """Something a user must fix or look at; the message says what."""


@contextlib.contextmanager
def compose_lock() -> Iterator[None]:
    """`flock /tmp/kubelab-compose.lock` unless a parent (the e2e fixture) holds it."""
    if os.environ.get(LOCK_HELD_ENV):
        yield
        return
    with config.COMPOSE_LOCK.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


def override_file() -> Path:
    return config.home() / "docker-compose.nodes.yml"


def node_names(workers: int) -> list[str]:
    return [config.CONTROL_PLANE_NODE, *config.worker_names(workers)]


def node_ip(name: str) -> str:
    """The fixed address of a node container (control plane .20, worker .21, workerN .20+N)."""
    if name == config.CONTROL_PLANE_NODE:
        index = 0
    else:
        suffix = name.removeprefix("kubelab-worker")
        index = int(suffix) if suffix else 1
    return f"10.127.255.{NODE_IP_BASE + index}"


def extra_worker_services(workers: int) -> dict[str, Any]:
    """Compose services for workers beyond the two in docker-compose.yml."""
    services: dict[str, Any] = {}
    for name in config.worker_names(workers)[2:]:
        services[name] = {
            "image": config.KUBELAB_IMAGE,
            "container_name": name,
            "hostname": name,
            "restart": "unless-stopped",
            "init": True,
            "labels": {"io.kubelab.cluster": "kubelab"},
            "depends_on": ["apiserver"],
            "environment": {
                "KUBELAB_CLUSTER": "kubelab",
                "KUBELAB_NETWORK": config.NETWORK,
                "KUBELAB_SERVICE_CIDR": config.SERVICE_CIDR,
                "KUBELAB_CLUSTER_DNS": config.DNS_IP,
                "KUBELAB_CLUSTER_DOMAIN": "cluster.local",
                "KUBELAB_PAUSE_IMAGE": "kubelab/pause:3.9",
            },
            "cap_add": ["NET_ADMIN"],
            "volumes": ["/var/run/docker.sock:/var/run/docker.sock"],
            "command": [
                "python",
                "-m",
                "kubelab.node",
                f"--node-name={name}",
                "--apiserver=apiserver:6444",
            ],
            "networks": {config.NETWORK: {"ipv4_address": node_ip(name)}},
            "healthcheck": {
                "test": [
                    "CMD",
                    "python",
                    "-m",
                    "kubelab.probe",
                    "http://127.0.0.1:10248/healthz",
                    "http://127.0.0.1:10256/healthz",
                ],
                "interval": "3s",
                "timeout": "3s",
                "retries": 3,
            },
        }
    return services


def compose(*args: str, workers: int = 2, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run docker-compose on the project (with the extra workers' file when there are any)."""
    files = ["-f", str(config.COMPOSE_FILE)]
    extra = extra_worker_services(workers)
    if extra:
        path = override_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"version": "2.4", "services": extra}, sort_keys=False))
        files += ["-f", str(path)]
    elif override_file().exists() and args and args[0] in ("down", "ps", "stop", "rm"):
        files += ["-f", str(override_file())]
    cmd = [*compose_command(), "-p", config.PROJECT, *files, *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=config.ROOT)
    if check and result.returncode != 0:
        raise ClusterError(f"{' '.join(cmd)} failed:\n{result.stderr.strip()}")
    return result


def docker(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise ClusterError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def _ids(*filters: str, kind: str = "ps") -> list[str]:
    args = [kind, "-q"] if kind == "ps" else [kind, "ls", "-q"]
    if kind == "ps":
        args.insert(1, "-a")
    for f in filters:
        args += ["--filter", f]
    return docker(*args).stdout.split()


# --- state ----------------------------------------------------------------


@dataclass(frozen=True)
class ContainerState:
    name: str
    state: str  # running, exited, missing...
    health: str  # healthy, unhealthy, starting, none
    ip: str
    started_at: str = ""


def container_state(name: str) -> ContainerState:
    result = docker("inspect", name)
    if result.returncode != 0:
        return ContainerState(name, "missing", "", "")
    info = json.loads(result.stdout)[0]
    state = info["State"]
    health = (state.get("Health") or {}).get("Status", "none")
    networks = info["NetworkSettings"].get("Networks") or {}
    ip = (networks.get(config.NETWORK) or {}).get("IPAddress", "")
    return ContainerState(name, state["Status"], health, ip, state.get("StartedAt", ""))


def cluster_containers() -> list[str]:
    """Names of the cluster's own containers (components and nodes), in compose order."""
    out = docker(
        "ps",
        "-a",
        "--filter",
        f"label=com.docker.compose.project={config.PROJECT}",
        "--format",
        "{{.Names}}",
    ).stdout.split()
    order = {f"kubelab-{s}": i for i, s in enumerate(CORE_SERVICES)}
    return sorted(out, key=lambda n: (order.get(n, 100), n))


def running_workers() -> int:
    names = [n for n in cluster_containers() if n.startswith("kubelab-worker")]
    return max(len(names), 2)


def _labels(ids: list[str]) -> dict[str, dict[str, str]]:
    if not ids:
        return {}
    result = docker("inspect", "--format", "{{.Id}} {{json .Config.Labels}}", *ids)
    out: dict[str, dict[str, str]] = {}
    for line in result.stdout.splitlines():
        cid, _, labels = line.partition(" ")
        out[cid] = json.loads(labels) or {}
    return out


def pod_containers(node: str | None = None) -> list[str]:
    """Containers made for this cluster's pods and Services (all nodes, or one node).

    Test kubelets and proxies (label io.kubelab.test) are never counted: they
    belong to someone's test run, not to the compose cluster.
    """
    names = [node] if node is not None else node_names(max(running_workers(), 2))
    ids: set[str] = set()
    for name in names:
        ids.update(_ids(f"label=io.kubelab.node={name}"))
    if node is None:
        ids.update(
            _ids(f"label=io.kubelab.cluster={config.PROJECT}", "label=io.kubelab.lb.service")
        )
    labels = _labels(sorted(ids))
    return sorted(cid for cid, lab in labels.items() if "io.kubelab.test" not in lab)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def apiserver_ready() -> bool:
    return http_ok(f"http://127.0.0.1:{config.HEALTH_PORT}/readyz")


def admin_kubeconfig_text() -> str:
    result = docker("exec", "kubelab-apiserver", "cat", f"{PKI_DIR}/admin.kubeconfig")
    if result.returncode != 0:
        raise ClusterError(f"cannot read admin.kubeconfig: {result.stderr.strip()}")
    return result.stdout


def nodes(apiserver: str = f"127.0.0.1:{config.GRPC_PORT}") -> list[dict[str, Any]]:
    """The Node objects, through the apiserver's gRPC API ([] when it cannot be reached)."""
    from apimachinery import errors
    from apimachinery.scheme import lookup
    from client.api import APIClient

    async def fetch() -> list[dict[str, Any]]:
        async with APIClient(apiserver, timeout=5) as api:
            listing = await api.list(lookup("", "v1", "nodes"))
            return list(listing.get("items") or [])

    try:
        return asyncio.run(fetch())
    except (errors.APIError, OSError):
        return []


def node_ready(node: dict[str, Any]) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def wait_for(what: str, check: Callable[[], bool], deadline: float, every: float = 0.5) -> None:
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out waiting for {what}")
        time.sleep(every)


# --- actions ----------------------------------------------------------------


def services_for(workers: int) -> list[str]:
    return [*CORE_SERVICES, *node_names(workers)]


def up(workers: int) -> None:
    with compose_lock():
        compose("up", "-d", "--remove-orphans", *services_for(workers), workers=workers)


def down() -> list[str]:
    """Remove the cluster: nodes first (so no kubelet recreates pods), pods, then the rest."""
    removed: list[str] = []
    with compose_lock():
        workers = running_workers()
        nodes_ = [n for n in node_names(workers) if container_state(n).state != "missing"]
        if nodes_:
            docker("stop", "-t", "5", *nodes_)
        pods = pod_containers()
        if pods:
            docker("rm", "-f", "-v", *pods)
            removed.append(f"{len(pods)} pod containers")
        compose("down", "-v", "--remove-orphans", "-t", "5", workers=workers, check=False)
        # What compose does not know about: pods made meanwhile, pod volumes, the network.
        leftovers = pod_containers()
        if leftovers:
            docker("rm", "-f", "-v", *leftovers)
            removed.append(f"{len(leftovers)} other containers")
        volumes: set[str] = set()
        for name in node_names(workers):
            volumes.update(_ids(f"label=io.kubelab.node={name}", kind="volume"))
        if volumes:
            docker("volume", "rm", "-f", *sorted(volumes))
            removed.append(f"{len(volumes)} volumes")
        if docker("network", "inspect", config.NETWORK).returncode == 0:
            docker("network", "rm", config.NETWORK)
        if override_file().exists():
            override_file().unlink()
    return removed


def node_stop(name: str) -> int:
    """Stop a node like a machine losing power: its container, then its pods' containers."""
    if container_state(name).state == "missing":
        raise ClusterError(f"no node container {name}")
    docker("stop", "-t", "2", name, check=True)
    pods = _ids(f"label=io.kubelab.node={name}", "status=running")
    if pods:
        docker("stop", "-t", "2", *pods)
    return len(pods)


def node_start(name: str) -> None:
    if container_state(name).state == "missing":
        raise ClusterError(f"no node container {name}")
    networks = docker("inspect", name, "--format", "{{json .NetworkSettings.Networks}}").stdout
    if config.NETWORK not in (networks or ""):
        node_connect(name)
    docker("start", name, check=True)


def node_partition(name: str) -> None:
    """Cut a node off the cluster network (it keeps running, like a network partition)."""
    docker("network", "disconnect", config.NETWORK, name, check=True)


def node_connect(name: str) -> None:
    """Heal a partition: reconnect the node with its fixed address."""
    docker("network", "connect", "--ip", node_ip(name), config.NETWORK, name, check=True)
