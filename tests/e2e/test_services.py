"""Services, DNS and Ingress on the compose cluster, as a user sees them.

Traffic goes only to the cluster's own containers: from a busybox pod to
ClusterIPs and names, from the host to the nodes' IPs on the kubelab network
(NodePorts) and to the ingress published on 127.0.0.1:8080.
"""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, eventually
from tests.processes import free_port

pytestmark = pytest.mark.e2e

NODE_IPS = ("10.127.255.20", "10.127.255.21", "10.127.255.22")


def _apply(cluster: Cluster, namespace: str, *objects: dict[str, Any]) -> None:
    cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
    )


def _deployment(name: str, *, replicas: int, image: str = "kubelab/webapp:v1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
        },
    }


def _service(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"app": name})
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def _ready_endpoints(cluster: Cluster, namespace: str, name: str, count: int) -> bool:
    eps = cluster.kubectl_json("get", "endpoints", name, "-n", namespace)
    addresses = [a for s in eps.get("subsets") or [] for a in s.get("addresses") or []]
    return len(addresses) == count


def _client(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "run",
        "client",
        "-n",
        namespace,
        "--image=busybox",
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    )

    def running() -> bool:
        pod = cluster.kubectl_json("get", "pod", "client", "-n", namespace)
        return bool(pod["status"].get("phase") == "Running")

    eventually(running, timeout=120)


def _sh(cluster: Cluster, namespace: str, script: str, timeout: float = 60) -> str:
    return cluster.kubectl(
        "exec", "client", "-n", namespace, "--", "sh", "-c", script, timeout=timeout
    ).stdout


def test_cluster_ip_by_ip_and_names_spreads_load(cluster: Cluster, namespace: str) -> None:
    _apply(cluster, namespace, _deployment("web", replicas=3), _service("web"))
    _client(cluster, namespace)
    eventually(lambda: _ready_endpoints(cluster, namespace, "web", 3), timeout=180)
    ip = cluster.kubectl_json("get", "svc", "web", "-n", namespace)["spec"]["clusterIP"]
    for host in (ip, "web", f"web.{namespace}", f"web.{namespace}.svc.cluster.local"):

        def fetch(host: str = host) -> str:
            return _sh(cluster, namespace, f"timeout 5 wget -qO- http://{host}/")

        out = eventually(fetch, timeout=60)
        assert out.startswith("v1 web-"), (host, out)
    answers = _sh(
        cluster,
        namespace,
        "for i in $(seq 30); do timeout 5 wget -qO- http://web/ || echo failed; done",
        timeout=120,
    ).split("\n")
    hostnames = {line.split()[1] for line in answers if line.startswith("v1 ")}
    assert "failed" not in answers
    assert len(hostnames) == 3, answers


def test_node_port_on_every_node(cluster: Cluster, namespace: str) -> None:
    _apply(cluster, namespace, _deployment("np", replicas=2), _service("np", type="NodePort"))
    eventually(lambda: _ready_endpoints(cluster, namespace, "np", 2), timeout=180)
    svc = cluster.kubectl_json("get", "svc", "np", "-n", namespace)
    node_port = svc["spec"]["ports"][0]["nodePort"]
    for node_ip in NODE_IPS:

        def answers(node_ip: str = node_ip) -> str:
            url = f"http://{node_ip}:{node_port}/"
            with urllib.request.urlopen(url, timeout=3) as r:
                return str(r.read().decode())

        assert eventually(answers, timeout=60).startswith("v1 np-")


def test_headless_and_external_name(cluster: Cluster, namespace: str) -> None:
    _apply(
        cluster,
        namespace,
        _deployment("db", replicas=2),
        _service("db", clusterIP="None"),
        _service("web", selector={"app": "db"}),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "alias"},
            "spec": {"type": "ExternalName", "externalName": f"web.{namespace}.svc.cluster.local"},
        },
    )
    _client(cluster, namespace)
    eventually(lambda: _ready_endpoints(cluster, namespace, "db", 2), timeout=180)
    pods = cluster.kubectl_json("get", "pods", "-n", namespace, "-l", "app=db")["items"]
    pod_ips = {p["status"]["podIP"] for p in pods}

    def headless() -> bool:
        # busybox's nslookup exits 1 when any search domain fails: read its output
        out = cluster.kubectl(
            "exec",
            "client",
            "-n",
            namespace,
            "--",
            "nslookup",
            f"db.{namespace}.svc.cluster.local",
            check=False,
        ).stdout
        return all(ip in out for ip in pod_ips)

    eventually(headless, timeout=60)
    out = eventually(
        lambda: _sh(cluster, namespace, "timeout 5 wget -qO- http://alias/"), timeout=60
    )
    assert out.startswith("v1 db-")


