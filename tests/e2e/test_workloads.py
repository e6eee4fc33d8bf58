"""Workloads on the compose cluster as the seed course promises them
("Haute disponibilité : si un conteneur tombe en panne, Kubernetes peut
redémarrer automatiquement le conteneur"): a Deployment's container that dies
is restarted in place by its kubelet (RESTARTS goes up, same pod), and a pod
that is deleted is replaced by its ReplicaSet.

A node losing power (its pods replaced on the other workers, then the node
back clean) is tests/e2e/test_controllers_e2e.py's.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, eventually

pytestmark = pytest.mark.e2e


def _pod(cluster: Cluster, namespace: str) -> dict[str, Any] | None:
    items = cluster.kubectl_json("get", "pods", "-n", namespace, "-l", "app=web")["items"]
    live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
    if len(live) != 1:
        return None
    pod: dict[str, Any] = live[0]
    statuses = pod["status"].get("containerStatuses") or []
    if pod["status"].get("phase") == "Running" and statuses and statuses[0]["ready"]:
        return pod
    return None


def test_a_dead_container_is_restarted_and_a_deleted_pod_replaced(
    cluster: Cluster, namespace: str
) -> None:
    created = cluster.kubectl(
        "create", "deployment", "web", "--image=nginx", "-n", namespace
    ).stdout.strip()
    assert created == "deployment.apps/web created"
    pod = eventually(lambda: _pod(cluster, namespace), timeout=120)
    assert pod is not None
    name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0

    # The container dies (killed on the node's Docker Engine, the pause container stays)
    containers = subprocess.run(
        [
            "docker",
            "ps",
            "-q",
            "--filter",
            f"label=io.kubelab.pod.uid={uid}",
            "--filter",
            "label=io.kubelab.container=nginx",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(containers) == 1, containers
    subprocess.run(["docker", "kill", containers[0]], capture_output=True, check=True)

    def restarted() -> bool:
        again = _pod(cluster, namespace)
        return bool(
            again
            and again["metadata"]["uid"] == uid
            and again["status"]["containerStatuses"][0]["restartCount"] >= 1
        )

    eventually(restarted, timeout=120)
    [row] = cluster.kubectl("get", "po", "-n", namespace, "-l", "app=web").stdout.splitlines()[1:]
    assert row.split()[:2] == [name, "1/1"] and row.split()[3] != "0"

    # The pod is deleted: its ReplicaSet makes another one
    cluster.kubectl("delete", "po", name, "-n", namespace, "--wait=false")

    def replaced() -> bool:
        other = _pod(cluster, namespace)
        return bool(other and other["metadata"]["uid"] != uid)

    eventually(replaced, timeout=120)
