"""The seed tutorials' exercises (tests/seeds/, French course notes), run with
the real kubectl against the compose cluster, as verbatim as they can be.

Placeholders get concrete names; the images are the local builds named like
the seeds' (README.md: `nginx` is busybox httpd serving nginx's page, `redis`
is Debian's redis-server, `alpine` is busybox). The seeds' commands that work
in `default` (`kubectl run monnginx --image=nginx`, the Pod manifest with
`namespace: default`) run there and clean up after themselves; the others run
in a fresh namespace. Traffic goes only to loopback (port-forward, kubectl
proxy) and to the cluster's own pods and nodes.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, eventually
from tests.processes import ROOT, free_port

pytestmark = pytest.mark.e2e

SEEDS = ROOT / "tests" / "seeds"
NODE_IPS = ("10.127.255.20", "10.127.255.21", "10.127.255.22")


def _phase(cluster: Cluster, name: str, namespace: str = "default") -> str:
    pod = cluster.kubectl_json("get", "pod", name, "-n", namespace)
    return str(pod["status"].get("phase", ""))


def _running(cluster: Cluster, name: str, namespace: str = "default") -> bool:
    pod = cluster.kubectl_json("get", "pod", name, "-n", namespace)
    statuses = pod["status"].get("containerStatuses") or []
    return bool(
        pod["status"].get("phase") == "Running" and statuses and all(s["ready"] for s in statuses)
    )


def _http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@contextmanager
def _background(cluster: Cluster, *args: str, ready: str) -> Iterator[subprocess.Popen[str]]:
    """A long-running kubectl (port-forward, proxy), once it printed `ready`."""
    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    proc = subprocess.Popen(
        [kubectl, *args],
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if ready in line:
                break
        else:
            raise AssertionError(f"kubectl {' '.join(args)} ended: {''.join(seen)}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _delete_in_default(cluster: Cluster, *objects: str) -> None:
    cluster.kubectl(
        "delete", *objects, "-n", "default", "--ignore-not-found", "--wait=false", check=False
    )

    def gone() -> bool:
        listed = cluster.kubectl(
            "get", *objects, "-n", "default", "--ignore-not-found", "-o", "name", check=False
        )
        return listed.returncode == 0 and not listed.stdout.strip()

    eventually(gone, timeout=120)


def test_cluster_information(cluster: Cluster) -> None:
    # kubectl version
    version = cluster.kubectl("version").stdout
    assert "Client Version: v1." in version
    assert re.search(r"Server Version: v1\.\d+", version), version
    # kubectl --kubeconfig=fichier_kubeconfig.yaml <commandes_k8s>
    named = cluster.kubectl(f"--kubeconfig={cluster.kubeconfig}", "get", "ns", "default", "-o=name")
    assert named.stdout.strip() == "namespace/default"
    # kubectl api-resources
    resources = cluster.kubectl("api-resources").stdout
    rows = {line.split()[0]: line for line in resources.splitlines()[1:]}
    for name in ("pods", "services", "namespaces", "nodes", "secrets", "deployments"):
        assert name in rows, resources
    assert "po" in rows["pods"].split() and "Pod" in rows["pods"].split()
    assert "apps/v1" in rows["deployments"].split()
    # kubectl api-versions
    versions = cluster.kubectl("api-versions").stdout.split()
    for group_version in ("v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"):
        assert group_version in versions
    # kubectl explain pods / pods.spec
    explain = cluster.kubectl("explain", "pods").stdout
    assert "KIND:" in explain and "Pod" in explain
    assert "spec" in explain and "status" in explain
    spec = cluster.kubectl("explain", "pods.spec").stdout
    assert "FIELD: spec" in spec or "RESOURCE: spec" in spec, spec
    assert re.search(r"containers\s+<\[\]Container> -required-", spec), spec


def test_namespaces(cluster: Cluster) -> None:
    name = f"ci-env-{uuid.uuid4().hex[:6]}"
    # kubectl create ns ci-env
    assert cluster.kubectl("create", "ns", name).stdout.strip() == f"namespace/{name} created"
    try:
        # kubectl get ns
        listed = {
            line.split()[0]: line for line in cluster.kubectl("get", "ns").stdout.splitlines()
        }
        for ns in ("default", "kube-node-lease", "kube-public", "kube-system", name):
            assert "Active" in listed[ns]
        # kubectl -n namespace get pods
        empty = cluster.kubectl("-n", name, "get", "pods")
        assert f"No resources found in {name} namespace." in empty.stderr
        # kubectl get pods --all-namespaces
        # (a fresh cluster may have no pod yet: the control plane runs in compose)
        everywhere = cluster.kubectl("get", "pods", "--all-namespaces")
        assert (
            everywhere.stdout.split()[:2] == ["NAMESPACE", "NAME"]
            or "No resources found" in everywhere.stderr
        )
    finally:
        cluster.kubectl("delete", "ns", name, "--wait=false", check=False)


def test_auth_can_i(cluster: Cluster) -> None:
    assert cluster.kubectl("auth", "can-i", "get", "pods").stdout.strip() == "yes"
    other = cluster.kubectl("auth", "can-i", "get", "pods", "--as", "toto@test.com", check=False)
    assert other.returncode == 1, other.stderr
    assert other.stdout.strip() == "no"


def test_kubectl_proxy_and_curl(cluster: Cluster) -> None:
    port = free_port()
    # kubectl proxy --port=8001 &
    with _background(cluster, "proxy", f"--port={port}", ready="Starting to serve"):
        base = f"http://127.0.0.1:{port}"
        root = json.loads(eventually(lambda: _http_get(base), timeout=30))
        assert "/api/v1" in root["paths"]
        namespaces = json.loads(_http_get(f"{base}/api/v1/namespaces"))
        assert namespaces["kind"] == "NamespaceList"
        assert "default" in {n["metadata"]["name"] for n in namespaces["items"]}
        pods = json.loads(_http_get(f"{base}/api/v1/namespaces/default/pods"))
        assert pods["kind"] == "PodList"


def test_run_monnginx_then_investigate_it(cluster: Cluster) -> None:
    """`kubectl run monnginx --image=nginx` in default, then the course's
    investigation commands: get all, get po -o wide, describe, logs, exec,
    port-forward."""
    try:
        # kubectl run monnginx --image=nginx
        assert cluster.kubectl("run", "monnginx", "--image=nginx").stdout.strip() == (
            "pod/monnginx created"
        )
        eventually(lambda: _running(cluster, "monnginx"), timeout=120)

        # kubectl get all
        get_all = cluster.kubectl("get", "all").stdout
        [pod_row] = [line.split() for line in get_all.splitlines() if "pod/monnginx" in line]
        assert pod_row[1:3] == ["1/1", "Running"]
        [svc_row] = [
            line.split() for line in get_all.splitlines() if line.startswith("service/kubernetes")
        ]
        assert svc_row[1:3] == ["ClusterIP", "10.96.0.1"] and svc_row[4] == "443/TCP"

        # kubectl get pods --all-namespaces -o wide
        wide = cluster.kubectl("get", "pods", "--all-namespaces", "-o", "wide").stdout
        [row] = [line.split() for line in wide.splitlines() if " monnginx " in f" {line} "]
        pod = cluster.kubectl_json("get", "po", "monnginx")
        assert row[0] == "default" and pod["status"]["podIP"] in row
        assert pod["spec"]["nodeName"] in row

        # kubectl describe pod podname
        describe = cluster.kubectl("describe", "pod", "monnginx").stdout
        assert re.search(r"^Name:\s+monnginx$", describe, re.M), describe
        assert re.search(r"^Status:\s+Running$", describe, re.M), describe
        assert re.search(r"Image:\s+nginx$", describe, re.M), describe
        assert "Scheduled" in describe and "Started" in describe

        # kubectl exec (busybox's hostname is the pod's name)
        exec_ = cluster.kubectl("exec", "monnginx", "--", "hostname")
        assert exec_.stdout.strip() == "monnginx"
        page = cluster.kubectl("exec", "monnginx", "--", "cat", "/usr/share/nginx/html/index.html")
        assert "Welcome to nginx!" in page.stdout

        # kubectl port-forward pod/podname port_externe:port_interne
        port = free_port()
        with _background(
            cluster, "port-forward", "pod/monnginx", f"{port}:80", ready="Forwarding from"
        ):
            body = eventually(lambda: _http_get(f"http://127.0.0.1:{port}/"), timeout=30)
            assert "Welcome to nginx!" in body

        # kubectl logs podname (httpd -v logs the response to port-forward's request)
        def logged() -> bool:
            return "response:200" in cluster.kubectl("logs", "monnginx").stdout

        eventually(logged, timeout=30)
    finally:
        _delete_in_default(cluster, "pod/monnginx")


def test_pod_manifest_in_default(cluster: Cluster, tmp_path: Path) -> None:
    """The seed's Pod (`namespace: default`) with `kubectl create -f file.yml`."""
    manifest = tmp_path / "monnginx.yaml"
    manifest.write_text((SEEDS / "001_pod_monnginx.yaml").read_text())
    try:
        created = cluster.kubectl("create", "-f", str(manifest)).stdout.strip()
        assert created == "pod/monnginx created"
        eventually(lambda: _running(cluster, "monnginx"), timeout=120)
        pod = cluster.kubectl_json("get", "pod", "monnginx")
        assert pod["spec"]["containers"][0]["image"] == "nginx:latest"
        # kubectl delete elementType elementName
        deleted = cluster.kubectl("delete", "pod", "monnginx", timeout=120).stdout.strip()
        assert deleted == 'pod "monnginx" deleted'
    finally:
        _delete_in_default(cluster, "pod/monnginx")


