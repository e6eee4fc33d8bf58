"""A kubelet process on the host's Docker against a real apiserver.

Real containers on a test network (10.200.61.0/24): the pod runs with an IP,
its status and events are what `kubectl get/describe` shows, logs and exec go
through the kubelet's gRPC API, a crashing container restarts with back-off,
deletion is graceful, and a restarted kubelet neither restarts running
containers nor keeps containers of pods it no longer has.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from genproto import kubelet_pb2, kubelet_pb2_grpc
from tests.polling import eventually
from tests.processes import ROOT, ApiserverProcess, free_port, http_ok, need, wait_until

pytestmark = [pytest.mark.etcd, pytest.mark.docker]

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
LEASES = lookup("coordination.k8s.io", "v1", "leases")
EVENTS = lookup("", "v1", "events")
CONFIGMAPS = lookup("", "v1", "configmaps")
JSON = dict[str, Any]

SUBNET = "10.200.61.0/24"
GATEWAY = "10.200.61.1"
BUSYBOX = "kubelab/busybox:1.36"
PAUSE = "kubelab/pause:3.9"
NGINX = "kubelab/nginx:latest"
TEST_LABEL = "io.kubelab.test"


def _docker() -> Any:
    try:
        import docker

        client = docker.from_env()
        client.ping()
        return client
    except Exception as e:
        need("Docker", f"the kubelet runs real containers ({e})")
        raise


@pytest.fixture(scope="module")
def docker_client() -> Iterator[Any]:
    client = _docker()
    # The project's own images (built locally, never pulled); `nginx:latest` and
    # `alpine:latest` are their aliases, as the seeds name them.
    wanted = (BUSYBOX, PAUSE, NGINX, "nginx:latest", "alpine:latest")
    if any(not client.images.list(name=i) for i in wanted):
        from kubelab import images

        for spec in images.SPECS:
            if spec.name in (BUSYBOX, PAUSE, NGINX):
                images.build_image(spec, rebuild=False, log=Path("/tmp/kubelab-test-images.log"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def network(docker_client: Any) -> Iterator[str]:
    """The test network (10.200.61.0/24). Two test runs on one machine take turns:
    a lock file serializes them instead of letting their subnets collide."""
    import docker

    lock = Path("/tmp/kubelab-test-kubelet.lock").open("w")  # noqa: SIM115
    deadline = time.monotonic() + 240
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                pytest.fail("another test run holds the kubelet test network for 240 s")
            time.sleep(1)
    name = f"kubelab-test-kubelet-{os.getpid()}"
    try:
        for old in docker_client.networks.list(filters={"label": f"{TEST_LABEL}=1"}):
            if old.name.startswith("kubelab-test-kubelet"):
                with contextlib.suppress(docker.errors.APIError):
                    old.remove()
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=SUBNET, gateway=GATEWAY)]
        )
        net = docker_client.networks.create(
            name, driver="bridge", ipam=ipam, labels={TEST_LABEL: "1"}
        )
        yield name
        with contextlib.suppress(docker.errors.APIError):
            net.remove()
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


class KubeletProcess:
    def __init__(
        self,
        apiserver: ApiserverProcess,
        work_dir: Path,
        node: str,
        network: str,
        *extra_args: str,
        node_ip: str = GATEWAY,
    ) -> None:
        self.apiserver = apiserver
        self.node = node
        self.network = network
        self.node_ip = node_ip
        self.extra_args = list(extra_args)
        self.health_port = free_port()
        self.grpc_port = free_port()
        self.log = work_dir / f"kubelet-{node}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubelet",
                "--apiserver",
                self.apiserver.address,
                "--health-address",
                f"127.0.0.1:{self.health_port}",
                "--node-name",
                self.node,
                "--node-ip",
                self.node_ip,
                "--pod-network",
                self.network,
                "--port",
                f"127.0.0.1:{self.grpc_port}",
                "--pod-infra-container-image",
                PAUSE,
                "--container-labels",
                f"{TEST_LABEL}=1",
                "--crashloop-backoff",
                "1",
                "--crashloop-backoff-max",
                "4",
                "--sync-frequency",
                "5",
                *self.extra_args,
            ],
            cwd=ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "KUBELAB_IMAGE_PULLS": "disabled"},
        )

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"kubelet exited: {self.log.read_text()[-3000:]}")
            return http_ok(f"http://127.0.0.1:{self.health_port}/healthz")

        wait_until(ready, 30, "kubelet did not become healthy")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _cleanup(client: Any, node: str) -> None:
    import docker

    selector = {"label": [f"io.kubelab.node={node}"]}
    for c in client.containers.list(all=True, filters=selector):
        with contextlib.suppress(docker.errors.APIError):
            c.remove(force=True)
    for v in client.volumes.list(filters=selector):
        with contextlib.suppress(docker.errors.APIError):
            v.remove(force=True)


@pytest.fixture
def kubelet(
    apiserver: ApiserverProcess, tmp_path: Path, network: str, docker_client: Any
) -> Iterator[KubeletProcess]:
    node = f"h6-{uuid.uuid4().hex[:8]}"
    proc = KubeletProcess(apiserver, tmp_path, node, network)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
        _cleanup(docker_client, node)


def make_pod(name: str, node: str, *, containers: list[JSON], **spec: Any) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "containers": containers,
            "terminationGracePeriodSeconds": 1,
            **spec,
        },
    }


def sh(name: str, script: str, **extra: Any) -> JSON:
    return {"name": name, "image": BUSYBOX, "command": ["sh", "-c", script], **extra}


async def get_pod(api: APIClient, name: str) -> JSON:
    return await api.get(PODS, name, namespace="default")


async def wait_running(api: APIClient, name: str) -> JSON:
    async def running() -> JSON | None:
        pod = await get_pod(api, name)
        status = pod.get("status") or {}
        ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready"]
        if status.get("phase") == "Running" and ready and ready[0]["status"] == "True":
            return pod
        return None

    return await eventually(running, what=f"pod {name} Running and Ready")


def container_ids(client: Any, node: str, **labels: str) -> list[str]:
    filters = [f"io.kubelab.node={node}"] + [
        f"io.kubelab.{k.replace('_', '.')}={v}" for k, v in labels.items()
    ]
    return sorted(c.id for c in client.containers.list(all=True, filters={"label": filters}))


@pytest.fixture
async def kubelet_stub(kubelet: KubeletProcess) -> AsyncIterator[kubelet_pb2_grpc.KubeletStub]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{kubelet.grpc_port}")
    yield kubelet_pb2_grpc.KubeletStub(channel)
    await channel.close(None)


async def test_node_registers_and_heartbeats(api: APIClient, kubelet: KubeletProcess) -> None:
    async def registered() -> JSON | None:
        return await api.get(NODES, kubelet.node)

    node = await eventually(registered, what="node registered")
    status = node["status"]
    assert status["capacity"]["cpu"] == "4" and status["allocatable"]["pods"] == "110"
    assert {"type": "InternalIP", "address": GATEWAY} in status["addresses"]
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == kubelet.grpc_port
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["reason"] == "KubeletReady"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == kubelet.node

    async def renewed() -> bool:
        lease = await api.get(LEASES, kubelet.node, namespace="kube-node-lease")
        first = lease["spec"]["renewTime"]
        await asyncio.sleep(2.5)
        lease = await api.get(LEASES, kubelet.node, namespace="kube-node-lease")
        return bool(lease["spec"]["renewTime"] != first)

    assert await eventually(renewed, what="lease renewed")


async def test_pod_runs_with_ip_env_logs_and_exec(
    api: APIClient,
    kubelet: KubeletProcess,
    kubelet_stub: kubelet_pb2_grpc.KubeletStub,
    docker_client: Any,
) -> None:
    await api.create(
        CONFIGMAPS,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default"},
            "data": {"color": "blue", "app.conf": "listen 80\n"},
        },
    )
    env = [
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    pod = make_pod(
        "web",
        kubelet.node,
        containers=[
            sh(
                "main",
                "echo color=$COLOR ip=$MY_IP name=$MY_NAME; cat /etc/cfg/app.conf; "
                "echo data > /data/x; httpd -f -p 8080",
                env=env,
                volumeMounts=[
                    {"name": "cfg", "mountPath": "/etc/cfg"},
                    {"name": "data", "mountPath": "/data"},
                ],
                resources={"limits": {"memory": "64Mi", "cpu": "500m"}},
                readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1},
            ),
            sh("side", "sleep 3600", volumeMounts=[{"name": "data", "mountPath": "/shared"}]),
        ],
        volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "data", "emptyDir": {}}],
        terminationGracePeriodSeconds=2,
    )
    await api.create(PODS, pod)
    running = await wait_running(api, "web")
    status = running["status"]
    ip = status["podIP"]
    assert ip.startswith("10.200.61.")
    assert status["hostIP"] == GATEWAY
    names = {c["name"]: c for c in status["containerStatuses"]}
    assert names["main"]["ready"] and names["main"]["containerID"].startswith("docker://")
    assert "running" in names["main"]["state"] and names["main"]["restartCount"] == 0
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert conds["Initialized"] == conds["ContainersReady"] == conds["PodScheduled"] == "True"

    # The cgroup limits are Docker's.
    main_id = names["main"]["containerID"].removeprefix("docker://")
    host_config = docker_client.api.inspect_container(main_id)["HostConfig"]
    assert host_config["Memory"] == 64 * 1024 * 1024 and host_config["NanoCpus"] == 500_000_000

    # Logs through the kubelet's gRPC API.
    async def logs() -> str | None:
        chunks = [
            c.data
            async for c in kubelet_stub.Logs(
                kubelet_pb2.LogsRequest(
                    pod=kubelet_pb2.PodRef(namespace="default", name="web"), container="main"
                )
            )
        ]
        text = b"".join(chunks).decode()
        return text if "listen 80" in text else None

    text = await eventually(logs, what="logs")
    assert f"color=blue ip={ip} name=web" in text

    # --tail=1 --timestamps: the last line, prefixed with its RFC 3339 time.
    tail = b"".join(
        [
            c.data
            async for c in kubelet_stub.Logs(
                kubelet_pb2.LogsRequest(
                    pod=kubelet_pb2.PodRef(namespace="default", name="web"),
                    container="main",
                    tail_lines=1,
                    timestamps=True,
                )
            )
        ]
    ).decode()
    assert tail.count("\n") == 1 and tail.rstrip().endswith("listen 80")
    assert tail[:4].isdigit() and tail[10] == "T"

    # No container name in a two-container pod: upstream's message.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in kubelet_stub.Logs(
            kubelet_pb2.LogsRequest(pod=kubelet_pb2.PodRef(namespace="default", name="web"))
        ):
            pass
    assert refused.value.details() == (
        "a container name must be specified for pod web, choose one of: [main side]"
    )

    # Exec in the sidecar: same network (localhost:8080) and same emptyDir.
    async def exec_out(cmd: list[str]) -> tuple[bytes, int]:
        async def requests() -> AsyncIterator[kubelet_pb2.StreamInput]:
            yield kubelet_pb2.StreamInput(
                start=kubelet_pb2.StreamStart(
                    pod=kubelet_pb2.PodRef(namespace="default", name="web"),
                    container="side",
                    command=cmd,
                    stdout=True,
                    stderr=True,
                )
            )

        out, code = b"", -2
        async for msg in kubelet_stub.Exec(requests()):
            if msg.WhichOneof("kind") == "stdout":
                out += msg.stdout
            elif msg.WhichOneof("kind") == "exit":
                code = msg.exit.code
        return out, code

    out, code = await exec_out(
        ["sh", "-c", "cat /shared/x; wget -q -O- http://localhost:8080/ >/dev/null; echo rc=$?"]
    )
    assert code == 0
    assert b"data" in out

    _, code = await exec_out(["sh", "-c", "exit 3"])
    assert code == 3

    # The sandbox's network set-up: cluster DNS, search path, the service route.
    out, _ = await exec_out(["sh", "-c", "cat /etc/resolv.conf; ip route; hostname"])
    text = out.decode()
    assert "nameserver 10.96.0.10" in text
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in text
    assert "ndots:5" in text
    assert f"10.96.0.0/12 via {GATEWAY}" in text
    assert text.strip().endswith("web")

    # Events as `kubectl describe pod` shows them.
    async def events() -> set[str] | None:
        items = (await api.list(EVENTS, namespace="default"))["items"]
        reasons = {e["reason"] for e in items if e["involvedObject"].get("name") == "web"}
        return reasons if {"Pulled", "Created", "Started"} <= reasons else None

    await eventually(events, what="Pulled/Created/Started events")

    # Graceful deletion: containers stop, then the pod object goes away.
    await api.delete(PODS, "web", namespace="default")

    async def gone() -> bool:
        try:
            await get_pod(api, "web")
        except errors.NotFound:
            return True
        return False

    await eventually(gone, what="pod deleted after its containers stopped")
    assert container_ids(docker_client, kubelet.node) == []


async def test_crashing_container_restarts_with_backoff(
    api: APIClient, kubelet: KubeletProcess, kubelet_stub: kubelet_pb2_grpc.KubeletStub
) -> None:
    await api.create(
        PODS, make_pod("crash", kubelet.node, containers=[sh("c", "echo boom; exit 2")])
    )

    async def restarted_twice() -> JSON | None:
        pod = await get_pod(api, "crash")
        cs = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0]
        return cs if cs.get("restartCount", 0) >= 2 else None

    cs = await eventually(restarted_twice, what="two restarts")
    assert cs["lastState"]["terminated"]["exitCode"] == 2

    async def crash_loop() -> JSON | None:
        pod = await get_pod(api, "crash")
        cs = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0]
        waiting = (cs.get("state") or {}).get("waiting") or {}
        return cs if waiting.get("reason") == "CrashLoopBackOff" else None

    cs = await eventually(crash_loop, what="CrashLoopBackOff")
    assert "back-off" in cs["state"]["waiting"]["message"]

    # `kubectl logs --previous`: the last terminated instance's output.
    chunks = [
        c.data
        async for c in kubelet_stub.Logs(
            kubelet_pb2.LogsRequest(
                pod=kubelet_pb2.PodRef(namespace="default", name="crash"), previous=True
            )
        )
    ]
    assert b"".join(chunks) == b"boom\n"

    async def backoff_event() -> bool:
        items = (await api.list(EVENTS, namespace="default"))["items"]
        return any(
            e["reason"] == "BackOff" and "Back-off restarting failed container c" in e["message"]
            for e in items
        )

    await eventually(backoff_event, what="BackOff event")


async def test_missing_image_and_run_as_non_root_are_reported(
    api: APIClient, kubelet: KubeletProcess
) -> None:
    await api.create(
        PODS,
        make_pod(
            "noimg",
            kubelet.node,
            containers=[{"name": "c", "image": "kubelab-test/does-not-exist:1"}],
        ),
    )
    await api.create(
        PODS,
        make_pod(
            "root",
            kubelet.node,
            containers=[sh("c", "sleep 3600")],
            securityContext={"runAsNonRoot": True},
        ),
    )

    async def waiting(name: str, reasons: tuple[str, ...]) -> JSON | None:
        pod = await get_pod(api, name)
        cs = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0]
        w = (cs.get("state") or {}).get("waiting") or {}
        return w if w.get("reason") in reasons else None

    w = await eventually(
        lambda: waiting("noimg", ("ErrImagePull", "ImagePullBackOff")), what="image pull error"
    )
    assert "kubelab-test/does-not-exist:1" in w["message"]
    w = await eventually(
        lambda: waiting("root", ("CreateContainerConfigError",)), what="runAsNonRoot refusal"
    )
    pod = await get_pod(api, "root")
    uid = pod["metadata"]["uid"]
    assert w["message"] == (
        f'container has runAsNonRoot and image will run as root (pod: "root_default({uid})", '
        "container: c)"
    )


async def test_restarted_kubelet_keeps_containers_and_removes_orphans(
    api: APIClient, kubelet: KubeletProcess, docker_client: Any
) -> None:
    await api.create(PODS, make_pod("keep", kubelet.node, containers=[sh("c", "sleep 3600")]))
    await api.create(
        PODS,
        make_pod(
            "doomed",
            kubelet.node,
            containers=[sh("c", "sleep 3600")],
            terminationGracePeriodSeconds=0,
        ),
    )
    await wait_running(api, "keep")
    doomed = await wait_running(api, "doomed")
    before = container_ids(docker_client, kubelet.node, pod_name="keep")
    assert len(before) == 2  # sandbox + app

    kubelet.stop(kill=True)
    # While the kubelet is away, one pod is deleted for good (as a node
    # controller or `--force` would), and one container is removed behind its back.
    await api.delete(PODS, "doomed", namespace="default", options={"gracePeriodSeconds": 0})
    kubelet.start()

    async def orphans_removed() -> bool:
        uid = doomed["metadata"]["uid"]
        return container_ids(docker_client, kubelet.node, pod_uid=uid) == []

    await eventually(orphans_removed, what="orphan containers removed")
    assert container_ids(docker_client, kubelet.node, pod_name="keep") == before

    # A container removed behind the kubelet's back is recreated.
    app = next(
        c
        for c in docker_client.containers.list(
            filters={
                "label": [
                    f"io.kubelab.node={kubelet.node}",
                    "io.kubelab.container=c",
                    "io.kubelab.pod.name=keep",
                ]
            }
        )
    )
    app.remove(force=True)

    async def recreated() -> bool:
        pod = await get_pod(api, "keep")
        cs = pod["status"]["containerStatuses"][0]
        return "running" in cs["state"] and cs["containerID"] != f"docker://{app.id}"

    await eventually(recreated, what="removed container recreated")


async def test_init_containers_then_app_and_probes(api: APIClient, kubelet: KubeletProcess) -> None:
    # The seed's initContainers example: an init step, then the web server starts.
    await api.create(
        PODS,
        make_pod(
            "init-demo",
            kubelet.node,
            initContainers=[
                sh(
                    "install",
                    "sleep 1; echo '<h1>hello</h1>' > /work-dir/index.html",
                    volumeMounts=[{"name": "workdir", "mountPath": "/work-dir"}],
                )
            ],
            containers=[
                sh(
                    "web",
                    "httpd -f -p 80 -h /usr/share/nginx/html",
                    volumeMounts=[{"name": "workdir", "mountPath": "/usr/share/nginx/html"}],
                    readinessProbe={
                        "httpGet": {"path": "/index.html", "port": 80},
                        "periodSeconds": 1,
                    },
                )
            ],
            volumes=[{"name": "workdir", "emptyDir": {}}],
        ),
    )
    pod = await wait_running(api, "init-demo")
    init = pod["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["exitCode"] == 0
    assert init["state"]["terminated"]["reason"] == "Completed"

    # A failing liveness probe restarts the container; a failing readiness probe
    # makes the pod not Ready without restarting it.
    probe = {"periodSeconds": 1, "failureThreshold": 1}
    await api.create(
        PODS,
        make_pod(
            "probed",
            kubelet.node,
            containers=[
                sh(
                    "live",
                    "sleep 3600",
                    livenessProbe={"exec": {"command": ["test", "-e", "/nope"]}, **probe},
                ),
                sh(
                    "unready",
                    "sleep 3600",
                    readinessProbe={"exec": {"command": ["false"]}, **probe},
                ),
            ],
        ),
    )

    async def restarted_by_liveness() -> JSON | None:
        pod = await get_pod(api, "probed")
        statuses = {c["name"]: c for c in (pod.get("status") or {}).get("containerStatuses") or []}
        live = statuses.get("live") or {}
        return pod if live.get("restartCount", 0) >= 1 else None

    pod = await eventually(restarted_by_liveness, what="liveness restart")
    statuses = {c["name"]: c for c in pod["status"]["containerStatuses"]}
    assert statuses["unready"]["restartCount"] == 0
    assert statuses["unready"]["ready"] is False
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert "unready" in ready["message"]

    async def unhealthy_events() -> bool:
        items = (await api.list(EVENTS, namespace="default"))["items"]
        return any(
            e["reason"] == "Unhealthy" and e["message"].startswith("Liveness probe failed")
            for e in items
        )

    await eventually(unhealthy_events, what="Unhealthy event")


async def test_port_forward_reaches_the_pod(
    api: APIClient, kubelet: KubeletProcess, kubelet_stub: kubelet_pb2_grpc.KubeletStub
) -> None:
    await api.create(
        PODS,
        make_pod(
            "echo",
            kubelet.node,
            containers=[
                sh(
                    "c",
                    "echo pong > /tmp/i; httpd -f -p 8000 -h /tmp",
                    readinessProbe={"tcpSocket": {"port": 8000}, "periodSeconds": 1},
                )
            ],
        ),
    )
    await wait_running(api, "echo")

    async def forward() -> bytes | None:
        async def requests() -> AsyncIterator[kubelet_pb2.PortForwardInput]:
            yield kubelet_pb2.PortForwardInput(
                pod=kubelet_pb2.PodRef(namespace="default", name="echo"),
                port=8000,
                data=b"GET /i HTTP/1.0\r\n\r\n",
            )

        out = b"".join([m.data async for m in kubelet_stub.PortForward(requests())])
        return out if b"pong" in out else None

    out = await eventually(forward, what="port-forward answer")
    assert out.startswith(b"HTTP/1.")


async def test_pods_on_two_nodes_reach_each_other(
    api: APIClient,
    *,
    apiserver: ApiserverProcess,
    kubelet: KubeletProcess,
    kubelet_stub: kubelet_pb2_grpc.KubeletStub,
    tmp_path: Path,
    network: str,
    docker_client: Any,
) -> None:
    other = KubeletProcess(apiserver, tmp_path, f"h6-{uuid.uuid4().hex[:8]}", network)
    try:
        other.start()
        await api.create(
            PODS,
            make_pod(
                "server",
                other.node,
                containers=[sh("c", "echo hi-from-server > /tmp/i; httpd -f -p 8080 -h /tmp")],
            ),
        )
        await api.create(PODS, make_pod("client", kubelet.node, containers=[sh("c", "sleep 3600")]))
        server = await wait_running(api, "server")
        await wait_running(api, "client")
        ip = server["status"]["podIP"]

        async def fetch() -> bytes | None:
            async def requests() -> AsyncIterator[kubelet_pb2.StreamInput]:
                yield kubelet_pb2.StreamInput(
                    start=kubelet_pb2.StreamStart(
                        pod=kubelet_pb2.PodRef(namespace="default", name="client"),
                        command=["wget", "-q", "-O-", f"http://{ip}:8080/i"],
                        stdout=True,
                    )
                )

            out = b""
            async for msg in kubelet_stub.Exec(requests()):
                if msg.WhichOneof("kind") == "stdout":
                    out += msg.stdout
            return out if b"hi-from-server" in out else None

        await eventually(fetch, what="pod-to-pod across nodes")
    finally:
        other.stop()
        _cleanup(docker_client, other.node)


async def test_configmap_volume_waits_for_its_object_and_follows_updates(
    api: APIClient, kubelet: KubeletProcess, kubelet_stub: kubelet_pb2_grpc.KubeletStub
) -> None:
    await api.create(
        PODS,
        make_pod(
            "reader",
            kubelet.node,
            containers=[
                sh("c", "sleep 3600", volumeMounts=[{"name": "cfg", "mountPath": "/etc/late"}])
            ],
            volumes=[{"name": "cfg", "configMap": {"name": "late"}}],
        ),
    )

    async def failed_mount() -> bool:
        items = (await api.list(EVENTS, namespace="default"))["items"]
        return any(
            e["reason"] == "FailedMount" and 'configmap "late" not found' in e["message"]
            for e in items
        )

    await eventually(failed_mount, what="FailedMount event")
    pod = await get_pod(api, "reader")
    assert pod["status"]["phase"] == "Pending"
    cm = await api.create(
        CONFIGMAPS,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "late", "namespace": "default"},
            "data": {"greeting": "v1"},
        },
    )
    await wait_running(api, "reader")

    async def content() -> bytes:
        async def requests() -> AsyncIterator[kubelet_pb2.StreamInput]:
            yield kubelet_pb2.StreamInput(
                start=kubelet_pb2.StreamStart(
                    pod=kubelet_pb2.PodRef(namespace="default", name="reader"),
                    command=["cat", "/etc/late/greeting"],
                    stdout=True,
                )
            )

        out = b""
        async for msg in kubelet_stub.Exec(requests()):
            if msg.WhichOneof("kind") == "stdout":
                out += msg.stdout
        return out

    assert await content() == b"v1"
    cm["data"] = {"greeting": "v2"}
    await api.update(CONFIGMAPS, cm)

    async def refreshed() -> bool:
        return await content() == b"v2"

    await eventually(refreshed, what="configMap file refreshed")


async def test_seed_pods_init_container_and_run_as_non_root(
    api: APIClient, kubelet: KubeletProcess, kubelet_stub: kubelet_pb2_grpc.KubeletStub
) -> None:
    # The seed tutorial's manifests, with the images they name (local aliases);
    # only the init container's sleep is shortened.
    await api.create(
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "initcontainer-example", "namespace": "default"},
            "spec": {
                "nodeName": kubelet.node,
                "initContainers": [
                    {"name": "sleepy", "image": "alpine", "command": ["sleep", "2"]}
                ],
                "containers": [{"name": "web", "image": "nginx"}],
            },
        },
    )
    await api.create(
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "nginxsecure", "namespace": "default"},
            "spec": {
                "nodeName": kubelet.node,
                "securityContext": {"runAsNonRoot": True},
                "containers": [{"image": "nginx", "name": "nginx"}],
            },
        },
    )

    async def initializing_or_running() -> JSON | None:
        pod = await get_pod(api, "initcontainer-example")
        status = pod.get("status") or {}
        init = (status.get("initContainerStatuses") or [{}])[0]
        if "running" in (init.get("state") or {}) or status.get("phase") == "Running":
            return pod
        return None

    pod = await eventually(initializing_or_running, what="init container running")
    init = pod["status"]["initContainerStatuses"][0]
    if "running" in init["state"]:
        # Seen while the init container sleeps: the app waits in PodInitializing.
        assert pod["status"]["phase"] == "Pending"
        web = pod["status"]["containerStatuses"][0]
        assert web["state"]["waiting"]["reason"] == "PodInitializing"
    pod = await wait_running(api, "initcontainer-example")
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0

    async def page() -> bytes | None:
        async def requests() -> AsyncIterator[kubelet_pb2.PortForwardInput]:
            yield kubelet_pb2.PortForwardInput(
                pod=kubelet_pb2.PodRef(namespace="default", name="initcontainer-example"),
                port=80,
                data=b"GET / HTTP/1.0\r\n\r\n",
            )

        out = b"".join([m.data async for m in kubelet_stub.PortForward(requests())])
        return out if b" 200 " in out.split(b"\r\n", 1)[0] else None

    await eventually(page, what="the web container serving on port 80")

    async def refused() -> JSON | None:
        pod = await get_pod(api, "nginxsecure")
        cs = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0]
        w = (cs.get("state") or {}).get("waiting") or {}
        return w if w.get("reason") == "CreateContainerConfigError" else None

    w = await eventually(refused, what="runAsNonRoot refusal")
    uid = (await get_pod(api, "nginxsecure"))["metadata"]["uid"]
    assert w["message"] == (
        "container has runAsNonRoot and image will run as root "
        f'(pod: "nginxsecure_default({uid})", container: nginx)'
    )


async def test_interactive_exec_with_tty_and_attach(
    api: APIClient, kubelet: KubeletProcess, kubelet_stub: kubelet_pb2_grpc.KubeletStub
) -> None:
    await api.create(
        PODS,
        make_pod(
            "shell",
            kubelet.node,
            containers=[
                sh("c", "sleep 3600"),
                {
                    "name": "talker",
                    "image": BUSYBOX,
                    "command": ["sh", "-c", "while read line; do echo got:$line; done"],
                    "stdin": True,
                },
            ],
        ),
    )
    await wait_running(api, "shell")
    ref = kubelet_pb2.PodRef(namespace="default", name="shell")

    # `kubectl exec -it shell -c c -- sh`: a TTY, typed input, the shell's exit code.
    queue: asyncio.Queue[kubelet_pb2.StreamInput | None] = asyncio.Queue()
    await queue.put(
        kubelet_pb2.StreamInput(
            start=kubelet_pb2.StreamStart(
                pod=ref, container="c", command=["sh"], tty=True, stdin=True, stdout=True
            )
        )
    )
    await queue.put(kubelet_pb2.StreamInput(resize=kubelet_pb2.TerminalSize(width=80, height=24)))
    await queue.put(kubelet_pb2.StreamInput(stdin=b"echo hello-$((6*7))\n"))
    await queue.put(kubelet_pb2.StreamInput(stdin=b"exit 7\n"))

    async def inputs() -> AsyncIterator[kubelet_pb2.StreamInput]:
        while (item := await queue.get()) is not None:
            yield item

    out, code = b"", None
    async with asyncio.timeout(30):
        async for msg in kubelet_stub.Exec(inputs()):
            if msg.WhichOneof("kind") == "stdout":
                out += msg.stdout
            elif msg.WhichOneof("kind") == "exit":
                code = msg.exit.code
                await queue.put(None)
    assert b"hello-42" in out
    assert code == 7

    # `kubectl attach -i shell -c talker`: stdin goes to the main process.
    attach_queue: asyncio.Queue[kubelet_pb2.StreamInput | None] = asyncio.Queue()
    await attach_queue.put(
        kubelet_pb2.StreamInput(
            start=kubelet_pb2.StreamStart(pod=ref, container="talker", stdin=True, stdout=True)
        )
    )
    await attach_queue.put(kubelet_pb2.StreamInput(stdin=b"ping\n"))

    async def attach_inputs() -> AsyncIterator[kubelet_pb2.StreamInput]:
        while (item := await attach_queue.get()) is not None:
            yield item

    call = kubelet_stub.Attach(attach_inputs())
    seen = b""
    async with asyncio.timeout(30):
        async for msg in call:
            if msg.WhichOneof("kind") == "stdout":
                seen += msg.stdout
                if b"got:ping" in seen:
                    break
    call.cancel()
    await attach_queue.put(None)
    assert b"got:ping" in seen


async def test_completed_pod_succeeds_and_keeps_its_logs(
    api: APIClient,
    kubelet: KubeletProcess,
    kubelet_stub: kubelet_pb2_grpc.KubeletStub,
    docker_client: Any,
) -> None:
    await api.create(
        PODS,
        make_pod(
            "job-like", kubelet.node, containers=[sh("c", "echo done")], restartPolicy="Never"
        ),
    )

    async def succeeded() -> JSON | None:
        pod = await get_pod(api, "job-like")
        return pod if (pod.get("status") or {}).get("phase") == "Succeeded" else None

    pod = await eventually(succeeded, what="phase Succeeded")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"

    async def sandbox_stopped() -> bool:
        running = docker_client.containers.list(
            filters={"label": [f"io.kubelab.node={kubelet.node}", "io.kubelab.pod.name=job-like"]}
        )
        return not running

    await eventually(sandbox_stopped, what="the finished pod's sandbox stopped")
    chunks = [
        c.data
        async for c in kubelet_stub.Logs(
            kubelet_pb2.LogsRequest(pod=kubelet_pb2.PodRef(namespace="default", name="job-like"))
        )
    ]
    assert b"".join(chunks) == b"done\n"


async def test_lost_sandbox_restarts_the_pod_with_a_new_one(
    api: APIClient, kubelet: KubeletProcess, docker_client: Any
) -> None:
    await api.create(
        PODS,
        make_pod(
            "phoenix",
            kubelet.node,
            initContainers=[sh("setup", "true")],
            containers=[sh("c", "sleep 3600")],
        ),
    )
    await wait_running(api, "phoenix")
    box = docker_client.containers.list(
        filters={
            "label": [
                f"io.kubelab.node={kubelet.node}",
                "io.kubelab.pod.name=phoenix",
                "io.kubelab.container.kind=sandbox",
            ]
        }
    )[0]
    box.kill()

    async def restarted() -> JSON | None:
        pod = await get_pod(api, "phoenix")
        status = pod.get("status") or {}
        cs = (status.get("containerStatuses") or [{}])[0]
        init = (status.get("initContainerStatuses") or [{}])[0]
        ok = (
            status.get("phase") == "Running"
            and cs.get("ready")
            and cs.get("restartCount", 0) >= 1
            and init.get("restartCount", 0) >= 1
        )
        return pod if ok else None

    await eventually(restarted, what="pod restarted in a new sandbox (init rerun)")


async def test_host_network_pod_shares_the_node_namespace(
    api: APIClient,
    apiserver: ApiserverProcess,
    tmp_path: Path,
    network: str,
    docker_client: Any,
) -> None:
    # A stand-in node container on the test network; hostNetwork pods join its
    # network namespace, as they join a compose node container's.
    name = f"h6-node-{uuid.uuid4().hex[:6]}"
    node_box = docker_client.containers.run(
        BUSYBOX,
        ["sleep", "3600"],
        name=name,
        hostname=name,
        network=network,
        labels={TEST_LABEL: "1"},
        detach=True,
    )
    node_box.reload()
    node_ip = node_box.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
    kubelet = KubeletProcess(
        apiserver,
        tmp_path,
        name,
        network,
        "--host-network-mode",
        f"container:{name}",
        node_ip=node_ip,
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{kubelet.grpc_port}")
    try:
        kubelet.start()
        await api.create(
            PODS,
            make_pod(
                "hostnet",
                name,
                hostNetwork=True,
                containers=[
                    sh(
                        "c",
                        "echo from-node-ns > /tmp/i; httpd -f -p 8081 -h /tmp",
                        readinessProbe={"tcpSocket": {"port": 8081}, "periodSeconds": 1},
                    )
                ],
            ),
        )
        pod = await wait_running(api, "hostnet")
        assert pod["status"]["podIP"] == node_ip == pod["status"]["hostIP"]
        stub = kubelet_pb2_grpc.KubeletStub(channel)

        async def forward() -> bytes | None:
            async def requests() -> AsyncIterator[kubelet_pb2.PortForwardInput]:
                yield kubelet_pb2.PortForwardInput(
                    pod=kubelet_pb2.PodRef(namespace="default", name="hostnet"),
                    port=8081,
                    data=b"GET /i HTTP/1.0\r\n\r\n",
                )

            out = b"".join([m.data async for m in stub.PortForward(requests())])
            return out if b"from-node-ns" in out else None

        await eventually(forward, what="port-forward to the host-network pod")
        # The node container itself sees the pod's listener (one network namespace).
        code, out = node_box.exec_run(["wget", "-q", "-O-", "http://127.0.0.1:8081/i"])
        assert code == 0 and b"from-node-ns" in out
    finally:
        await channel.close(None)
        kubelet.stop()
        _cleanup(docker_client, name)
        node_box.remove(force=True)


async def test_lifecycle_hooks_and_host_path(
    api: APIClient, kubelet: KubeletProcess, docker_client: Any
) -> None:
    await api.create(
        PODS,
        make_pod(
            "hooked",
            kubelet.node,
            terminationGracePeriodSeconds=5,
            containers=[
                sh(
                    "c",
                    "sleep 3600",
                    volumeMounts=[{"name": "disk", "mountPath": "/work"}],
                    lifecycle={
                        "postStart": {"exec": {"command": ["sh", "-c", "echo up > /work/started"]}},
                        "preStop": {"exec": {"command": ["sh", "-c", "echo bye > /work/stopped"]}},
                    },
                )
            ],
            volumes=[{"name": "disk", "hostPath": {"path": "/var/lib/hooked"}}],
        ),
    )
    await wait_running(api, "hooked")
    await api.delete(PODS, "hooked", namespace="default")

    async def gone() -> bool:
        try:
            await get_pod(api, "hooked")
        except errors.NotFound:
            return True
        return False

    await eventually(gone, what="pod deleted")
    # The node's hostPath storage outlives the pod and holds what both hooks wrote.
    volume = f"kubelab-node-{kubelet.node}-hostpath-var_lib_hooked"
    out = docker_client.containers.run(
        BUSYBOX,
        ["sh", "-c", "cat /v/started /v/stopped"],
        volumes={volume: {"bind": "/v", "mode": "ro"}},
        labels={TEST_LABEL: "1"},
        network_mode="none",
        remove=True,
    )
    assert out == b"up\nbye\n"


async def test_host_port_is_served_on_the_node_address(
    api: APIClient,
    apiserver: ApiserverProcess,
    tmp_path: Path,
    network: str,
    docker_client: Any,
) -> None:
    # A node whose address is loopback, so the test reaches its hostPort there.
    node = f"h6-{uuid.uuid4().hex[:8]}"
    kubelet = KubeletProcess(apiserver, tmp_path, node, network, node_ip="127.0.0.1")
    host_port = free_port()
    try:
        kubelet.start()
        container = sh(
            "c",
            "echo via-host-port > /tmp/i; httpd -f -p 8080 -h /tmp",
            ports=[{"containerPort": 8080, "hostPort": host_port}],
            readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1},
        )
        await api.create(PODS, make_pod("published", node, containers=[container]))
        await wait_running(api, "published")

        async def fetch() -> bytes | None:
            reader, writer = await asyncio.open_connection("127.0.0.1", host_port)
            writer.write(b"GET /i HTTP/1.0\r\n\r\n")
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return data if b"via-host-port" in data else None

        await eventually(fetch, what="hostPort answer")
    finally:
        kubelet.stop()
        _cleanup(docker_client, node)


async def test_sub_path_mounts(
    api: APIClient, kubelet: KubeletProcess, kubelet_stub: kubelet_pb2_grpc.KubeletStub
) -> None:
    await api.create(
        CONFIGMAPS,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "conf", "namespace": "default"},
            "data": {"app.conf": "port=80\n", "other": "x"},
        },
    )
    await api.create(
        PODS,
        make_pod(
            "subpaths",
            kubelet.node,
            containers=[
                sh(
                    "main",
                    "echo written > /var/log/app/x; sleep 3600",
                    volumeMounts=[
                        {"name": "conf", "mountPath": "/etc/app/app.conf", "subPath": "app.conf"},
                        {"name": "data", "mountPath": "/var/log/app", "subPath": "logs"},
                    ],
                ),
                sh("side", "sleep 3600", volumeMounts=[{"name": "data", "mountPath": "/data"}]),
            ],
            volumes=[
                {"name": "conf", "configMap": {"name": "conf"}},
                {"name": "data", "emptyDir": {}},
            ],
        ),
    )
    await wait_running(api, "subpaths")

    async def run(container: str, script: str) -> bytes:
        async def requests() -> AsyncIterator[kubelet_pb2.StreamInput]:
            yield kubelet_pb2.StreamInput(
                start=kubelet_pb2.StreamStart(
                    pod=kubelet_pb2.PodRef(namespace="default", name="subpaths"),
                    container=container,
                    command=["sh", "-c", script],
                    stdout=True,
                )
            )

        out = b""
        async for msg in kubelet_stub.Exec(requests()):
            if msg.WhichOneof("kind") == "stdout":
                out += msg.stdout
        return out

    assert await run("main", "cat /etc/app/app.conf; ls /etc/app") == b"port=80\napp.conf\n"

    async def shared() -> bool:
        return await run("side", "cat /data/logs/x") == b"written\n"

    await eventually(shared, what="the subPath directory seen whole by the sidecar")
