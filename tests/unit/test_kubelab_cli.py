"""The lab CLI's pure parts: kubeconfig merging, node naming and addresses, and the
compose file agreeing with the address plan in kubelab.config."""

from __future__ import annotations

from pathlib import Path

import yaml

from kubelab import cluster, config, images, kubeconfig, node

ADMIN = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [
        {
            "name": "kubelab",
            "cluster": {"server": "https://0.0.0.0:6443", "certificate-authority-data": "Q0E="},
        }
    ],
    "users": [{"name": "kubelab", "user": {"token": "secret"}}],
    "contexts": [{"name": "kubelab", "context": {"cluster": "kubelab", "user": "kubelab"}}],
    "current-context": "kubelab",
}


def test_merge_into_nothing_gives_a_working_context() -> None:
    ours = kubeconfig.for_context(ADMIN, server="https://127.0.0.1:6443")
    merged = kubeconfig.merge(None, ours)
    assert merged["current-context"] == "kubelab"
    assert merged["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert merged["clusters"][0]["cluster"]["certificate-authority-data"] == "Q0E="
    assert merged["users"] == [{"name": "kubelab", "user": {"token": "secret"}}]


def test_merge_keeps_other_contexts_and_replaces_ours() -> None:
    existing = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "other", "cluster": {"server": "https://other"}},
            {"name": "kubelab", "cluster": {"server": "https://stale"}},
        ],
        "users": [{"name": "other", "user": {"token": "o"}}],
        "contexts": [{"name": "other", "context": {"cluster": "other", "user": "other"}}],
        "current-context": "other",
    }
    merged = kubeconfig.merge(
        existing, kubeconfig.for_context(ADMIN, server="https://127.0.0.1:6443")
    )
    assert [c["name"] for c in merged["clusters"]] == ["other", "kubelab"]
    assert merged["clusters"][1]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert [c["name"] for c in merged["contexts"]] == ["other", "kubelab"]
    assert merged["current-context"] == "kubelab"
    removed = kubeconfig.remove(merged)
    assert [c["name"] for c in removed["clusters"]] == ["other"]
    assert removed["current-context"] == ""


def test_write_is_private(tmp_path: Path) -> None:
    path = tmp_path / "kube" / "config"
    kubeconfig.write(path, kubeconfig.empty())
    assert path.stat().st_mode & 0o777 == 0o600
    assert kubeconfig.load(path) == kubeconfig.empty()


def test_node_names_and_addresses_follow_kind() -> None:
    assert cluster.node_names(3) == [
        "kubelab-control-plane",
        "kubelab-worker",
        "kubelab-worker2",
        "kubelab-worker3",
    ]
    assert [cluster.node_ip(n) for n in cluster.node_names(3)] == [
        "10.127.255.20",
        "10.127.255.21",
        "10.127.255.22",
        "10.127.255.23",
    ]
    assert list(cluster.extra_worker_services(2)) == []
    assert list(cluster.extra_worker_services(4)) == ["kubelab-worker3", "kubelab-worker4"]


def test_compose_file_matches_the_address_plan() -> None:
    compose = yaml.safe_load(config.COMPOSE_FILE.read_text())
    ipam = compose["networks"]["kubelab"]["ipam"]["config"][0]
    assert ipam == {"subnet": config.SUBNET, "gateway": config.GATEWAY, "ip_range": config.IP_RANGE}
    services = compose["services"]
    assert services["apiserver"]["networks"]["kubelab"]["ipv4_address"] == config.APISERVER_IP
    for name in cluster.node_names(2):
        assert services[name]["networks"]["kubelab"]["ipv4_address"] == cluster.node_ip(name)
        assert f"--node-name={name}" in services[name]["command"]
    assert "--control-plane" in services[config.CONTROL_PLANE_NODE]["command"]
    assert set(cluster.CORE_SERVICES) <= set(services)


def test_restart_delay_grows_only_in_a_crash_loop() -> None:
    assert node.restart_delay(0.0, ran_for=60) == 0.1
    assert node.restart_delay(0.1, ran_for=0.5) == 0.2
    assert node.restart_delay(4.0, ran_for=0.5) == 5.0
    assert node.restart_delay(5.0, ran_for=30) == 0.1


def test_an_image_is_rebuilt_exactly_when_its_inputs_change(tmp_path: Path) -> None:
    spec = images.ImageSpec(name="x:1", directory="x", build_args={"A": "1"})
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_text("one")
    first = images.context_hash(tmp_path, spec)
    assert images.context_hash(tmp_path, spec) == first
    (tmp_path / "sub" / "f").write_text("two")
    second = images.context_hash(tmp_path, spec)
    assert second != first
    other_args = images.ImageSpec(name="x:1", directory="x", build_args={"A": "2"})
    assert images.context_hash(tmp_path, other_args) != second


def test_every_image_the_seeds_use_is_built_locally() -> None:
    tags = {tag for spec in images.SPECS for tag in (spec.name, *spec.aliases)}
    for image in (
        "nginx:latest",
        "nginx:1.19",
        "nginx:alpine",
        "busybox:latest",
        "alpine:latest",
        "redis:alpine",
        "redis:5.0.12-alpine",
        "redis:6-alpine",
        "kubelab/pause:3.9",
        "kubelab/webapp:v1",
        "kubelab/webapp:v2",
        "kubelab/etcd:3.5",
        config.KUBELAB_IMAGE,
    ):
        assert image in tags
    assert images.requirements() and all("==" in r for r in images.requirements())