def test_init_container(cluster: Cluster, namespace: str) -> None:
    """The seed's initContainer sleeps 20 s before the web container starts."""
    cluster.kubectl("create", "-n", namespace, "-f", str(SEEDS / "001_pod_initcontainer.yaml"))

    def initializing() -> bool:
        row = cluster.kubectl("get", "po", "initcontainer-example", "-n", namespace).stdout
        return "Init:0/1" in row

    eventually(initializing, timeout=60)
    eventually(lambda: _running(cluster, "initcontainer-example", namespace), timeout=150)
    pod = cluster.kubectl_json("get", "pod", "initcontainer-example", "-n", namespace)
    [init] = pod["status"]["initContainerStatuses"]
    assert init["name"] == "sleepy"
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert init["state"]["terminated"]["exitCode"] == 0


def test_security_context_run_as_non_root(cluster: Cluster, namespace: str) -> None:
    """nginx runs as root, so the seed's runAsNonRoot pod is refused by the
    kubelet with upstream's message (CreateContainerConfigError)."""
    cluster.kubectl("apply", "-n", namespace, "-f", str(SEEDS / "001_pod_nginxsecure.yaml"))

    def refused() -> dict[str, Any]:
        pod = cluster.kubectl_json("get", "pod", "nginxsecure", "-n", namespace)
        [status] = pod["status"].get("containerStatuses") or [{}]
        waiting: dict[str, Any] = (status.get("state") or {}).get("waiting") or {}
        return waiting if waiting.get("reason") == "CreateContainerConfigError" else {}

    waiting = eventually(refused, timeout=120)
    assert "runAsNonRoot" in waiting["message"] and "root" in waiting["message"]
    row = cluster.kubectl("get", "po", "nginxsecure", "-n", namespace).stdout
    assert "CreateContainerConfigError" in row


