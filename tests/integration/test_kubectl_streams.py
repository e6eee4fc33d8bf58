"""`kubectl logs`, `kubectl exec` and `kubectl port-forward` through the apiserver's
REST API to a real kubelet running a real container (Docker).

The kubelet is a host process on its own test network (10.200.64.0/24, node IP
= the network's gateway, where the kubelet's gRPC port listens), so the
apiserver reaches it the way it reaches a compose node.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.rest_fixtures import Rest, kubectl, kubectl_binary, rest
from tests.polling import eventually_sync
from tests.processes import ROOT, free_port, http_ok, need, wait_until

pytestmark = [pytest.mark.etcd, pytest.mark.docker]
__all__ = ["rest"]

SUBNET = "10.200.64.0/24"
GATEWAY = "10.200.64.1"
NETWORK = "kubelab-test-h4-streams"
BUSYBOX = "kubelab/busybox:1.36"
PAUSE = "kubelab/pause:3.9"
TEST_LABEL = "io.kubelab.test"


def _docker() -> Any:
    try:
        import docker

        client = docker.from_env()
        client.ping()
        return client
    except Exception as e:
        need("Docker", f"logs and exec need a real container ({e})")
        raise


@pytest.fixture(scope="module")
def node(rest: Rest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import docker

    client = _docker()
    if [i for i in (BUSYBOX, PAUSE) if not client.images.list(name=i)]:
        from kubelab import images

        for spec in images.SPECS:
            if spec.name in (BUSYBOX, PAUSE):
                images.build_image(spec, rebuild=False, log=Path("/tmp/kubelab-test-images.log"))
    for old in client.networks.list(names=[NETWORK]):
        with contextlib.suppress(docker.errors.APIError):
            old.remove()
    ipam = docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=SUBNET, gateway=GATEWAY)]
    )
    net = client.networks.create(NETWORK, driver="bridge", ipam=ipam, labels={TEST_LABEL: "1"})
    name = f"h4-{uuid.uuid4().hex[:8]}"
    work = tmp_path_factory.mktemp("kubelet")
    health = free_port()
    log = work / "kubelet.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubelet",
            "--apiserver",
            rest.proc.address,
            "--health-address",
            f"127.0.0.1:{health}",
            "--node-name",
            name,
            "--node-ip",
            GATEWAY,
            "--pod-network",
            NETWORK,
            "--port",
            f"{GATEWAY}:{free_port()}",
            "--pod-infra-container-image",
            PAUSE,
            "--container-labels",
            f"{TEST_LABEL}=1",
        ],
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "KUBELAB_IMAGE_PULLS": "disabled"},
    )
    try:

        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"kubelet exited: {log.read_text()[-3000:]}")
            return http_ok(f"http://127.0.0.1:{health}/healthz")

        wait_until(healthy, 30, "kubelet did not become healthy")
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        selector = {"label": [f"io.kubelab.node={name}"]}
        for c in client.containers.list(all=True, filters=selector):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        for v in client.volumes.list(filters=selector):
            with contextlib.suppress(docker.errors.APIError):
                v.remove(force=True)
        with contextlib.suppress(docker.errors.APIError):
            net.remove()
        client.close()


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: talker
spec:
  nodeName: {node}
  containers:
  - name: c
    image: kubelab/busybox:1.36
    command: ["sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 1; done"]
"""


@pytest.fixture(scope="module")
def running_pod(rest: Rest, node: str) -> str:
    kubectl(rest, "create", "ns", "streams")
    kubectl(rest, "-n", "streams", "apply", "-f", "-", stdin=POD.format(node=node))

    def running() -> bool:
        phase = kubectl(
            rest, "-n", "streams", "get", "pod", "talker", "-o", "jsonpath={.status.phase}"
        ).stdout
        return phase == "Running"

    eventually_sync(running, within=90, what="pod talker to run")
    return "talker"


def test_kubectl_logs(rest: Rest, running_pod: str) -> None:
    def two_lines() -> list[str] | None:
        out = kubectl(rest, "-n", "streams", "logs", running_pod, "--tail=2").stdout
        lines = out.splitlines()
        return lines if len(lines) == 2 else None

    lines = eventually_sync(two_lines, within=30, what="two log lines")
    assert all(line.startswith("line ") for line in lines)
    first = kubectl(rest, "-n", "streams", "logs", running_pod).stdout.splitlines()[0]
    assert first == "line 0"
    res = kubectl(rest, "-n", "streams", "logs", running_pod, "-c", "nope", check=False)
    assert res.returncode != 0