def test_names_outside_the_cluster_are_forwarded(cluster: Cluster, namespace: str) -> None:
    """A name outside cluster.local goes upstream (Docker's DNS for the kubelab
    network, as CoreDNS's `forward . /etc/resolv.conf`): a pod resolves the
    etcd container's name. The name stays on the project's own network."""
    _client(cluster, namespace)

    def resolved() -> bool:
        out = cluster.kubectl(
            "exec", "client", "-n", namespace, "--", "nslookup", "kubelab-etcd.", check=False
        ).stdout
        return "10.127.255.10" in out

    eventually(resolved, timeout=60)


def test_ingress_routes_two_hosts_and_two_paths(cluster: Cluster, namespace: str) -> None:
    _apply(
        cluster,
        namespace,
        _deployment("one", replicas=1),
        _deployment("two", replicas=1, image="kubelab/webapp:v2"),
        _service("one"),
        _service("two"),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "routes"},
            "spec": {
                "rules": [
                    {"host": f"one-{namespace}.localhost", "http": {"paths": [_path("/", "one")]}},
                    {
                        "host": f"paths-{namespace}.localhost",
                        "http": {"paths": [_path("/a", "one"), _path("/b", "two")]},
                    },
                ]
            },
        },
    )
    eventually(lambda: _ready_endpoints(cluster, namespace, "one", 1), timeout=180)
    eventually(lambda: _ready_endpoints(cluster, namespace, "two", 1), timeout=180)

    def get(host: str, path: str) -> str:
        request = urllib.request.Request(f"http://127.0.0.1:8080{path}", headers={"Host": host})
        with urllib.request.urlopen(request, timeout=3) as r:
            return str(r.read().decode())

    assert eventually(lambda: get(f"one-{namespace}.localhost", "/x"), timeout=60).startswith("v1 ")
    # (no readiness probe: a pod is an endpoint before its server listens)
    assert eventually(lambda: get(f"paths-{namespace}.localhost", "/a/b")).startswith("v1 one-")
    assert eventually(lambda: get(f"paths-{namespace}.localhost", "/b")).startswith("v2 two-")
    ing = eventually(
        lambda: cluster.kubectl_json("get", "ingress", "routes", "-n", namespace)["status"][
            "loadBalancer"
        ]["ingress"],
        timeout=30,
    )
    assert ing == [{"ip": "127.0.0.1"}]


def _path(path: str, service: str) -> dict[str, Any]:
    return {
        "path": path,
        "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": {"number": 80}}},
    }


def test_load_balancer_on_localhost(cluster: Cluster, namespace: str) -> None:
    port = free_port()  # the Service's port is published on the host's 127.0.0.1
    _apply(
        cluster,
        namespace,
        _deployment("lb", replicas=2),
        _service("lb", type="LoadBalancer", ports=[{"port": port, "targetPort": 8080}]),
    )
    eventually(lambda: _ready_endpoints(cluster, namespace, "lb", 2), timeout=180)

    def external_ip() -> str:
        svc = cluster.kubectl_json("get", "svc", "lb", "-n", namespace)
        return str(svc["status"]["loadBalancer"]["ingress"][0]["ip"])

    assert eventually(external_ip, timeout=120) == "127.0.0.1"

    def answers() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
            return str(r.read().decode())

    assert eventually(answers, timeout=60).startswith("v1 lb-")
    assert "127.0.0.1" in cluster.kubectl("get", "svc", "lb", "-n", namespace).stdout

    cluster.kubectl("delete", "svc", "lb", "-n", namespace)

    def container_removed() -> bool:
        out = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=io.kubelab.lb.service={namespace}/lb"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.strip() == ""

    eventually(container_removed, timeout=60)


class _Lines:
    """A command's output lines, each with the time it reached this process."""

    def __init__(self, cluster: Cluster, *kubectl_args: str) -> None:
        kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
        self.proc = subprocess.Popen(
            [kubectl, *kubectl_args],
            env=cluster.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.strip()))

    def finish(self, timeout: float = 30) -> list[tuple[float, str]]:
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.lines


# A bounded request loop in the client pod: at most `n` requests, 20 a second,
# until /tmp/stop exists; prints each answer, or "failed".
_REQUEST_LOOP = (
    "i=0; while [ $i -lt {n} ] && [ ! -f /tmp/stop ]; do "
    "timeout 5 wget -qO- http://{target}/ || echo failed; sleep 0.05; i=$((i+1)); done"
)


def _stream_requests(cluster: Cluster, namespace: str, target: str, n: int) -> _Lines:
    script = _REQUEST_LOOP.format(n=n, target=target)
    return _Lines(cluster, "exec", "client", "-n", namespace, "--", "sh", "-c", script)


