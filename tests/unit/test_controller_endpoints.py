"""Endpoints and EndpointSlice controllers: sync against fakes."""

from __future__ import annotations

from typing import Any

from controller_manager import kube
from controller_manager.endpoints import EndpointsController
from controller_manager.endpointslice import EndpointSliceController
from tests.unit.cm_fakes import FakeCluster

SLICES = kube.rt("discovery.k8s.io", "endpointslices")


def service(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default", "labels": {"tier": "front"}},
        "spec": {
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.20",
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            **spec,
        },
    }


def pod(name: str, ip: str, *, ready: bool, port: int = 8080, node: str = "n1") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": port}]}],
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


async def test_endpoints_split_ready_and_not_ready_with_named_ports() -> None:
    c = FakeCluster()
    c.add(kube.SERVICES, service())
    c.add(kube.PODS, pod("b", "10.112.0.3", ready=True))
    c.add(kube.PODS, pod("a", "10.112.0.2", ready=False))
    c.add(kube.PODS, pod("other-port", "10.112.0.4", ready=True, port=9090))
    unrelated = pod("z", "10.112.0.9", ready=True)
    unrelated["metadata"]["labels"] = {"app": "db"}
    c.add(kube.PODS, unrelated)
    no_ip = pod("pending", "", ready=False)
    c.add(kube.PODS, no_ip)
    ctl = EndpointsController(c.context())
    await ctl.sync("default/web")
    assert c.writes() == [("create", "endpoints", "default", "web")]
    ep = c.get_obj(kube.ENDPOINTS, "web")
    assert ep is not None
    assert ep["metadata"]["labels"] == {"tier": "front"}
    assert ep["subsets"] == [
        {
            "addresses": [
                {
                    "ip": "10.112.0.3",
                    "nodeName": "n1",
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": "default",
                        "name": "b",
                        "uid": "uid-b",
                    },
                }
            ],
            "notReadyAddresses": [
                {
                    "ip": "10.112.0.2",
                    "nodeName": "n1",
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": "default",
                        "name": "a",
                        "uid": "uid-a",
                    },
                }
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        },
        {
            "addresses": [
                {
                    "ip": "10.112.0.4",
                    "nodeName": "n1",
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": "default",
                        "name": "other-port",
                        "uid": "uid-other-port",
                    },
                }
            ],
            "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}],
        },
    ]
    # level-triggered: nothing changed, nothing written
    await ctl.sync("default/web")
    assert len(c.writes()) == 1


async def test_publish_not_ready_and_selectorless_services() -> None:
    c = FakeCluster()
    c.add(kube.SERVICES, service(publishNotReadyAddresses=True))
    c.add(kube.PODS, pod("a", "10.112.0.2", ready=False))
    ctl = EndpointsController(c.context())
    await ctl.sync("default/web")
    ep = c.get_obj(kube.ENDPOINTS, "web")
    assert ep is not None
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["10.112.0.2"]

    manual = service()
    manual["metadata"]["name"] = "manual"
    del manual["spec"]["selector"]
    c.add(kube.SERVICES, manual)
    await ctl.sync("default/manual")
    assert c.get_obj(kube.ENDPOINTS, "manual") is None


async def test_endpoints_of_a_deleted_service_are_deleted() -> None:
    c = FakeCluster()
    c.add(kube.ENDPOINTS, {"metadata": {"name": "web"}})
    ctl = EndpointsController(c.context())
    await ctl.sync("default/web")
    assert c.writes() == [("delete", "endpoints", "default", "web", "")]


async def test_endpointslice_written_once_and_updated() -> None:
    c = FakeCluster()
    svc = c.add(kube.SERVICES, service())
    c.add(kube.PODS, pod("a", "10.112.0.2", ready=True))
    ctl = EndpointSliceController(c.context())
    await ctl.sync("default/web")
    [(_, name)] = list(c.objects(SLICES))
    s = c.get_obj(SLICES, name)
    assert s is not None
    assert name.startswith("web-")
    assert s["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert s["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert s["endpoints"][0]["addresses"] == ["10.112.0.2"]
    assert s["endpoints"][0]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    await ctl.sync("default/web")
    assert len(c.writes()) == 1
    c.add(kube.PODS, pod("b", "10.112.0.3", ready=False))
    await ctl.sync("default/web")
    assert c.writes()[-1][0] == "update"
    s = c.get_obj(SLICES, name)
    assert s is not None
    assert [e["conditions"]["ready"] for e in s["endpoints"]] == [True, False]


async def test_headless_service_without_ports_lists_addresses() -> None:
    c = FakeCluster()
    c.add(kube.SERVICES, service(clusterIP="None", ports=[]))
    c.add(kube.PODS, pod("a", "10.112.0.2", ready=True))
    ctl = EndpointsController(c.context())
    await ctl.sync("default/web")
    ep = c.get_obj(kube.ENDPOINTS, "web")
    assert ep is not None
    assert ep["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["10.112.0.2"]
    assert "ports" not in ep["subsets"][0]
