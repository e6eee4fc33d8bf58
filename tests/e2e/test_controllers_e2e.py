"""Controllers on the compose cluster, with real kubelets: self-healing after a
node loses power, and the node coming back clean.

A Deployment spread over the workers; `kubelab node stop` on the worker with
the most of its pods (its kubelet and pod containers stop); with the lab
defaults (6 s grace, 3 s tolerations) the node goes NotReady with the
unreachable taint and its pods are replaced on the other nodes. `kubelab node
start`: the node is Ready again, untainted, and its kubelet removed the
containers of the pods that moved away. No pod is created twice. Timing is
measured by bench/failover.py, not asserted here.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, eventually

pytestmark = pytest.mark.e2e

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: heal
spec:
  replicas: 4
  selector:
    matchLabels:
      app: heal
  template:
    metadata:
      labels:
        app: heal
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: busybox
        command: ["sleep", "3600"]
"""


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False).stdout


def _ready(node: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def _pods(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.kubectl_json(
        "get", "pods", "-n", namespace, "-l", "app=heal"
    )["items"]
    return items


def _running(pod: dict[str, Any]) -> bool:
    return bool(
        pod["status"].get("phase") == "Running"
        and not pod["metadata"].get("deletionTimestamp")
        and all(c.get("ready") for c in pod["status"].get("containerStatuses") or [{}])
    )


def test_pods_of_a_stopped_node_are_replaced_and_the_node_comes_back_clean(
    cluster: Cluster, namespace: str
) -> None:
    workers = [
        n["metadata"]["name"]
        for n in cluster.kubectl_json("get", "nodes")["items"]
        if "node-role.kubernetes.io/control-plane" not in n["metadata"].get("labels", {})
    ]

    def workers_ready() -> bool:
        return all(_ready(cluster.kubectl_json("get", "node", w)) for w in workers)

    eventually(workers_ready, timeout=120)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT)
    cluster.kubectl(
        "rollout", "status", "-n", namespace, "deployment/heal", "--timeout=180s", timeout=200
    )
    pods = [p for p in _pods(cluster, namespace) if _running(p)]
    per_node: dict[str, int] = {}
    for p in pods:
        per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
    victim = max(per_node, key=lambda n: per_node[n])
    before = {p["metadata"]["name"] for p in pods}
    moved = {p["metadata"]["uid"] for p in pods if p["spec"]["nodeName"] == victim}

    cluster.kubelab("node", "stop", victim)
    try:

        def tainted_not_ready() -> bool:
            node = cluster.kubectl_json("get", "node", victim)
            taints = {t["key"] for t in (node.get("spec") or {}).get("taints") or []}
            return not _ready(node) and "node.kubernetes.io/unreachable" in taints

        eventually(tainted_not_ready, timeout=90)

        def replaced() -> bool:
            live = [p for p in _pods(cluster, namespace) if _running(p)]
            return len(live) == 4 and all(p["spec"]["nodeName"] != victim for p in live)

        eventually(replaced, timeout=120)
    finally:
        cluster.kubelab("node", "start", victim)

    def back() -> bool:
        node = cluster.kubectl_json("get", "node", victim)
        return _ready(node) and not (node.get("spec") or {}).get("taints")

    eventually(back, timeout=120)

    def stale_containers_gone() -> bool:
        uids = set(
            _docker(
                "ps",
                "-a",
                "--filter",
                f"label=io.kubelab.node={victim}",
                "--format",
                '{{.Label "io.kubelab.pod.uid"}}',
            ).split()
        )
        return not uids & moved

    eventually(stale_containers_gone, timeout=120)
    # Nothing created twice: exactly one replacement per pod that was on the node.
    after = {p["metadata"]["name"] for p in _pods(cluster, namespace)}
    assert len(after - before) == per_node[victim]
    assert len([p for p in _pods(cluster, namespace) if _running(p)]) == 4
