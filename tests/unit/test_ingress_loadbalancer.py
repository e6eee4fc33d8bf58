"""LoadBalancer controller: what should run, and one sync against fakes."""

from __future__ import annotations

from typing import Any

from ingress.loadbalancer import (
    Balancer,
    LoadBalancerController,
    RunningBalancer,
    desired_balancers,
    node_ips,
)


def node(name: str, ip: str, ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def svc(name: str, type_: str = "LoadBalancer", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "type": type_,
            "ports": [
                {"port": 80, "nodePort": 31080, "protocol": "TCP"},
                {"port": 53, "nodePort": 31053, "protocol": "UDP"},
            ],
        },
        "status": status,
    }


NODES = [node("w1", "10.112.0.21"), node("w2", "10.112.0.22", ready=False)]


def test_desired_balancers_use_ready_nodes_and_tcp_node_ports() -> None:
    assert node_ips(NODES) == ("10.112.0.21",)
    assert node_ips([node("w2", "10.112.0.22", ready=False)]) == ("10.112.0.22",)
    wanted = desired_balancers([svc("web"), svc("plain", "ClusterIP")], NODES)
    assert list(wanted) == ["default/web"]
    b = wanted["default/web"]
    assert b.ports == ((80, 31080),)
    assert b.command() == [
        "python",
        "-m",
        "ingress.forward",
        "--listen",
        "80:31080",
        "--target",
        "10.112.0.21",
    ]
    assert desired_balancers([svc("web")], []) == {}


class FakeRuntime:
    def __init__(self, running: list[RunningBalancer]) -> None:
        self.running = running
        self.started: list[Balancer] = []
        self.removed: list[str] = []

    def list(self) -> list[RunningBalancer]:
        return list(self.running)

    def start(self, balancer: Balancer) -> None:
        self.started.append(balancer)

    def remove(self, container_id: str) -> None:
        self.removed.append(container_id)


class FakeAPI:
    def __init__(self) -> None:
        self.patches: list[tuple[str, Any]] = []

    async def patch(self, rt: Any, name: str, patch: Any, **kw: Any) -> dict[str, Any]:
        self.patches.append((name, patch))
        return {}


class Store:
    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.objs = objs

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.objs


async def test_sync_starts_replaces_removes_and_publishes() -> None:
    wanted = desired_balancers([svc("web")], NODES)["default/web"]
    runtime = FakeRuntime(
        [
            RunningBalancer("old", "default/web", "stale-hash", True),
            RunningBalancer("orphan", "default/gone", "x", True),
        ]
    )
    api = FakeAPI()
    controller = LoadBalancerController(
        api,  # type: ignore[arg-type]
        runtime,
        services=Store(
            [
                svc("web"),
                svc("was-lb", "ClusterIP", loadBalancer={"ingress": [{"ip": "127.0.0.1"}]}),
            ]
        ),
        nodes=Store(NODES),
    )
    await controller.sync()
    assert runtime.removed == ["orphan"]
    assert runtime.started == [wanted]
    assert sorted(api.patches, key=lambda p: p[0]) == [
        ("was-lb", {"status": {"loadBalancer": {"ingress": None}}}),
        ("web", {"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}}}),
    ]
