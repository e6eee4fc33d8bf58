"""The real kubectl against a real etcd + apiserver: the commands of the seed
tutorials that need no running container, asserted on what kubectl prints.

Each test works in its own namespace so the module can share one apiserver.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.integration.rest_fixtures import Rest, kubectl, kubectl_binary, rest
from tests.polling import eventually_sync
from tests.processes import free_port

pytestmark = pytest.mark.etcd
__all__ = ["rest"]

REDIS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
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
        resources:
          limits:
            memory: "128Mi"
            cpu: "500m"
        ports:
        - containerPort: 6379
"""

REDIS_V2 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
spec:
  replicas: 4
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 2
      maxUnavailable: 1
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
        image: redis:5.0.12-alpine
        resources:
          limits:
            memory: "128Mi"
            cpu: "500m"
        ports:
        - containerPort: 6379
"""

PODS = """\
apiVersion: v1
kind: Pod
metadata:
  name: monnginx
spec:
  containers:
  - name: monnginx
    image: nginx:latest
---
apiVersion: v1
kind: Pod
metadata:
  name: initcontainer-example
spec:
  initContainers:
  - name: sleepy
    image: alpine
    command: ['sleep', '20']
  containers:
  - name: web
    image: nginx
---
apiVersion: v1
kind: Pod
metadata:
  name: nginxsecure
spec:
  securityContext:
    runAsNonRoot: true
  containers:
  - image: nginx
    name: nginx
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: mon-serveur-web
spec:
  selector:
    app: monnginx
  ports:
  - port: 80
    name: mon-serveur-web
  type: NodePort
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def namespace(rest: Rest, name: str) -> str:
    out = kubectl(rest, "create", "ns", name).stdout
    assert out.strip() == f"namespace/{name} created"
    return name


