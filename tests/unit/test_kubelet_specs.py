"""Translating a pod's containers to Docker: env, volumes, security, limits, DNS."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kubelet import specs

JSON = dict[str, Any]
CTX = specs.NodeContext(node_name="n1", node_ip="10.200.0.1", network="net")


def pod(**spec: Any) -> JSON:
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "labels": {"app": "w"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "img"}], **spec},
    }


def test_env_order_refs_and_expansion() -> None:
    cm = {"data": {"COLOR": "blue", "SIZE": "L"}}
    secret = {"data": {"PASS": base64.b64encode(b"s3cr3t").decode()}}
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        "env": [
            {"name": "A", "value": "x"},
            {"name": "B", "value": "$(A)-$(CFG_COLOR)-$(NOPE)-$$(A)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "PASS"}}},
        ],
    }
    env = specs.container_env(
        pod(),
        container,
        {("configmap", "cfg"): cm, ("secret", "s"): secret},
        pod_ip="10.1.2.3",
        host_ip="h",
    )
    assert env["CFG_COLOR"] == "blue"
    assert env["B"] == "x-blue-$(NOPE)-$(A)"
    assert (env["POD"], env["IP"], env["APP"], env["PW"]) == ("web", "10.1.2.3", "w", "s3cr3t")


def test_missing_configmap_and_key_messages() -> None:
    c1: JSON = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "k"}}}],
    }
    with pytest.raises(specs.ConfigError, match='configmap "m" not found'):
        specs.container_env(pod(), c1, {}, pod_ip="", host_ip="")
    with pytest.raises(specs.ConfigError, match="couldn't find key k in ConfigMap shop/m"):
        specs.container_env(pod(), c1, {("configmap", "m"): {"data": {}}}, pod_ip="", host_ip="")
    c1["env"][0]["valueFrom"]["configMapKeyRef"]["optional"] = True
    assert specs.container_env(pod(), c1, {}, pod_ip="", host_ip="") == {}


def test_run_as_non_root_messages() -> None:
    p = pod(securityContext={"runAsNonRoot": True})
    c = p["spec"]["containers"][0]
    with pytest.raises(specs.ConfigError) as e:
        specs.security(p, c, "")
    assert str(e.value) == (
        'container has runAsNonRoot and image will run as root (pod: "web_shop(u1)", container: c)'
    )
    with pytest.raises(specs.ConfigError, match="non-numeric user \\(nginx\\)"):
        specs.security(p, c, "nginx")
    assert specs.security(p, c, "1000").user == ""
    c["securityContext"] = {"runAsUser": 0}
    with pytest.raises(specs.ConfigError, match="runAsUser breaks non-root policy"):
        specs.security(p, c, "1000")
    c["securityContext"] = {
        "runAsUser": 1000,
        "runAsGroup": 3000,
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
    }
    sec = specs.security(p, c, "")
    assert (sec.user, sec.cap_add, sec.cap_drop) == ("1000:3000", ["NET_ADMIN"], ["ALL"])


def test_container_config_command_args_limits_mounts() -> None:
    p = pod(
        volumes=[
            {"name": "data", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "m"}},
            {"name": "host", "hostPath": {"path": "/var/log/app"}},
        ]
    )
    container = {
        "name": "c",
        "image": "busybox",
        "command": ["sh", "-c"],
        "args": ["echo $(GREETING)"],
        "workingDir": "/w",
        "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"cpu": "250m"}},
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "cfg", "mountPath": "/etc/cfg"},
            {"name": "host", "mountPath": "/logs"},
        ],
    }
    cfg = specs.container_config(
        p,
        container,
        CTX,
        kind="app",
        attempt=2,
        sandbox_id="sb",
        env={"GREETING": "hi"},
        image_user="",
    )
    assert cfg["entrypoint"] == ["sh", "-c"] and cfg["command"] == ["echo hi"]
    assert cfg["name"] == "k8s_c_web_shop_u1_2"
    assert cfg["network_mode"] == "container:sb"
    assert cfg["mem_limit"] == 64 * 1024 * 1024 and cfg["nano_cpus"] == 500_000_000
    assert cfg["cpu_shares"] == 256
    assert cfg["working_dir"] == "/w"
    assert cfg["labels"]["io.kubelab.pod.uid"] == "u1"
    assert cfg["labels"]["io.kubelab.container.attempt"] == "2"
    sources = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in cfg["mounts"]}
    assert sources == {
        "/data": ("kubelab-u1-data", False),
        "/etc/cfg": ("kubelab-u1-cfg", True),
        "/logs": ("kubelab-node-n1-hostpath-var_log_app", False),
    }


def test_sandbox_dns_route_and_hostname() -> None:
    cfg = specs.sandbox_config(pod(), CTX, attempt=0)
    assert cfg["dns"] == ["10.96.0.10"]
    assert cfg["dns_search"] == ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert cfg["dns_opt"] == ["ndots:5"]
    assert cfg["hostname"] == "web"
    assert "ip route replace 10.96.0.0/12 via 10.200.0.1" in cfg["entrypoint"][2]
    assert cfg["cap_add"] == ["NET_ADMIN"]
    assert cfg["environment"] == [
        "KUBELAB_RESOLV_CONF=nameserver 10.96.0.10\n"
        "search shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
    ]
    assert "/etc/resolv.conf" in cfg["entrypoint"][2]
    assert "dns" not in specs.sandbox_config(pod(dnsPolicy="Default"), CTX, attempt=0)


def test_volume_files_items_and_secret_decoding() -> None:
    p = pod()
    objects = {
        ("configmap", "m"): {"data": {"a.conf": "A", "b.conf": "B"}},
        ("secret", "s"): {"data": {"token": base64.b64encode(b"T").decode()}},
    }
    vol = {"name": "v", "configMap": {"name": "m", "items": [{"key": "a.conf", "path": "x/a"}]}}
    assert specs.volume_files(p, vol, objects) == {"x/a": b"A"}
    assert specs.volume_files(p, {"name": "s", "secret": {"secretName": "s"}}, objects) == {
        "token": b"T"
    }
    with pytest.raises(specs.ConfigError, match='configmap "missing" not found'):
        specs.volume_files(p, {"name": "z", "configMap": {"name": "missing"}}, objects)
    down = {
        "name": "d",
        "downwardAPI": {
            "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
        },
    }
    assert specs.volume_files(p, down, objects) == {"labels": b'app="w"'}


def test_host_network_sandbox_joins_the_node_namespace() -> None:
    ctx = specs.NodeContext(
        node_name="n1", node_ip="10.0.0.2", network="net", host_network_mode="container:n1"
    )
    cfg = specs.sandbox_config(pod(hostNetwork=True), ctx, attempt=0)
    assert cfg["network_mode"] == "container:n1"
    assert "network" not in cfg and "hostname" not in cfg and "dns" not in cfg
    assert "ip route" not in cfg["entrypoint"][2]
    assert "NET_ADMIN" not in cfg.get("cap_add", [])
    with_dns = specs.sandbox_config(
        pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), ctx, attempt=0
    )
    assert "nameserver 10.96.0.10" in with_dns["environment"][0]


def test_wanted_host_ports() -> None:
    from kubelet.hostports import HostPort, wanted_host_ports

    p = pod()
    p["spec"]["containers"][0]["ports"] = [
        {"containerPort": 80, "hostPort": 8080},
        {"containerPort": 53, "hostPort": 5353, "protocol": "UDP"},
        {"containerPort": 9090},
    ]
    assert wanted_host_ports(p, node_ip="10.0.0.2", pod_ip="10.1.0.5") == [
        HostPort("10.0.0.2", 8080, "u1", "10.1.0.5", 80)
    ]
    assert wanted_host_ports(p, node_ip="10.0.0.2", pod_ip="") == []


def test_sub_path_mounts_are_marked_for_the_runtime() -> None:
    p = pod(volumes=[{"name": "cfg", "configMap": {"name": "m"}}])
    container = {
        "name": "c",
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
            {"name": "cfg", "mountPath": "/etc/bad", "subPath": "../escape"},
        ],
    }
    good, bad = specs.mounts(p, container, CTX)
    assert good["SubPath"] == "app.conf" and good["ReadOnly"] is True
    assert "SubPath" not in bad
