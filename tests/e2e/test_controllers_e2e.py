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


BOUNDS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bounds
spec:
  replicas: 4
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 2
      maxUnavailable: 1
  selector:
    matchLabels:
      app: bounds
  template:
    metadata:
      labels:
        app: bounds
    spec:
      containers:
      - name: web
        image: kubelab/webapp:v1
"""


def test_rolling_update_bounds_seen_by_a_watcher(cluster: Cluster, namespace: str) -> None:
    """A watcher (the official Python client) records every pod state during a
    rolling update of 4 replicas with maxSurge 2 / maxUnavailable 1."""
    import threading

    import kubernetes

    k8s: Any = kubernetes
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=BOUNDS)
    cluster.kubectl(
        "rollout", "status", "-n", namespace, "deployment/bounds", "--timeout=180s", timeout=200
    )
    api = k8s.client.CoreV1Api(k8s.config.new_client_from_config(str(cluster.kubeconfig)))
    listed = api.list_namespaced_pod(namespace, label_selector="app=bounds")
    state: dict[str, tuple[bool, bool]] = {}  # name -> (ready, terminating)

    def record(pod: Any) -> None:
        ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
        state[pod.metadata.name] = (ready, pod.metadata.deletion_timestamp is not None)

    for pod in listed.items:
        record(pod)
    initial = set(state)
    seen: set[str] = set()
    violations: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        w = k8s.watch.Watch()
        for event in w.stream(
            api.list_namespaced_pod,
            namespace,
            label_selector="app=bounds",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=240,
        ):
            pod = event["object"]
            seen.add(pod.metadata.name)
            if event["type"] == "DELETED":
                state.pop(pod.metadata.name, None)
            else:
                record(pod)
            live = [r for r, terminating in state.values() if not terminating]
            if len(live) > 4 + 2:
                violations.append(f"{len(live)} pods (max 6): {state}")
            if sum(live) < 4 - 1:
                violations.append(f"{sum(live)} ready pods (min 3): {state}")
            if stop.is_set():
                w.stop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    cluster.kubectl("set", "image", "-n", namespace, "deployment/bounds", "web=kubelab/webapp:v2")
    cluster.kubectl(
        "rollout", "status", "-n", namespace, "deployment/bounds", "--timeout=180s", timeout=200
    )

    def all_updated() -> bool:
        pods = _pods_labelled(cluster, namespace, "app=bounds")
        return len(pods) == 4 and all(
            p["spec"]["containers"][0]["image"] == "kubelab/webapp:v2" for p in pods
        )

    eventually(all_updated, timeout=120)
    # the watcher saw the whole update: the 4 new pods and the old ones going
    eventually(lambda: len(seen - initial) >= 4 and initial <= seen, timeout=60)
    stop.set()
    assert violations == []


def _pods_labelled(cluster: Cluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.kubectl_json(
        "get", "pods", "-n", namespace, "-l", selector
    )["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]