def test_get_namespaces_version_and_discovery(rest: Rest) -> None:
    out = kubectl(rest, "get", "ns").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["default", "Active"] for line in lines[1:])
    assert "kube-system" in out

    version = kubectl(rest, "version", "-o", "json").stdout
    assert json.loads(version)["serverVersion"]["gitVersion"].startswith("v1.32")

    resources = kubectl(rest, "api-resources").stdout.splitlines()
    assert resources[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = {line.split()[0]: line.split() for line in resources[1:]}
    assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["namespaces"][1:] == ["ns", "v1", "false", "Namespace"]
    for short in ("svc", "cm", "rs"):
        assert any(r[1] == short for r in rows.values())

    versions = kubectl(rest, "api-versions").stdout.split()
    assert {"v1", "apps/v1", "batch/v1"} <= set(versions)


def test_explain(rest: Rest) -> None:
    out = kubectl(rest, "explain", "pods.spec").stdout
    assert "KIND:" in out and "Pod" in out
    assert "FIELD: spec" in out
    assert "containers\t<[]Container> -required-" in out
    out = kubectl(rest, "explain", "pods").stdout
    assert "spec\t<PodSpec>" in out or "spec" in out


def test_seed_deployment_apply_get_scale_set_image(rest: Rest, tmp_path: Path) -> None:
    ns = namespace(rest, "seed-redis")
    manifest = write(tmp_path, "redis-deploy.yaml", REDIS)
    out = kubectl(rest, "-n", ns, "apply", "-f", manifest).stdout
    assert out.strip() == "deployment.apps/redis created"
    out = kubectl(rest, "-n", ns, "apply", "-f", manifest).stdout
    assert out.strip() == "deployment.apps/redis unchanged"

    updated = write(tmp_path, "redis-deploy-v2.yaml", REDIS_V2)
    out = kubectl(rest, "-n", ns, "apply", "-f", updated).stdout
    assert out.strip() == "deployment.apps/redis configured"
    deploy = json.loads(kubectl(rest, "-n", ns, "get", "deploy", "redis", "-o", "json").stdout)
    assert deploy["spec"]["replicas"] == 4
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 2, "maxUnavailable": 1}
    annotations = deploy["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in annotations

    lines = kubectl(rest, "-n", ns, "get", "deployments").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert lines[1].split()[0] == "redis" and lines[1].split()[1].endswith("/4")
    wide = kubectl(rest, "-n", ns, "get", "deploy", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[-3:] == ["redis", "redis:5.0.12-alpine", "app=redis"]

    out = kubectl(rest, "-n", ns, "scale", "deploy", "redis", "--replicas=2").stdout
    assert out.strip() == "deployment.apps/redis scaled"
    out = kubectl(
        rest, "-n", ns, "set", "image", "deployment.apps/redis", "redis=redis:6-alpine"
    ).stdout
    assert out.strip() == "deployment.apps/redis image updated"
    image = kubectl(
        rest,
        "-n",
        ns,
        "get",
        "deployment.apps/redis",
        "-o=jsonpath={$.spec.template.spec.containers[:1].image}",
    ).stdout
    assert image == "redis:6-alpine"
    replicas = kubectl(
        rest, "-n", ns, "get", "deploy", "redis", "-o", "jsonpath={.spec.replicas}"
    ).stdout
    assert replicas == "2"
    assert kubectl(rest, "-n", ns, "get", "deploy", "-o", "name").stdout.strip() == (
        "deployment.apps/redis"
    )
    as_yaml = yaml.safe_load(kubectl(rest, "-n", ns, "get", "deploy", "redis", "-o", "yaml").stdout)
    assert as_yaml["kind"] == "Deployment" and as_yaml["metadata"]["namespace"] == ns

    described = kubectl(rest, "-n", ns, "describe", "deploy", "redis").stdout
    assert "Name:" in described and "redis" in described
    assert "Image:" in described and "redis:6-alpine" in described

    out = kubectl(rest, "-n", ns, "delete", "deploy", "redis").stdout
    assert out.strip() == 'deployment.apps "redis" deleted'
    err = kubectl(rest, "-n", ns, "get", "deploy", "redis", check=False)
    assert err.returncode != 0
    assert 'Error from server (NotFound): deployments.apps "redis" not found' in err.stderr


def test_seed_pods_service_and_get_all(rest: Rest, tmp_path: Path) -> None:
    ns = namespace(rest, "seed-pods")
    out = kubectl(rest, "-n", ns, "create", "-f", write(tmp_path, "pods.yaml", PODS)).stdout
    assert out.split("\n")[:3] == [
        "pod/monnginx created",
        "pod/initcontainer-example created",
        "pod/nginxsecure created",
    ]
    out = kubectl(rest, "-n", ns, "apply", "-f", write(tmp_path, "svc.yaml", SERVICE)).stdout
    assert out.strip() == "service/mon-serveur-web created"

    pods = kubectl(rest, "-n", ns, "get", "pods").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert {line.split()[0] for line in pods[1:]} == {
        "monnginx",
        "initcontainer-example",
        "nginxsecure",
    }
    wide = kubectl(rest, "get", "pods", "--all-namespaces", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert "IP" in wide[0].split() and "NODE" in wide[0].split()

    svc = kubectl(rest, "-n", ns, "get", "service").stdout.splitlines()
    assert svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert svc[1].split()[:2] == ["mon-serveur-web", "NodePort"]

    everything = kubectl(rest, "-n", ns, "get", "all").stdout
    assert "pod/monnginx" in everything and "service/mon-serveur-web" in everything

    described = kubectl(rest, "-n", ns, "describe", "pod", "monnginx").stdout
    assert "Name:" in described and "monnginx" in described
    assert "nginx:latest" in described

    res = kubectl(rest, "-n", ns, "delete", "po", "monnginx", "--grace-period=0", "--force")
    assert 'pod "monnginx"' in res.stdout + res.stderr


def test_labels_annotations_and_selectors(rest: Rest) -> None:
    ns = namespace(rest, "labels")
    kubectl(rest, "-n", ns, "create", "configmap", "one", "--from-literal=a=b")
    kubectl(rest, "-n", ns, "create", "configmap", "two", "--from-literal=a=b")
    out = kubectl(rest, "-n", ns, "label", "cm", "one", "app=redis").stdout
    assert out.strip() == "configmap/one labeled"
    out = kubectl(rest, "-n", ns, "annotate", "cm", "one", "note=hello").stdout
    assert out.strip() == "configmap/one annotated"
    selected = kubectl(rest, "-n", ns, "get", "cm", "-l", "app=redis", "-o", "name").stdout
    assert selected.split() == ["configmap/one"]
    by_field = kubectl(
        rest, "-n", ns, "get", "cm", "--field-selector", "metadata.name=two", "-o", "name"
    ).stdout
    assert by_field.split() == ["configmap/two"]
    shown = kubectl(rest, "-n", ns, "get", "cm", "one", "--show-labels").stdout
    assert "app=redis" in shown
    out = kubectl(rest, "-n", ns, "label", "cm", "one", "app-").stdout
    assert out.strip() == "configmap/one unlabeled"


def test_patch_types_and_edit(rest: Rest, tmp_path: Path) -> None:
    ns = namespace(rest, "patching")
    kubectl(rest, "-n", ns, "create", "deployment", "web", "--image=nginx:1", "--port=80")
    kubectl(
        rest,
        "-n",
        ns,
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        json.dumps([{"op": "replace", "path": "/spec/replicas", "value": 3}]),
    )
    kubectl(
        rest,
        "-n",
        ns,
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        json.dumps({"metadata": {"labels": {"tier": "front"}}}),
    )
    out = kubectl(
        rest,
        "-n",
        ns,
        "patch",
        "deploy",
        "web",
        "-p",
        json.dumps(
            {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
        ),
    ).stdout
    assert out.strip() == "deployment.apps/web patched"
    deploy = json.loads(kubectl(rest, "-n", ns, "get", "deploy", "web", "-o", "json").stdout)
    assert deploy["spec"]["replicas"] == 3
    assert deploy["metadata"]["labels"]["tier"] == "front"
    assert [c["name"] for c in deploy["spec"]["template"]["spec"]["containers"]] == [
        "nginx",
        "side",
    ]

    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/replicas: 3/replicas: 7/" "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    out = kubectl(rest, "-n", ns, "edit", "deploy", "web", env={"KUBE_EDITOR": str(editor)}).stdout
    assert out.strip() == "deployment.apps/web edited"
    replicas = kubectl(
        rest, "-n", ns, "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"
    ).stdout
    assert replicas == "7"


def test_server_side_apply(rest: Rest, tmp_path: Path) -> None:
    ns = namespace(rest, "ssa")
    manifest = write(tmp_path, "redis.yaml", REDIS)
    out = kubectl(rest, "-n", ns, "apply", "--server-side", "-f", manifest).stdout
    assert out.strip() == "deployment.apps/redis serverside-applied"
    out = kubectl(rest, "-n", ns, "apply", "--server-side", "-f", manifest).stdout
    assert out.strip() == "deployment.apps/redis serverside-applied"
    shown = yaml.safe_load(
        kubectl(
            rest, "-n", ns, "get", "deploy", "redis", "-o", "yaml", "--show-managed-fields"
        ).stdout
    )
    managers = {e["manager"]: e["operation"] for e in shown["metadata"]["managedFields"]}
    assert managers.get("kubectl") == "Apply"
    # Another manager changing an owned field conflicts, as upstream.
    other = REDIS.replace("image: redis:alpine", "image: redis:7")
    res = kubectl(
        rest,
        "-n",
        ns,
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        write(tmp_path, "other.yaml", other),
        check=False,
    )
    assert res.returncode != 0
    assert "conflict" in res.stderr.lower()
    out = kubectl(
        rest,
        "-n",
        ns,
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        str(tmp_path / "other.yaml"),
    ).stdout
    assert out.strip() == "deployment.apps/redis serverside-applied"


def test_typed_client_commands_send_protobuf(rest: Rest) -> None:
    """`kubectl create <kind>` uses typed clients, which send protobuf bodies."""
    ns = namespace(rest, "typed")
    commands = [
        (["create", "job", "j1", "--image=busybox", "--", "echo", "hi"], "job.batch/j1 created"),
        (
            ["create", "cronjob", "cj1", "--image=busybox", "--schedule=*/5 * * * *"],
            "cronjob.batch/cj1 created",
        ),
        (["create", "secret", "generic", "s1", "--from-literal=a=b"], "secret/s1 created"),
        (["create", "sa", "robot"], "serviceaccount/robot created"),
        (["create", "quota", "q1", "--hard=pods=10"], "resourcequota/q1 created"),
        (
            ["create", "ingress", "ing1", "--rule=foo.com/bar=svc1:8080"],
            "ingress.networking.k8s.io/ing1 created",
        ),
        (["create", "service", "clusterip", "s1", "--tcp=80:8080"], "service/s1 created"),
    ]
    for args, expected in commands:
        assert kubectl(rest, "-n", ns, *args).stdout.strip() == expected
    secret = json.loads(kubectl(rest, "-n", ns, "get", "secret", "s1", "-o", "json").stdout)
    assert secret["data"] == {"a": "Yg=="} and secret["type"] == "Opaque"
    ingress = json.loads(kubectl(rest, "-n", ns, "get", "ing", "ing1", "-o", "json").stdout)
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "foo.com" and rule["http"]["paths"][0]["path"] == "/bar"
    job = json.loads(kubectl(rest, "-n", ns, "get", "job", "j1", "-o", "json").stdout)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["echo", "hi"]


def test_run_expose_dry_run(rest: Rest) -> None:
    ns = namespace(rest, "run")
    dry = yaml.safe_load(
        kubectl(
            rest, "-n", ns, "run", "monnginx", "--image=nginx", "--dry-run=client", "-o", "yaml"
        ).stdout
    )
    assert dry["kind"] == "Pod" and dry["spec"]["containers"][0]["image"] == "nginx"
    server_dry = kubectl(rest, "-n", ns, "run", "dry", "--image=nginx", "--dry-run=server").stdout
    assert "pod/dry created (server dry run)" in server_dry
    assert kubectl(rest, "-n", ns, "get", "pod", "dry", check=False).returncode != 0
    out = kubectl(rest, "-n", ns, "run", "monnginx", "--image=nginx").stdout
    assert out.strip() == "pod/monnginx created"
    kubectl(rest, "-n", ns, "create", "deployment", "monnginx", "--image=nginx")
    out = kubectl(
        rest, "-n", ns, "expose", "deployment", "monnginx", "--port=80", "--type=NodePort"
    ).stdout
    assert out.strip() == "service/monnginx exposed"
    svc = json.loads(kubectl(rest, "-n", ns, "get", "svc", "monnginx", "-o", "json").stdout)
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["port"] == 80


def test_auth_can_i_and_impersonation(rest: Rest) -> None:
    assert kubectl(rest, "auth", "can-i", "get", "pods").stdout.strip() == "yes"
    res = kubectl(rest, "auth", "can-i", "get", "pods", "--as", "toto@test.com", check=False)
    assert res.stdout.strip() == "no" and res.returncode == 1
    res = kubectl(rest, "get", "pods", "--as", "toto@test.com", check=False)
    assert res.returncode != 0
    assert (
        'Error from server (Forbidden): pods is forbidden: User "toto@test.com" cannot list '
        'resource "pods" in API group "" in the namespace "default"'
    ) in res.stderr


def test_error_cases(rest: Rest, tmp_path: Path) -> None:
    res = kubectl(rest, "get", "foo", check=False)
    assert res.returncode != 0
    assert 'the server doesn\'t have a resource type "foo"' in res.stderr

    res = kubectl(rest, "get", "pods", "--token=wrong", check=False)
    assert res.returncode != 0
    assert "Unauthorized" in res.stderr

    ns = namespace(rest, "errors")
    kubectl(rest, "-n", ns, "create", "configmap", "c1", "--from-literal=a=b")
    stale = kubectl(rest, "-n", ns, "get", "cm", "c1", "-o", "yaml").stdout
    kubectl(rest, "-n", ns, "label", "cm", "c1", "x=y")
    res = kubectl(rest, "-n", ns, "replace", "-f", write(tmp_path, "c1.yaml", stale), check=False)
    assert res.returncode != 0
    assert (
        'Error from server (Conflict): error when replacing "' in res.stderr
        and 'Operation cannot be fulfilled on configmaps "c1": the object has been modified'
        in res.stderr
    )
    res = kubectl(rest, "-n", ns, "create", "configmap", "c1", check=False)
    assert 'configmaps "c1" already exists' in res.stderr

    lenient = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lenient\nfoo: 1\nbar: 2\n"
    res = kubectl(
        rest, "-n", ns, "apply", "--validate=warn", "-f", write(tmp_path, "w.yaml", lenient)
    )
    assert res.stdout.strip() == "configmap/lenient created"
    assert 'Warning: unknown field "foo"' in res.stderr
    assert 'Warning: unknown field "bar"' in res.stderr

    broken = write(tmp_path, "broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
    res = kubectl(rest, "-n", ns, "apply", "-f", broken, check=False)
    assert res.returncode != 0

    bad_name = PODS.split("---", maxsplit=1)[0].replace("name: monnginx", "name: Bad_Name")
    res = kubectl(rest, "-n", ns, "apply", "-f", write(tmp_path, "bad.yaml", bad_name), check=False)
    assert res.returncode != 0
    assert 'The Pod "Bad_Name" is invalid' in res.stderr
    assert 'metadata.name: Invalid value: "Bad_Name"' in res.stderr
    unknown = PODS.split("---", maxsplit=1)[0].replace(
        "image: nginx:latest", "image: nginx\n    imagePullPolice: Always"
    )
    res = kubectl(
        rest, "-n", ns, "create", "-f", write(tmp_path, "unknown.yaml", unknown), check=False
    )
    assert res.returncode != 0
    assert (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field '
        '"spec.containers[0].imagePullPolice"'
    ) in res.stderr


def test_watch_with_kubectl_get_w(rest: Rest) -> None:
    ns = namespace(rest, "watching")
    env = {**os.environ, "KUBECONFIG": str(rest.kubeconfig)}
    proc = subprocess.Popen(
        [kubectl_binary(), "-n", ns, "get", "cm", "-w", "--request-timeout=30s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        time.sleep(0.5)  # not an assertion: lets the watch start before the first create
        kubectl(rest, "-n", ns, "create", "configmap", "w1", "--from-literal=a=1")
        assert proc.stdout is not None
        seen: list[str] = []

        def saw_w1() -> bool:
            line = proc.stdout.readline() if proc.stdout else ""
            seen.append(line)
            return line.split()[:1] == ["w1"]

        eventually_sync(saw_w1, within=20, what="kubectl get -w to print w1")
    finally:
        proc.terminate()
        proc.wait(10)


def test_kubectl_proxy_then_curl(rest: Rest) -> None:
    ns = namespace(rest, "proxied")
    kubectl(rest, "-n", ns, "run", "p1", "--image=nginx")
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(rest.kubeconfig)}
    proxy = subprocess.Popen(
        [kubectl_binary(), "proxy", f"--port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        eventually_sync(listening, within=20, what="kubectl proxy to listen")
        with urllib.request.urlopen(f"http://localhost:{port}", timeout=10) as r:
            assert "/api/v1" in json.loads(r.read())["paths"]
        url = f"http://localhost:{port}/api/v1/namespaces/{ns}/pods"
        with urllib.request.urlopen(url, timeout=10) as r:
            pods = json.loads(r.read())
        assert pods["kind"] == "PodList"
        assert [p["metadata"]["name"] for p in pods["items"]] == ["p1"]
    finally:
        proxy.terminate()
        proxy.wait(10)


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_other_kubectl_versions(rest: Rest, tmp_path: Path, version: str) -> None:
    binary = f"/usr/lib/google-cloud-sdk/bin/kubectl.{version}"
    if not Path(binary).exists():
        pytest.skip(f"kubectl {version} is not installed")
    ns = f"v{version.replace('.', '-')}"
    out = kubectl(rest, "create", "ns", ns, binary=binary).stdout
    assert out.strip() == f"namespace/{ns} created"
    manifest = write(tmp_path, "redis.yaml", REDIS)
    out = kubectl(rest, "-n", ns, "apply", "-f", manifest, binary=binary).stdout
    assert out.strip() == "deployment.apps/redis created"
    out = kubectl(rest, "-n", ns, "apply", "-f", manifest, binary=binary).stdout
    assert out.strip() == "deployment.apps/redis unchanged"
    lines = kubectl(rest, "-n", ns, "get", "deploy", binary=binary).stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert kubectl(rest, "auth", "can-i", "list", "pods", binary=binary).stdout.strip() == "yes"
