"""The seeds' Deployment flow with the real kubectl, the controller-manager
running against a real etcd + apiserver.

No kubelet: a small thread plays its part by reporting every pod Running and
Ready. What is asserted is what kubectl prints: rollout status, the columns of
`get deploy` and `get rs`, rollout history with its revisions and templates,
undo, pause/resume, restart and the events of `describe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from tests.integration.rest_fixtures import Rest, kubectl, rest
from tests.integration.test_controllers import ControllerManagerProcess
from tests.polling import eventually_sync

pytestmark = pytest.mark.etcd
__all__ = ["rest"]

PODS = lookup("", "v1", "pods")

REDIS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
  namespace: seeds
spec:
  selector:
    matchLabels:
      app: redis
  template:
    metadata:
      labels:
        app: redis
    spec:
      containers:
      - name: redis
        image: redis:alpine
        ports:
        - containerPort: 6379
"""


class FakeKubelet:
    """Reports every pod of a namespace Running and Ready (a thread with its own loop)."""

    def __init__(self, address: str, namespace: str) -> None:
        self.address = address
        self.namespace = namespace
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run()), daemon=True)
        self.ips = itertools.count(2)

    async def run(self) -> None:
        async with APIClient(self.address, timeout=10) as api:
            while not self.stop.is_set():
                with contextlib.suppress(errors.APIError):
                    for pod in (await api.list(PODS, namespace=self.namespace))["items"]:
                        await self.mark_ready(api, pod)
                await asyncio.sleep(0.2)

    async def mark_ready(self, api: APIClient, pod: dict[str, object]) -> None:
        meta = pod["metadata"]
        status = pod.get("status") or {}
        assert isinstance(meta, dict) and isinstance(status, dict)
        if meta.get("deletionTimestamp") or status.get("phase") == "Running":
            return
        new = copy.deepcopy(pod)
        new["status"] = {
            "phase": "Running",
            "podIP": f"10.112.1.{next(self.ips) % 250 + 2}",
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
            ],
        }
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await api.update_status(PODS, new)


@pytest.fixture(scope="module")
def cluster(rest: Rest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rest]:
    cm = ControllerManagerProcess(rest.proc, Path(tmp_path_factory.mktemp("cm")))
    cm.start()
    kubectl(rest, "create", "namespace", "seeds")
    kubelet = FakeKubelet(rest.proc.address, "seeds")
    kubelet.thread.start()
    try:
        yield rest
    finally:
        kubelet.stop.set()
        kubelet.thread.join(10)
        cm.stop()


def k(rest: Rest, *args: str, stdin: str | None = None) -> str:
    return kubectl(rest, "-n", "seeds", *args, stdin=stdin).stdout


def pod_names(rest: Rest) -> set[str]:
    out = k(rest, "get", "pods", "-l", "app=redis", "-o", "name")
    return set(out.split())


def table(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()[1:]]


def test_redis_seed_flow(cluster: Rest) -> None:
    rest = cluster
    assert "deployment.apps/redis created" in k(rest, "apply", "-f", "-", stdin=REDIS)
    out = k(rest, "rollout", "status", "deployment/redis", "--timeout=60s")
    assert 'deployment "redis" successfully rolled out' in out

    # self-healing
    [first] = pod_names(rest)
    k(rest, "delete", first, "--wait=false")
    eventually_sync(
        lambda: len(pod_names(rest)) == 1 and first not in pod_names(rest),
        within=30,
        what="the deleted pod replaced",
    )

    # scale
    assert "deployment.apps/redis scaled" in k(rest, "scale", "deployment", "redis", "--replicas=4")
    k(rest, "rollout", "status", "deployment/redis", "--timeout=60s")
    [row] = table(k(rest, "get", "deploy", "redis"))
    assert row[:4] == ["redis", "4/4", "4", "4"]

    # set image: a new ReplicaSet, the old scaled to 0
    k(rest, "set", "image", "deployment/redis", "redis=redis:5.0.12-alpine")
    k(rest, "annotate", "deployment/redis", "kubernetes.io/change-cause=image 5.0.12")
    k(rest, "rollout", "status", "deployment/redis", "--timeout=60s")

    def two_replicasets() -> list[list[str]] | None:
        rows = table(k(rest, "get", "rs", "-l", "app=redis"))
        desired = sorted(r[1] for r in rows)
        ready = sorted(r[3] for r in rows)
        return rows if desired == ["0", "4"] and ready == ["0", "4"] else None

    rows = eventually_sync(two_replicasets, within=30, what="old RS at 0, new at 4")
    assert all(r[0].startswith("redis-") for r in rows)

    history = k(rest, "rollout", "history", "deployment/redis")
    lines = [line.split() for line in history.splitlines()]
    revisions = [line[0] for line in lines if line and line[0].isdigit()]
    assert revisions == ["1", "2"]
    assert "image 5.0.12" in history
    rev1 = k(rest, "rollout", "history", "deployment/redis", "--revision=1")
    assert "Image:\tredis:alpine" in rev1 or "redis:alpine" in rev1
    rev2 = k(rest, "rollout", "history", "deployment/redis", "--revision=2")
    assert "redis:5.0.12-alpine" in rev2

    # undo to revision 1: the old template back, as revision 3
    out = k(rest, "rollout", "undo", "deployment/redis", "--to-revision=1")
    assert "deployment.apps/redis rolled back" in out
    k(rest, "rollout", "status", "deployment/redis", "--timeout=60s")

    def images() -> set[str]:
        out = k(
            rest,
            "get",
            "pods",
            "-l",
            "app=redis",
            "-o",
            "jsonpath={range .items[*]}{.spec.containers[0].image}{'\\n'}{end}",
        )
        return set(out.split())

    eventually_sync(
        lambda: images() == {"redis:alpine"}, within=30, what="pods back on redis:alpine"
    )
    history = k(rest, "rollout", "history", "deployment/redis")
    revisions = [line.split()[0] for line in history.splitlines() if line[:1].isdigit()]
    assert revisions == ["2", "3"]

    # pause: a template change makes no new ReplicaSet until resume
    k(rest, "rollout", "pause", "deployment/redis")
    k(rest, "set", "env", "deployment/redis", "MODE=paused")
    eventually_sync(
        lambda: "DeploymentPaused" in k(rest, "describe", "deployment", "redis"),
        within=30,
        what="Progressing=Unknown DeploymentPaused",
    )
    assert len(table(k(rest, "get", "rs", "-l", "app=redis"))) == 2
    k(rest, "rollout", "resume", "deployment/redis")
    k(rest, "rollout", "status", "deployment/redis", "--timeout=60s")
    assert len(table(k(rest, "get", "rs", "-l", "app=redis"))) == 3

    # restart: a new ReplicaSet with the same template but a restartedAt annotation
    k(rest, "rollout", "restart", "deployment/redis")
    k(rest, "rollout", "status", "deployment/redis", "--timeout=60s")
    assert len(table(k(rest, "get", "rs", "-l", "app=redis"))) == 4

    describe = k(rest, "describe", "deployment", "redis")
    assert "ScalingReplicaSet" in describe
    assert "NewReplicaSetAvailable" in describe
    assert "MinimumReplicasAvailable" in describe
    [row] = table(k(rest, "get", "deploy", "redis"))
    assert row[:4] == ["redis", "4/4", "4", "4"]