def test_redis_deployment(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """Deployments: apply, get -l, delete po (replaced), rolling update with
    the seed's strategy, set image, history, scale, undo to revision 1."""
    manifest = tmp_path / "redis-deploy.yaml"

    def k(*args: str) -> str:
        return cluster.kubectl("-n", namespace, *args, timeout=200).stdout

    def rollout() -> None:
        k("rollout", "status", "deployment/redis", "--timeout=180s")

    def pods() -> list[str]:
        rows = k("get", "po", "-l", "app=redis").splitlines()[1:]
        return [row.split()[0] for row in rows if "Terminating" not in row]

    # $ kubectl apply -f redis-deploy.yaml
    manifest.write_text((SEEDS / "001_deployment_redis.yaml").read_text())
    assert k("apply", "-f", str(manifest)).strip() == "deployment.apps/redis created"
    rollout()
    # $ kubectl get po -l app=redis
    [first] = pods()
    assert re.fullmatch(r"redis-[0-9a-z]{6,10}-[0-9a-z]{5}", first), first
    # $ kubectl delete po redis-...: the ReplicaSet makes another
    assert k("delete", "po", first, "--wait=false").strip() == f'pod "{first}" deleted'

    def replaced() -> bool:
        names = pods()
        return len(names) == 1 and names[0] != first

    eventually(replaced, timeout=120)
    rollout()
    history = k("rollout", "history", "deployment", "redis")
    assert re.search(r"^1\s+<none>$", history, re.M), history

    # $ kubectl apply -f redis-deploy.yaml (4 replicas, RollingUpdate 2/1, 5.0.12)
    manifest.write_text((SEEDS / "001_deployment_redis_rolling.yaml").read_text())
    assert k("apply", "-f", str(manifest)).strip() == "deployment.apps/redis configured"
    rollout()
    eventually(lambda: len(pods()) == 4, timeout=120)

    # $ kubectl set image deployment.apps/redis redis=redis:6-alpine
    assert (
        k("set", "image", "deployment.apps/redis", "redis=redis:6-alpine").strip()
        == "deployment.apps/redis image updated"
    )
    jsonpath = "-o=jsonpath={$.spec.template.spec.containers[:1].image}"
    assert k("get", "deployment.apps/redis", jsonpath) == "redis:6-alpine"
    rollout()
    history = k("rollout", "history", "deployment", "redis")
    assert re.findall(r"^(\d+)\s+<none>$", history, re.M) == ["1", "2", "3"], history
    revision = k("rollout", "history", "deployment", "redis", "--revision=2")
    assert "deployment.apps/redis with revision #2" in revision
    assert re.search(r"Image:\s+redis:5.0.12-alpine", revision), revision
    assert re.search(r"cpu:\s+500m", revision) and re.search(r"memory:\s+128Mi", revision)

    # $ kubectl get replicasets.apps -l app=redis
    def replicasets() -> list[list[str]]:
        rows = [
            line.split()
            for line in k("get", "replicasets.apps", "-l", "app=redis").splitlines()[1:]
        ]
        return rows if sorted(r[1:4] for r in rows)[-1] == ["4", "4", "4"] else []

    rows = eventually(replicasets, timeout=120)
    assert sorted(r[1] for r in rows) == ["0", "0", "4"]

    # scale
    assert k("scale", "deployment", "redis", "--replicas=2").strip() == (
        "deployment.apps/redis scaled"
    )
    eventually(lambda: len(pods()) == 2, timeout=120)

    # $ kubectl rollout undo deployment redis --to-revision=1
    assert k("rollout", "undo", "deployment", "redis", "--to-revision=1").strip() == (
        "deployment.apps/redis rolled back"
    )
    rollout()

    def images() -> set[str]:
        items = cluster.kubectl_json("get", "pods", "-n", namespace, "-l", "app=redis")["items"]
        return {
            p["spec"]["containers"][0]["image"]
            for p in items
            if not p["metadata"].get("deletionTimestamp")
        }

    eventually(lambda: images() == {"redis:alpine"}, timeout=120)
    [row] = [line.split() for line in k("get", "deploy", "redis").splitlines()[1:]]
    assert row[1:4] == ["2/2", "2", "2"]
    # redis answers inside its pod
    [pod] = pods()[:1]
    assert k("exec", pod, "--", "redis-cli", "ping").strip() == "PONG"


def test_deployment_service_and_dns(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """The Deployment template with its placeholders filled in, `kubectl expose
    deployment monnginx --port=80 --type=NodePort`, the seed's Service file,
    and both reached by name from another pod through cluster DNS."""
    values = {
        "<NomApplication>": "monnginx",
        "<Image>": "nginx",
        "<Memory>": '"128Mi"',
        "<CPU>": '"500m"',
        "<Port>": "80",
    }
    text = (SEEDS / "001_deployment_placeholders.yaml.template").read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    (tmp_path / "deployment.yaml").write_text(text)
    (tmp_path / "nginx-service.yaml").write_text(
        (SEEDS / "001_service_mon-serveur-web.yaml").read_text()
    )

    def k(*args: str) -> str:
        return cluster.kubectl("-n", namespace, *args, timeout=200).stdout

    assert k("apply", "-f", str(tmp_path / "deployment.yaml")).strip() == (
        "deployment.apps/monnginx created"
    )
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
    k("rollout", "status", "deployment/monnginx", "--timeout=180s")

    # kubectl expose deployment monnginx --port=80 --type=NodePort
    exposed = k("expose", "deployment", "monnginx", "--port=80", "--type=NodePort")
    assert exposed.strip() == "service/monnginx exposed"
    # $ kubectl apply -f nginx-service.yaml
    applied = k("apply", "-f", str(tmp_path / "nginx-service.yaml"))
    assert applied.strip() == "service/mon-serveur-web created"

    # kubectl get service
    rows = {line.split()[0]: line.split() for line in k("get", "service").splitlines()[1:]}
    for name in ("monnginx", "mon-serveur-web"):
        assert rows[name][1] == "NodePort"
        assert re.fullmatch(r"10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+", rows[name][2])
        assert re.fullmatch(r"80:3\d{4}/TCP", rows[name][4]), rows[name]

    # kubectl get all / kubectl describe elementType elementName
    names = [line.split()[0] for line in k("get", "all").splitlines() if line.strip()]
    for name in ("deployment.apps/monnginx", "service/monnginx", "service/mon-serveur-web"):
        assert name in names
    assert any(re.fullmatch(r"replicaset\.apps/monnginx-[0-9a-z]{6,10}", n) for n in names)
    assert any(re.fullmatch(r"pod/monnginx-[0-9a-z]{6,10}-[0-9a-z]{5}", n) for n in names)
    described = k("describe", "deployment", "monnginx")
    assert re.search(r"^Replicas:\s+1 desired \| 1 updated \| 1 total", described, re.M), described
    assert re.search(r"^StrategyType:\s+RollingUpdate$", described, re.M), described

    def endpoints(name: str) -> bool:
        eps = cluster.kubectl_json("get", "endpoints", name, "-n", namespace)
        return any(s.get("addresses") for s in eps.get("subsets") or [])

    eventually(lambda: endpoints("monnginx") and endpoints("mon-serveur-web"), timeout=60)
    eventually(lambda: _running(cluster, "client", namespace), timeout=120)

    def through(url: str) -> str:
        script = f"timeout 5 wget -qO- {url}"
        return k("exec", "client", "--", "sh", "-c", script)

    for url in (
        "http://monnginx",
        "http://mon-serveur-web",
        f"http://mon-serveur-web.{namespace}.svc.cluster.local",
    ):
        assert "Welcome to nginx!" in eventually(functools.partial(through, url), timeout=60)

    # NodePort, from the host to a node on the kubelab network
    node_port = cluster.kubectl_json("get", "svc", "mon-serveur-web", "-n", namespace)["spec"][
        "ports"
    ][0]["nodePort"]
    body = eventually(lambda: _http_get(f"http://{NODE_IPS[1]}:{node_port}/"), timeout=60)
    assert "Welcome to nginx!" in body
