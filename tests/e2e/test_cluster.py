"""The compose cluster as a user meets it: `kubelab up` gives three Ready nodes,
kubectl works at once, every component answers /healthz, `kubelab status`
shows it all, a node can be stopped and started, and `kubelab down` leaves
nothing behind."""

from __future__ import annotations

import functools
import json
import subprocess
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

NODES = ["kubelab-control-plane", "kubelab-worker", "kubelab-worker2"]
# container -> health port (the address is the container's on the kubelab network)
COMPONENTS = {
    "kubelab-apiserver": 6445,
    "kubelab-scheduler": 10259,
    "kubelab-controller-manager": 10257,
    "kubelab-cluster-dns": 10053,
    "kubelab-ingress": 10254,
    "kubelab-control-plane": 10248,
    "kubelab-worker": 10248,
    "kubelab-worker2": 10248,
}


def _ready(node: dict[str, Any]) -> bool:
    conditions = node["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def _container_ip(name: str) -> str:
    networks = json.loads(
        _docker("inspect", name, "--format", "{{json .NetworkSettings.Networks}}")
    )
    return str(networks["kubelab"]["IPAddress"])


def _healthz(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=3) as response:
        return bool(response.status == 200)


def test_three_nodes_ready_and_the_control_plane_tainted(cluster: Cluster) -> None:
    nodes = cluster.kubectl_json("get", "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == NODES
    assert all(_ready(n) for n in nodes)
    control_plane = next(n for n in nodes if n["metadata"]["name"] == "kubelab-control-plane")
    taints = control_plane["spec"].get("taints") or []
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in [
        {"key": t["key"], "effect": t["effect"]} for t in taints
    ]
    table = cluster.kubectl("get", "nodes").stdout
    for name in NODES:
        assert name in table


def test_kubectl_works_at_once(cluster: Cluster) -> None:
    names = cluster.kubectl("get", "ns", "-o", "name").stdout.split()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert f"namespace/{ns}" in names
    context = cluster.kubectl("config", "current-context").stdout.strip()
    assert context == "kubelab"
    server = cluster.kubectl(
        "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"
    )
    assert server.stdout == "https://127.0.0.1:6443"


def test_every_component_answers_healthz(cluster: Cluster) -> None:
    assert _healthz("http://127.0.0.1:6445/healthz")
    for container, port in COMPONENTS.items():
        url = f"http://{_container_ip(container)}:{port}/healthz"
        assert eventually(functools.partial(_healthz, url), timeout=30), url


def test_status_shows_components_and_nodes(cluster: Cluster) -> None:
    status = cluster.kubelab("status")
    for name in [*COMPONENTS, "kubelab-etcd"]:
        assert name in status.stdout
    assert "Ready" in status.stdout
    assert "unhealthy" not in status.stdout


def test_kubeconfig_print_has_the_kubelab_context(cluster: Cluster) -> None:
    printed = cluster.kubelab("kubeconfig", "--print").stdout
    assert "current-context: kubelab" in printed
    assert "https://127.0.0.1:6443" in printed


def test_a_pod_runs_from_a_local_image(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("run", "web", "--image=nginx", "-n", namespace)

    def running() -> bool:
        pod = cluster.kubectl_json("get", "pod", "web", "-n", namespace)
        return bool(pod["status"].get("phase") == "Running" and pod["spec"].get("nodeName"))

    eventually(running, timeout=120)
    pod = cluster.kubectl_json("get", "pod", "web", "-n", namespace)
    assert pod["spec"]["nodeName"] != "kubelab-control-plane"


def test_node_stop_and_start(cluster: Cluster, namespace: str) -> None:
    node = "kubelab-worker2"
    cluster.kubelab("node", "stop", node)
    assert _docker("inspect", node, "--format", "{{.State.Running}}").strip() == "false"
    running_pods = _docker("ps", "-q", "--filter", f"label=io.kubelab.node={node}").split()
    assert running_pods == []

    def not_ready() -> bool:
        return not _ready(cluster.kubectl_json("get", "node", node))

    eventually(not_ready, timeout=90)
    cluster.kubelab("node", "start", node)
    eventually(lambda: _ready(cluster.kubectl_json("get", "node", node)), timeout=90)


def test_node_partition_and_reconnect(cluster: Cluster) -> None:
    node = "kubelab-worker"
    cluster.kubelab("node", "partition", node)
    try:
        assert "kubelab" not in _docker(
            "inspect", node, "--format", "{{json .NetworkSettings.Networks}}"
        )
        eventually(lambda: not _ready(cluster.kubectl_json("get", "node", node)), timeout=90)
    finally:
        cluster.kubelab("node", "connect", node, check=False)
    assert _container_ip(node) == "10.127.255.21"
    eventually(lambda: _ready(cluster.kubectl_json("get", "node", node)), timeout=120)


@pytest.mark.last
def test_down_leaves_nothing_behind(cluster: Cluster) -> None:
    cluster.kubelab("down")
    assert (
        _docker("ps", "-aq", "--filter", "label=com.docker.compose.project=kubelab").split() == []
    )
    load_balancers = _docker(
        "ps",
        "-aq",
        "--filter",
        "label=io.kubelab.cluster=kubelab",
        "--filter",
        "label=io.kubelab.lb.service",
    )
    assert load_balancers.split() == []
    for node in NODES:
        assert _docker("ps", "-aq", "--filter", f"label=io.kubelab.node={node}").split() == []
    assert "kubelab" not in _docker("network", "ls", "--format", "{{.Name}}").split()
    volumes = _docker("volume", "ls", "-q", "--filter", "label=com.docker.compose.project=kubelab")
    assert volumes.split() == []
    contexts = cluster.kubectl("config", "get-contexts", "-o", "name").stdout.split()
    assert "kubelab" not in contexts