def test_cascading_deletes_with_kubectl(cluster: Rest) -> None:
    rest = cluster
    for name in ("keep", "gone", "fg"):
        k(rest, "create", "deployment", name, "--image=redis:alpine", "--replicas=2")
    for name in ("keep", "gone", "fg"):
        k(rest, "rollout", "status", f"deployment/{name}", "--timeout=60s")

    # --cascade=orphan: the ReplicaSet and pods stay, without owner
    k(rest, "delete", "deployment", "keep", "--cascade=orphan")
    eventually_sync(
        lambda: "keep" not in k(rest, "get", "deploy", "-o", "name"),
        within=30,
        what="orphaning Deployment deleted",
    )
    rs = k(
        rest, "get", "rs", "-l", "app=keep", "-o", "jsonpath={.items[*].metadata.ownerReferences}"
    )
    assert rs.strip() == ""
    assert len(k(rest, "get", "pods", "-l", "app=keep", "-o", "name").split()) == 2

    # background (default): everything goes
    k(rest, "delete", "deployment", "gone")
    eventually_sync(
        lambda: k(rest, "get", "rs,pods", "-l", "app=gone", "-o", "name").strip() == "",
        within=30,
        what="ReplicaSet and pods of a deleted Deployment gone",
    )

    # foreground: kubectl waits until the dependents are gone
    k(rest, "delete", "deployment", "fg", "--cascade=foreground")
    assert k(rest, "get", "rs,pods", "-l", "app=fg", "-o", "name").strip() == ""


def test_statefulset_and_daemonset_rollout_with_kubectl(cluster: Rest) -> None:
    rest = cluster
    sts = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: seeds
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: redis:alpine
"""
    k(rest, "apply", "-f", "-", stdin=sts)
    out = k(rest, "rollout", "status", "statefulset/db", "--timeout=60s")
    assert "partitioned roll out complete" in out or "roll out complete" in out
    assert sorted(k(rest, "get", "pods", "-l", "app=db", "-o", "name").split()) == [
        "pod/db-0",
        "pod/db-1",
    ]
    k(rest, "set", "image", "statefulset/db", "db=redis:7-alpine")
    k(rest, "rollout", "status", "statefulset/db", "--timeout=60s")
    history = k(rest, "rollout", "history", "statefulset/db")
    revisions = [line.split()[0] for line in history.splitlines() if line[:1].isdigit()]
    assert revisions == ["1", "2"]

    out = k(rest, "rollout", "undo", "statefulset/db")
    assert "statefulset.apps/db rolled back" in out
    k(rest, "rollout", "status", "statefulset/db", "--timeout=60s")

    def images() -> set[str]:
        out = k(
            rest,
            "get",
            "pods",
            "-l",
            "app=db",
            "-o",
            "jsonpath={range .items[*]}{.spec.containers[0].image}{'\\n'}{end}",
        )
        return set(out.split())

    eventually_sync(
        lambda: images() == {"redis:alpine"}, within=60, what="db pods back on redis:alpine"
    )


def test_daemonset_rollout_with_kubectl(cluster: Rest) -> None:
    rest = cluster
    nodes = "".join(
        f"apiVersion: v1\nkind: Node\nmetadata:\n  name: ds-node-{i}\n---\n" for i in (1, 2)
    )
    kubectl(rest, "apply", "-f", "-", stdin=nodes)
    ds = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: seeds
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: agent
        image: busybox
"""
    k(rest, "apply", "-f", "-", stdin=ds)
    out = k(rest, "rollout", "status", "daemonset/agent", "--timeout=60s")
    assert 'daemon set "agent" successfully rolled out' in out
    [row] = table(k(rest, "get", "ds", "agent"))
    assert row[1:6] == ["2", "2", "2", "2", "2"]  # DESIRED CURRENT READY UP-TO-DATE AVAILABLE
    k(rest, "set", "image", "daemonset/agent", "agent=busybox:1.36")
    k(rest, "rollout", "status", "daemonset/agent", "--timeout=60s")
    history = k(rest, "rollout", "history", "daemonset/agent")
    assert [line.split()[0] for line in history.splitlines() if line[:1].isdigit()] == ["1", "2"]