def test_kubectl_logs_follow_streams_new_lines(rest: Rest, running_pod: str) -> None:
    env = {**os.environ, "KUBECONFIG": str(rest.kubeconfig)}
    proc = subprocess.Popen(
        [kubectl_binary(), "-n", "streams", "logs", "-f", running_pod, "--tail=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert first.startswith("line ") and second.startswith("line ")
        assert int(second.split()[1]) > int(first.split()[1])
    finally:
        proc.terminate()
        proc.wait(10)


def test_kubectl_exec(rest: Rest, running_pod: str) -> None:
    res = kubectl(
        rest, "-n", "streams", "exec", running_pod, "--", "sh", "-c", "echo out; echo err >&2"
    )
    assert res.stdout == "out\n" and res.stderr == "err\n"
    res = kubectl(
        rest, "-n", "streams", "exec", running_pod, "--", "sh", "-c", "exit 3", check=False
    )
    assert res.returncode == 3
    assert "command terminated with exit code 3" in res.stderr
    res = kubectl(rest, "-n", "streams", "exec", "-i", running_pod, "--", "cat", stdin="hello\n")
    assert res.stdout == "hello\n"


WEB = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  nodeName: {node}
  containers:
  - name: c
    image: kubelab/busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-pod > /www/index.html && \\
      dd if=/dev/zero of=/www/big bs=1024 count=1024 2>/dev/null && httpd -f -p 80 -h /www"]
"""


def test_kubectl_port_forward(rest: Rest, node: str, running_pod: str) -> None:
    kubectl(rest, "-n", "streams", "apply", "-f", "-", stdin=WEB.format(node=node))

    def web_running() -> bool:
        phase = kubectl(
            rest, "-n", "streams", "get", "pod", "web", "-o", "jsonpath={.status.phase}"
        ).stdout
        return phase == "Running"

    eventually_sync(web_running, within=90, what="pod web to run")

    def serving() -> bool:
        # kubectl port-forward gives up at the first failed connection: wait
        # until httpd answers inside the pod before forwarding.
        res = kubectl(
            rest,
            "-n",
            "streams",
            "exec",
            "web",
            "--",
            "wget",
            "-q",
            "-O-",
            "http://127.0.0.1/index.html",
            check=False,
        )
        return res.stdout == "hello-from-pod\n"

    eventually_sync(serving, within=60, what="httpd to serve in pod web")
    local = free_port()
    env = {**os.environ, "KUBECONFIG": str(rest.kubeconfig)}
    proc = subprocess.Popen(
        [kubectl_binary(), "-n", "streams", "port-forward", "pod/web", f"{local}:80"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(f"Forwarding from 127.0.0.1:{local} -> 80")

        def fetch(path: str) -> bytes | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{local}{path}", timeout=10) as r:
                    return bytes(r.read())
            except OSError:
                return None

        assert eventually_sync(lambda: fetch("/index.html"), within=30) == b"hello-from-pod\n"
        # More than SPDY's initial 64 KiB window, in both directions' framing.
        big = fetch("/big")
        assert big is not None and len(big) == 1024 * 1024
        assert fetch("/index.html") == b"hello-from-pod\n"
    finally:
        proc.terminate()
        proc.wait(10)


SELECTORLESS = """\
apiVersion: v1
kind: Service
metadata:
  name: web-svc
spec:
  ports:
  - name: http
    port: 8080
    targetPort: 80
---
apiVersion: v1
kind: Endpoints
metadata:
  name: web-svc
subsets:
- addresses:
  - ip: {ip}
  ports:
  - name: http
    port: 80
"""


def test_pod_and_service_proxy_through_kubectl_proxy(
    rest: Rest, node: str, running_pod: str
) -> None:
    kubectl(rest, "-n", "streams", "apply", "-f", "-", stdin=WEB.format(node=node))

    def pod_ip() -> str:
        return kubectl(
            rest, "-n", "streams", "get", "pod", "web", "-o", "jsonpath={.status.podIP}"
        ).stdout

    ip = eventually_sync(pod_ip, within=90, what="pod web to get an IP")
    kubectl(rest, "-n", "streams", "apply", "-f", "-", stdin=SELECTORLESS.format(ip=ip))
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(rest.kubeconfig)}
    proxy = subprocess.Popen(
        [kubectl_binary(), "proxy", f"--port={port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proxy.stdout is not None
        assert proxy.stdout.readline().startswith("Starting to serve on 127.0.0.1:")
        base = f"http://127.0.0.1:{port}/api/v1/namespaces/streams"

        def fetch(path: str) -> bytes | None:
            try:
                with urllib.request.urlopen(base + path, timeout=10) as r:
                    return bytes(r.read())
            except OSError:
                return None

        page = b"hello-from-pod\n"
        assert eventually_sync(lambda: fetch("/pods/web:80/proxy/index.html"), within=60) == page
        assert fetch("/services/web-svc:http/proxy/index.html") == page
        assert fetch("/services/web-svc/proxy/index.html") == page
    finally:
        proxy.terminate()
        proxy.wait(10)


def test_official_python_client_exec_and_logs(rest: Rest, running_pod: str) -> None:
    import kubernetes
    import kubernetes.stream

    k8s: Any = kubernetes
    api_client = k8s.config.new_client_from_config(config_file=str(rest.kubeconfig))
    core = k8s.client.CoreV1Api(api_client)
    out = kubernetes.stream.stream(
        core.connect_get_namespaced_pod_exec,
        running_pod,
        "streams",
        command=["sh", "-c", "echo from-exec"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )
    assert out == "from-exec\n"
    logs = core.read_namespaced_pod_log(running_pod, "streams", tail_lines=1)
    assert logs.startswith("line ")
    api_client.close()