def test_not_ready_pod_leaves_the_service(cluster: Cluster, namespace: str) -> None:
    """Issue 6: a pod that becomes not Ready stops receiving traffic within 2 s
    (from its Ready condition turning False, as a watcher here sees it, to its
    last answer through the Service, as the client pod's stream shows it)."""
    web = _deployment("ready", replicas=2)
    container = web["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["sh", "-c", "touch /tmp/ready && exec python3 /app/app.py"]
    container["readinessProbe"] = {
        "exec": {"command": ["cat", "/tmp/ready"]},
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    _apply(cluster, namespace, web, _service("ready"))
    _client(cluster, namespace)
    eventually(lambda: _ready_endpoints(cluster, namespace, "ready", 2), timeout=180)
    pods = cluster.kubectl_json("get", "pods", "-n", namespace, "-l", "app=ready")["items"]
    leaving = pods[0]["metadata"]["name"]
    staying = pods[1]["metadata"]["name"]
    ready_condition = '{.status.conditions[?(@.type=="Ready")].status}{"\\n"}'
    watch = _Lines(
        cluster, "get", "pod", leaving, "-n", namespace, "-w", "-o", f"jsonpath={ready_condition}"
    )
    stream = _stream_requests(cluster, namespace, "ready", 1200)
    try:
        eventually(lambda: any(line.endswith(leaving) for _, line in stream.lines), timeout=60)
        cluster.kubectl("exec", leaving, "-n", namespace, "--", "rm", "/tmp/ready")
        eventually(lambda: _ready_endpoints(cluster, namespace, "ready", 1), timeout=60)
        not_ready_at: float = eventually(
            lambda: next((t for t, line in watch.lines if line == "False"), 0.0), timeout=30
        )
        time.sleep(3)  # let the stream run on: the leaving pod must not answer again
    finally:
        _sh(cluster, namespace, "touch /tmp/stop")
        answers = stream.finish()
        watch.proc.kill()
        watch.finish()
    assert [line for _, line in answers if line == "failed"] == []
    last_from_leaving = max(t for t, line in answers if line.endswith(leaving))
    after = {line.split()[-1] for t, line in answers if t > last_from_leaving}
    assert after == {staying}, answers[-20:]
    delay = last_from_leaving - not_ready_at
    assert delay <= 2.0, f"{leaving} still answered {delay:.2f} s after turning not Ready"


def test_rolling_update_behind_a_service_loses_no_request(cluster: Cluster, namespace: str) -> None:
    """Issue 6: a steady stream of requests (bounded, from a pod to the
    ClusterIP) through a rolling update v1 -> v2: not one fails. The pods say
    when they are ready (readiness probe) and keep serving for a moment after
    being told to stop (preStop), as Kubernetes users do for this."""
    web = _deployment("roll", replicas=3)
    web["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    container = web["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"] = {
        "httpGet": {"path": "/healthz", "port": 8080},
        "periodSeconds": 1,
    }
    container["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "2"]}}}
    _apply(cluster, namespace, web, _service("roll"))
    _client(cluster, namespace)
    eventually(lambda: _ready_endpoints(cluster, namespace, "roll", 3), timeout=180)
    ip = cluster.kubectl_json("get", "svc", "roll", "-n", namespace)["spec"]["clusterIP"]
    stream = _stream_requests(cluster, namespace, ip, 3000)
    try:
        eventually(lambda: len(stream.lines) >= 10, timeout=60)
        cluster.kubectl("set", "image", "-n", namespace, "deployment/roll", "web=kubelab/webapp:v2")
        cluster.kubectl(
            "rollout", "status", "-n", namespace, "deployment/roll", "--timeout=180s", timeout=200
        )

        def only_v2_answers() -> bool:
            recent = [line for _, line in stream.lines[-20:]]
            return len(recent) == 20 and all(line.startswith("v2 ") for line in recent)

        eventually(only_v2_answers, timeout=60)
    finally:
        _sh(cluster, namespace, "touch /tmp/stop")
        answers = [line for _, line in stream.finish()]
    failed = [line for line in answers if not line.startswith(("v1 roll-", "v2 roll-"))]
    assert failed == [], f"{len(failed)} of {len(answers)} requests failed: {failed[:5]}"
    assert any(line.startswith("v1 ") for line in answers)
    assert len({line.split()[1] for line in answers if line.startswith("v2 ")}) == 3


def test_selector_less_service_reaches_a_process_outside(cluster: Cluster, namespace: str) -> None:
    # A server on the host, on the kubelab bridge's gateway address: outside
    # the cluster, on the project's own network.
    gateway = "10.112.0.1"
    server = http.server.ThreadingHTTPServer((gateway, 0), _OutsideHandler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _apply(
            cluster,
            namespace,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "outside"},
                "spec": {"ports": [{"name": "http", "port": 80, "targetPort": port}]},
            },
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": "outside"},
                "subsets": [
                    {
                        "addresses": [{"ip": gateway}],
                        "ports": [{"name": "http", "port": port}],
                    }
                ],
            },
        )
        _client(cluster, namespace)
        out = eventually(
            lambda: _sh(cluster, namespace, "timeout 5 wget -qO- http://outside/"), timeout=60
        )
        assert out == "outside the cluster\n"
    finally:
        server.shutdown()
        server.server_close()


class _OutsideHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"outside the cluster\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass
