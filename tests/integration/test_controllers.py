"""The controller-manager process against a real etcd and apiserver.

No kubelet runs here: the tests play its part by writing pod status (Running,
Ready, a pod IP) and by renewing a node's Lease, then assert what a user sees:
Deployments that roll out and back, cascading deletes, namespaces that empty
themselves, Endpoints that follow readiness, and a node that stops
heartbeating going NotReady with its pods evicted. Every wait polls with a
generous deadline; nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from tests.polling import eventually
from tests.processes import ROOT, ApiserverProcess, free_port, http_ok, wait_until

pytestmark = pytest.mark.etcd

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")
CONFIGMAPS = lookup("", "v1", "configmaps")
NAMESPACES = lookup("", "v1", "namespaces")
EVENTS = lookup("", "v1", "events")
LEASES = lookup("coordination.k8s.io", "v1", "leases")
SERVICEACCOUNTS = lookup("", "v1", "serviceaccounts")
DEPLOYMENTS = lookup("apps", "v1", "deployments")
REPLICASETS = lookup("apps", "v1", "replicasets")
JSON = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
_ips = itertools.count(10)


class ControllerManagerProcess:
    def __init__(self, apiserver: ApiserverProcess, work_dir: Path, *extra: str) -> None:
        self.health_port = free_port()
        self.log = work_dir / f"controller-manager-{self.health_port}.log"
        self.args = [
            sys.executable,
            "-m",
            "controller_manager",
            "--apiserver",
            apiserver.address,
            "--health-address",
            f"127.0.0.1:{self.health_port}",
            "--leader-elect",
            "--node-monitor-grace-period",
            "6s",
            "--default-not-ready-toleration-seconds",
            "3",
            "--default-unreachable-toleration-seconds",
            "3",
            "--controllers",
            "*",
            *extra,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )

        def healthy() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"controller-manager exited: {self.logs()[-3000:]}")
            return http_ok(f"http://127.0.0.1:{self.health_port}/healthz")

        wait_until(healthy, 30, "controller-manager did not become healthy")

    def logs(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def controller_manager(
    apiserver: ApiserverProcess, tmp_path: Path
) -> Iterator[ControllerManagerProcess]:
    proc = ControllerManagerProcess(apiserver, tmp_path)
    proc.start()
    yield proc
    proc.stop()


def deployment(name: str, image: str = "redis:6", replicas: int = 3, **spec: Any) -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": image,
                            "ports": [{"containerPort": 6379, "name": "redis"}],
                        }
                    ]
                },
            },
            **spec,
        },
    }


def is_ready(pod: JSON) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


async def set_pod_ready(api: APIClient, pod: JSON, ready: bool = True) -> None:
    """What a kubelet would report for a running pod."""
    pod = copy.deepcopy(pod)
    status = pod.setdefault("status", {})
    status["phase"] = "Running"
    status.setdefault("podIP", f"10.112.0.{next(_ips) % 250 + 2}")
    status["conditions"] = [
        {"type": "Ready", "status": "True" if ready else "False"},
        {"type": "ContainersReady", "status": "True" if ready else "False"},
    ]
    with contextlib.suppress(errors.NotFound, errors.Conflict):
        await api.update_status(PODS, pod)


@contextlib.asynccontextmanager
async def fake_kubelet(
    api: APIClient, namespace: str = "default", *, per_tick: int = 0, tick: float = 0.2
) -> AsyncIterator[None]:
    """Marks every live pod of the namespace Running and Ready, as they appear
    (at most `per_tick` pods every `tick` seconds when given, for a slow rollout)."""

    async def loop() -> None:
        while True:
            pods = (await api.list(PODS, namespace=namespace))["items"]
            waiting = [
                p for p in pods if not is_ready(p) and not p["metadata"].get("deletionTimestamp")
            ]
            for p in waiting[: per_tick or None]:
                await set_pod_ready(api, p)
            await asyncio.sleep(tick)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, errors.APIError):
            await task


async def pods_of(api: APIClient, selector: str, namespace: str = "default") -> list[JSON]:
    items = (await api.list(PODS, namespace=namespace, label_selector=selector))["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def replicasets_of(api: APIClient, selector: str) -> list[JSON]:
    items: list[JSON] = (await api.list(REPLICASETS, namespace="default", label_selector=selector))[
        "items"
    ]
    return items


async def gone(api: APIClient, rt: Any, name: str, namespace: str = "default") -> bool:
    try:
        await api.get(rt, name, namespace=namespace)
    except errors.NotFound:
        return True
    return False


async def rolled_out(api: APIClient, name: str, replicas: int) -> bool:
    d = await api.get(DEPLOYMENTS, name, namespace="default")
    st = d.get("status") or {}
    return bool(
        st.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and st.get("updatedReplicas") == replicas
        and st.get("replicas") == replicas
        and st.get("availableReplicas") == replicas
    )


# --- Deployments -------------------------------------------------------------


async def test_deployment_rollout_scale_self_heal_update_and_rollback(
    api: APIClient, controller_manager: ControllerManagerProcess
) -> None:
    await api.create(DEPLOYMENTS, deployment("redis"), namespace="default")
    async with fake_kubelet(api):
        await eventually(lambda: rolled_out(api, "redis", 3), what="3 replicas rolled out")
        [rs1] = await replicasets_of(api, "app=redis")
        assert rs1["metadata"]["annotations"][REVISION] == "1"
        pods = await pods_of(api, "app=redis")
        assert len(pods) == 3
        for p in pods:
            assert p["metadata"]["ownerReferences"][0]["name"] == rs1["metadata"]["name"]
            assert p["metadata"]["name"].startswith(rs1["metadata"]["name"] + "-")
        d = await api.get(DEPLOYMENTS, "redis", namespace="default")
        conditions = {c["type"]: c for c in d["status"]["conditions"]}
        assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"

        # self-healing: a deleted pod is replaced
        victim = pods[0]["metadata"]["name"]
        await api.delete(PODS, victim, namespace="default", options={"gracePeriodSeconds": 0})

        async def replaced() -> bool:
            names = {p["metadata"]["name"] for p in await pods_of(api, "app=redis")}
            return len(names) == 3 and victim not in names

        await eventually(replaced, what="the deleted pod replaced")

        # scale to 4
        await api.patch(DEPLOYMENTS, "redis", {"spec": {"replicas": 4}}, namespace="default")
        await eventually(lambda: rolled_out(api, "redis", 4), what="scaled to 4")

        # set image: a new ReplicaSet, the old one scaled to 0
        await api.patch(
            DEPLOYMENTS,
            "redis",
            {
                "metadata": {"annotations": {"kubernetes.io/change-cause": "image redis:7"}},
                "spec": {
                    "template": {"spec": {"containers": [{"name": "main", "image": "redis:7"}]}}
                },
            },
            namespace="default",
            patch_type="application/strategic-merge-patch+json",
        )
        await eventually(lambda: rolled_out(api, "redis", 4), within=60, what="redis:7 rolled out")

        async def two_revisions() -> list[JSON] | None:
            rss = sorted(
                await replicasets_of(api, "app=redis"),
                key=lambda r: int(r["metadata"]["annotations"][REVISION]),
            )
            return rss if len(rss) == 2 and rss[0]["spec"]["replicas"] == 0 else None

        old, new = await eventually(two_revisions, what="old ReplicaSet scaled to 0")
        assert old["metadata"]["name"] == rs1["metadata"]["name"]
        assert new["metadata"]["annotations"][REVISION] == "2"
        assert new["metadata"]["annotations"]["kubernetes.io/change-cause"] == "image redis:7"
        assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "redis:7"
        assert new["spec"]["replicas"] == 4

        # rollout undo --to-revision=1, as kubectl does it: the old template back
        template = copy.deepcopy(old["spec"]["template"])
        del template["metadata"]["labels"]["pod-template-hash"]
        await api.patch(
            DEPLOYMENTS,
            "redis",
            [{"op": "replace", "path": "/spec/template", "value": template}],
            namespace="default",
            patch_type="application/json-patch+json",
        )

        async def rolled_back() -> bool:
            rss = {r["metadata"]["name"]: r for r in await replicasets_of(api, "app=redis")}
            first = rss[old["metadata"]["name"]]
            return bool(
                first["spec"]["replicas"] == 4
                and first["metadata"]["annotations"][REVISION] == "3"
                and rss[new["metadata"]["name"]]["spec"]["replicas"] == 0
            )

        await eventually(rolled_back, within=60, what="rolled back to revision 1's template")
        await eventually(lambda: rolled_out(api, "redis", 4), within=60, what="rollback done")
        d = await api.get(DEPLOYMENTS, "redis", namespace="default")
        assert d["metadata"]["annotations"][REVISION] == "3"
        images = {p["spec"]["containers"][0]["image"] for p in await pods_of(api, "app=redis")}
        assert images == {"redis:6"}

    events = (await api.list(EVENTS, namespace="default"))["items"]
    reasons = {e["reason"] for e in events}
    assert {"ScalingReplicaSet", "SuccessfulCreate", "SuccessfulDelete"} <= reasons


async def test_rolling_update_never_violates_surge_and_unavailable(
    api: APIClient, controller_manager: ControllerManagerProcess
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}
    await api.create(
        DEPLOYMENTS, deployment("web", replicas=4, strategy=strategy), namespace="default"
    )
    async with fake_kubelet(api):
        await eventually(lambda: rolled_out(api, "web", 4), what="4 replicas rolled out")
        violations: list[str] = []
        done = asyncio.Event()

        async def watch_bounds() -> None:
            while not done.is_set():
                pods = await pods_of(api, "app=web")
                ready = sum(1 for p in pods if is_ready(p))
                if len(pods) > 4 + 2:
                    violations.append(f"{len(pods)} pods exist (max 6)")
                if ready < 4 - 1:
                    violations.append(f"only {ready} ready pods (min 3)")
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch_bounds())
        await api.patch(
            DEPLOYMENTS,
            "web",
            {
                "spec": {
                    "template": {"spec": {"containers": [{"name": "main", "image": "redis:7"}]}}
                }
            },
            namespace="default",
            patch_type="application/strategic-merge-patch+json",
        )

        async def updated() -> bool:
            pods = await pods_of(api, "app=web")
            return (
                await rolled_out(api, "web", 4)
                and len(pods) == 4
                and all(p["spec"]["containers"][0]["image"] == "redis:7" for p in pods)
            )

        await eventually(updated, within=60, what="rolling update to redis:7")
        done.set()
        await watcher
    assert violations == []


async def test_standby_finishes_the_rollout_when_the_leader_dies(
    api: APIClient, apiserver: ApiserverProcess, tmp_path: Path
) -> None:
    election = (
        "--leader-elect-lease-duration",
        "4",
        "--leader-elect-renew-deadline",
        "3",
        "--leader-elect-retry-period",
        "0.5",
    )
    leader = ControllerManagerProcess(apiserver, tmp_path, *election)
    standby = ControllerManagerProcess(apiserver, tmp_path, *election)
    created: set[str] = set()

    async def record_creations() -> None:
        async for event in api.watch(PODS, namespace="default"):
            if event.type == "ADDED":
                image = event.object["spec"]["containers"][0]["image"]
                created.add(f"{image} {event.object['metadata']['name']}")

    recorder = asyncio.create_task(record_creations())
    try:
        leader.start()

        async def lease_held() -> bool:
            lease = await api.get(LEASES, "controller-manager", namespace="kube-system")
            return bool(lease["spec"].get("holderIdentity"))

        await eventually(lease_held, what="the first controller-manager leading")
        standby.start()
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        await api.create(
            DEPLOYMENTS, deployment("ha", replicas=4, strategy=strategy), namespace="default"
        )
        async with fake_kubelet(api, per_tick=1, tick=1.0):
            await eventually(lambda: rolled_out(api, "ha", 4), what="4 replicas rolled out")
            await api.patch(
                DEPLOYMENTS,
                "ha",
                {
                    "spec": {
                        "template": {"spec": {"containers": [{"name": "main", "image": "redis:7"}]}}
                    }
                },
                namespace="default",
                patch_type="application/strategic-merge-patch+json",
            )

            async def mid_rollout() -> bool:
                pods = await pods_of(api, "app=ha")
                new = [p for p in pods if p["spec"]["containers"][0]["image"] == "redis:7"]
                return 1 <= len(new) < 4

            await eventually(mid_rollout, what="the rollout under way")
            leader.kill()

            async def finished() -> bool:
                pods = await pods_of(api, "app=ha")
                return (
                    await rolled_out(api, "ha", 4)
                    and len(pods) == 4
                    and all(p["spec"]["containers"][0]["image"] == "redis:7" for p in pods)
                )

            await eventually(finished, within=90, what="the standby finishing the rollout")
    finally:
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError, errors.APIError):
            await recorder
        leader.stop()
        standby.stop()
    # Nothing created twice: 4 pods of each template, no more.
    assert len([c for c in created if c.startswith("redis:6 ")]) == 4
    assert len([c for c in created if c.startswith("redis:7 ")]) == 4


# --- garbage collection ---------------------------------------------------------


async def test_cascading_deletion_background_foreground_orphan(
    api: APIClient, controller_manager: ControllerManagerProcess
) -> None:
    for name in ("bg", "fg", "orphan"):
        await api.create(DEPLOYMENTS, deployment(name, replicas=2), namespace="default")
    for name in ("bg", "fg", "orphan"):
        selector = f"app={name}"

        async def two_pods(selector: str = selector) -> bool:
            return await _count_is(pods_of(api, selector), 2)

        await eventually(two_pods, what=f"{name} pods")

    # background (kubectl's default): the Deployment goes at once, then the rest
    await api.delete(
        DEPLOYMENTS, "bg", namespace="default", options={"propagationPolicy": "Background"}
    )
    assert await gone(api, DEPLOYMENTS, "bg")
    await eventually(lambda: _count_is(replicasets_of(api, "app=bg"), 0), what="bg RS deleted")
    await eventually(lambda: _count_is(pods_of(api, "app=bg"), 0), what="bg pods deleted")

    # foreground: the Deployment stays (deletionTimestamp) until its dependents are gone
    deleted = await api.delete(
        DEPLOYMENTS, "fg", namespace="default", options={"propagationPolicy": "Foreground"}
    )
    assert "foregroundDeletion" in deleted["metadata"]["finalizers"]
    await eventually(lambda: gone(api, DEPLOYMENTS, "fg"), what="fg Deployment finally deleted")
    assert await replicasets_of(api, "app=fg") == []
    assert await pods_of(api, "app=fg") == []

    # orphan: the Deployment goes, its ReplicaSet and pods stay, without owner
    await api.delete(
        DEPLOYMENTS, "orphan", namespace="default", options={"propagationPolicy": "Orphan"}
    )
    await eventually(lambda: gone(api, DEPLOYMENTS, "orphan"), what="orphan Deployment deleted")
    [rs] = await replicasets_of(api, "app=orphan")
    assert not rs["metadata"].get("ownerReferences")
    assert len(await pods_of(api, "app=orphan")) == 2


async def _count_is(items: Awaitable[list[JSON]], n: int) -> bool:
    return len(await items) == n


# --- namespaces ---------------------------------------------------------------------


async def test_namespace_deletion_removes_its_content(
    api: APIClient, controller_manager: ControllerManagerProcess
) -> None:
    await api.create(NAMESPACES, {"metadata": {"name": "lab"}})
    await api.create(DEPLOYMENTS, deployment("app", replicas=2), namespace="lab")
    await api.create(
        SERVICES,
        {
            "metadata": {"name": "app"},
            "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]},
        },
        namespace="lab",
    )
    await api.create(CONFIGMAPS, {"metadata": {"name": "cfg"}, "data": {"k": "v"}}, namespace="lab")
    await eventually(
        lambda: _count_is(pods_of(api, "app=app", namespace="lab"), 2), what="pods in lab"
    )
    # the service account controller gave the namespace its `default` ServiceAccount
    await eventually(
        lambda: api.get(SERVICEACCOUNTS, "default", namespace="lab"), what="default SA"
    )
    await api.delete(NAMESPACES, "lab")
    ns = await api.get(NAMESPACES, "lab")
    assert ns["status"]["phase"] == "Terminating"
    await eventually(lambda: gone(api, NAMESPACES, "lab", namespace=""), what="namespace gone")
    for rt in (DEPLOYMENTS, REPLICASETS, PODS, SERVICES, CONFIGMAPS, ENDPOINTS):
        assert (await api.list(rt, namespace="lab"))["items"] == []


# --- endpoints ------------------------------------------------------------------------


async def test_endpoints_follow_pod_readiness(
    api: APIClient, controller_manager: ControllerManagerProcess
) -> None:
    await api.create(
        SERVICES,
        {
            "metadata": {"name": "db"},
            "spec": {
                "selector": {"app": "db"},
                "ports": [{"name": "redis", "port": 6379, "targetPort": "redis"}],
            },
        },
        namespace="default",
    )
    await api.create(DEPLOYMENTS, deployment("db", replicas=2), namespace="default")
    pods = await eventually(lambda: _exactly(pods_of(api, "app=db"), 2), what="2 db pods created")
    await set_pod_ready(api, pods[0], ready=True)
    await set_pod_ready(api, pods[1], ready=False)

    async def endpoints_split() -> JSON | None:
        ep = await api.get(ENDPOINTS, "db", namespace="default")
        [subset] = ep.get("subsets") or [{}]
        if (
            len(subset.get("addresses") or []) == 1
            and len(subset.get("notReadyAddresses") or []) == 1
        ):
            return dict(subset)
        return None

    subset = await eventually(endpoints_split, what="one ready, one not-ready address")
    assert subset["ports"] == [{"name": "redis", "port": 6379, "protocol": "TCP"}]
    assert subset["addresses"][0]["targetRef"]["name"] == pods[0]["metadata"]["name"]

    fresh = await api.get(PODS, pods[1]["metadata"]["name"], namespace="default")
    await set_pod_ready(api, fresh, ready=True)

    async def both_ready() -> bool:
        ep = await api.get(ENDPOINTS, "db", namespace="default")
        [subset] = ep.get("subsets") or [{}]
        return len(subset.get("addresses") or []) == 2 and not subset.get("notReadyAddresses")

    await eventually(both_ready, what="both addresses ready")


async def _exactly(items: Awaitable[list[JSON]], n: int) -> list[JSON] | None:
    got = await items
    return got if len(got) == n else None


# --- node lifecycle -----------------------------------------------------------------------


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def test_node_that_stops_heartbeating_goes_not_ready_and_its_pods_are_evicted(
    api: APIClient, controller_manager: ControllerManagerProcess
) -> None:
    node = await api.create(
        NODES,
        {"metadata": {"name": "worker-1", "labels": {"kubernetes.io/hostname": "worker-1"}}},
    )
    node["status"] = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": _now(),
                "lastTransitionTime": _now(),
            }
        ]
    }
    await api.update_status(NODES, node)
    lease = await api.create(
        LEASES,
        {
            "metadata": {"name": "worker-1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "worker-1", "leaseDurationSeconds": 40, "renewTime": _now()},
        },
        namespace="kube-node-lease",
    )
    pod = await api.create(
        PODS,
        {
            "metadata": {"name": "on-worker"},
            "spec": {"nodeName": "worker-1", "containers": [{"name": "c", "image": "redis:6"}]},
        },
        namespace="default",
    )
    await set_pod_ready(api, pod)

    stop = asyncio.Event()

    first_renewal = lease["spec"]["renewTime"]

    async def renew() -> None:
        current = copy.deepcopy(lease)
        while not stop.is_set():
            current["spec"]["renewTime"] = _now()
            current = await api.update(LEASES, current)
            await asyncio.sleep(1)

    renewer = asyncio.create_task(renew())
    try:
        # A few renewals, then the kubelet "dies".
        async def renewed() -> bool:
            current = await api.get(LEASES, "worker-1", namespace="kube-node-lease")
            return bool(current["spec"]["renewTime"] != first_renewal)

        await eventually(renewed, what="lease renewed")
    finally:
        stop.set()
        await renewer

    async def not_ready() -> JSON | None:
        n = await api.get(NODES, "worker-1")
        ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
        taints = {(t["key"], t["effect"]) for t in (n.get("spec") or {}).get("taints") or []}
        if (
            ready["status"] == "Unknown"
            and (
                "node.kubernetes.io/unreachable",
                "NoExecute",
            )
            in taints
        ):
            return dict(ready)
        return None

    ready = await eventually(not_ready, within=30, what="node NotReady and tainted")
    assert ready["reason"] == "NodeStatusUnknown"
    assert ready["message"] == "Kubelet stopped posting node status."

    async def evicted() -> bool:
        try:
            p = await api.get(PODS, "on-worker", namespace="default")
        except errors.NotFound:
            return True
        return bool(p["metadata"].get("deletionTimestamp"))

    await eventually(evicted, within=30, what="the pod evicted")
    events = (await api.list(EVENTS, namespace="default"))["items"]
    assert "TaintManagerEviction" in {e["reason"] for e in events}

    # The kubelet comes back: Ready again, the taints go.
    n = await api.get(NODES, "worker-1")
    for c in n["status"]["conditions"]:
        if c["type"] == "Ready":
            c.update(status="True", reason="KubeletReady", lastHeartbeatTime=_now())
    await api.update_status(NODES, n)

    async def untainted() -> bool:
        n = await api.get(NODES, "worker-1")
        return not (n.get("spec") or {}).get("taints")

    await eventually(untainted, within=30, what="taints removed")


# --- Job, DaemonSet, StatefulSet ------------------------------------------------------

JOBS = lookup("batch", "v1", "jobs")
DAEMONSETS = lookup("apps", "v1", "daemonsets")
STATEFULSETS = lookup("apps", "v1", "statefulsets")
TEMPLATE = {"spec": {"containers": [{"name": "main", "image": "busybox"}]}}


async def test_job_daemonset_and_statefulset(
    api: APIClient, controller_manager: ControllerManagerProcess
) -> None:
    # A Job of 2 completions: each pod "succeeds" when it appears.
    await api.create(
        JOBS,
        {
            "metadata": {"name": "pi"},
            "spec": {
                "completions": 2,
                "template": {**TEMPLATE, "spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}},
            },
        },
        namespace="default",
    )

    async def job_complete() -> bool:
        for p in (await api.list(PODS, namespace="default", label_selector="job-name=pi"))["items"]:
            if (p.get("status") or {}).get("phase") != "Succeeded":
                p["status"] = {"phase": "Succeeded"}
                with contextlib.suppress(errors.Conflict):
                    await api.update_status(PODS, p)
        job = await api.get(JOBS, "pi", namespace="default")
        return any(
            c["type"] == "Complete" and c["status"] == "True"
            for c in (job.get("status") or {}).get("conditions") or []
        )

    await eventually(job_complete, what="the Job complete")
    job = await api.get(JOBS, "pi", namespace="default")
    assert job["status"]["succeeded"] == 2

    # A DaemonSet on two nodes: one pod each, pinned by node affinity.
    for node in ("node-a", "node-b"):
        await api.create(NODES, {"metadata": {"name": node}})
    await api.create(
        DAEMONSETS,
        {
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {**TEMPLATE, "metadata": {"labels": {"app": "agent"}}},
            },
        },
        namespace="default",
    )

    async def daemon_pods() -> list[str] | None:
        pods = await pods_of(api, "app=agent")
        targets = sorted(
            t["matchFields"][0]["values"][0]
            for p in pods
            for t in p["spec"]["affinity"]["nodeAffinity"][
                "requiredDuringSchedulingIgnoredDuringExecution"
            ]["nodeSelectorTerms"]
        )
        return targets if targets == ["node-a", "node-b"] else None

    await eventually(daemon_pods, what="one daemon pod per node")

    async def ds_status() -> bool:
        ds = await api.get(DAEMONSETS, "agent", namespace="default")
        return bool((ds.get("status") or {}).get("desiredNumberScheduled") == 2)

    await eventually(ds_status, what="DaemonSet status")

    # A StatefulSet of 2: web-0 then web-1, with stable hostnames.
    await api.create(
        STATEFULSETS,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "sts"}},
                "template": {**TEMPLATE, "metadata": {"labels": {"app": "sts"}}},
            },
        },
        namespace="default",
    )
    async with fake_kubelet(api):

        async def sts_ready() -> bool:
            sts = await api.get(STATEFULSETS, "web", namespace="default")
            return bool((sts.get("status") or {}).get("readyReplicas") == 2)

        await eventually(sts_ready, what="StatefulSet ready")
    names = sorted(p["metadata"]["name"] for p in await pods_of(api, "app=sts"))
    assert names == ["web-0", "web-1"]
    web1 = await api.get(PODS, "web-1", namespace="default")
    assert web1["spec"]["hostname"] == "web-1" and web1["spec"]["subdomain"] == "web"


# --- persistent volumes -----------------------------------------------------------------

PVCS = lookup("", "v1", "persistentvolumeclaims")
PVS = lookup("", "v1", "persistentvolumes")


async def test_claims_are_bound_to_volumes_or_provisioned(
    api: APIClient, controller_manager: ControllerManagerProcess
) -> None:
    await api.create(
        PVS,
        {
            "metadata": {"name": "manual"},
            "spec": {
                "capacity": {"storage": "2Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "hostPath": {"path": "/tmp/kubelab-manual"},
            },
        },
    )
    for name, cls in (("static", ""), ("dynamic", None)):
        spec: JSON = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        }
        if cls is not None:
            spec["storageClassName"] = cls
        await api.create(PVCS, {"metadata": {"name": name}, "spec": spec}, namespace="default")

    async def bound(name: str) -> JSON | None:
        pvc = await api.get(PVCS, name, namespace="default")
        return pvc if (pvc.get("status") or {}).get("phase") == "Bound" else None

    static = await eventually(lambda: bound("static"), what="static claim bound")
    assert static["spec"]["volumeName"] == "manual"
    assert static["status"]["capacity"] == {"storage": "2Gi"}
    dynamic = await eventually(lambda: bound("dynamic"), what="dynamic claim bound")
    pv = await api.get(PVS, dynamic["spec"]["volumeName"])
    assert pv["spec"]["claimRef"]["name"] == "dynamic"
    assert pv["status"]["phase"] == "Bound"

    await api.delete(PVCS, "dynamic", namespace="default")
    await eventually(
        lambda: gone(api, PVS, dynamic["spec"]["volumeName"], namespace=""),
        what="provisioned volume deleted with its claim",
    )
