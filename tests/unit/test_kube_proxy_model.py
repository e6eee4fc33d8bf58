"""kube-proxy decisions: listeners from Services, backends from Endpoints, balancing."""

from __future__ import annotations

from typing import Any

from kube_proxy.model import (
    Balancer,
    Endpoint,
    Frontend,
    Route,
    ServicePortName,
    desired_frontends,
    local_only,
    service_endpoints,
)


def service(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("clusterIP", "10.96.1.1")
    spec.setdefault("ports", [{"name": "http", "port": 80, "protocol": "TCP"}])
    return {"metadata": {"namespace": "default", "name": name}, "spec": spec}


def endpoints(*subsets: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": "web"}, "subsets": list(subsets)}


HTTP = ServicePortName("default", "web", "http", "TCP")


def test_cluster_ip_and_node_port_frontends() -> None:
    svc = service(
        "web",
        type="NodePort",
        ports=[
            {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
            {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
        ],
    )
    wanted = desired_frontends([svc], "10.112.0.5")
    assert wanted == {
        Frontend("10.96.1.1", 80, "TCP"): Route(HTTP, external=False),
        Frontend("10.112.0.5", 30080, "TCP"): Route(HTTP, external=True),
        Frontend("10.96.1.1", 53, "UDP"): Route(
            ServicePortName("default", "web", "dns", "UDP"), external=False
        ),
        Frontend("10.112.0.5", 30053, "UDP"): Route(
            ServicePortName("default", "web", "dns", "UDP"), external=True
        ),
    }


def test_headless_and_external_name_are_not_proxied() -> None:
    assert desired_frontends([service("h", clusterIP="None")], "n") == {}
    assert desired_frontends([service("e", type="ExternalName", clusterIP="")], "n") == {}


def test_session_affinity_timeout_in_route() -> None:
    svc = service("web", sessionAffinity="ClientIP")
    (route,) = desired_frontends([svc], "").values()
    assert route.affinity_timeout_s == 10800
    svc = service(
        "web",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
    )
    (route,) = desired_frontends([svc], "").values()
    assert route.affinity_timeout_s == 60


def test_ready_endpoints_by_port_name() -> None:
    ep = endpoints(
        {
            "addresses": [{"ip": "10.112.0.9", "nodeName": "w1"}, {"ip": "10.112.0.8"}],
            "notReadyAddresses": [{"ip": "10.112.0.7"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        },
        {"addresses": [{"ip": "10.112.0.6"}], "ports": [{"name": "other", "port": 9}]},
    )
    assert service_endpoints(None, ep, HTTP) == [
        Endpoint("10.112.0.8", 8080),
        Endpoint("10.112.0.9", 8080, "w1"),
    ]
    unnamed = endpoints({"addresses": [{"ip": "10.112.0.2"}], "ports": [{"port": 81}]})
    assert service_endpoints(None, unnamed, ServicePortName("default", "web", "")) == [
        Endpoint("10.112.0.2", 81)
    ]
    assert service_endpoints(None, None, HTTP) == []


def test_traffic_policies() -> None:
    svc = service("web", internalTrafficPolicy="Local", externalTrafficPolicy="Cluster")
    assert local_only(svc, Route(HTTP, external=False))
    assert not local_only(svc, Route(HTTP, external=True))


def test_round_robin_over_all_endpoints() -> None:
    b = Balancer()
    eps = [Endpoint("a", 1), Endpoint("b", 1), Endpoint("c", 1)]
    b.update({HTTP: eps})
    picks = [b.pick(HTTP, "client") for _ in range(6)]
    assert picks == eps + eps


def test_client_ip_affinity_sticks_until_timeout() -> None:
    now = [0.0]
    b = Balancer(clock=lambda: now[0])
    eps = [Endpoint("a", 1), Endpoint("b", 1)]
    b.update({HTTP: eps})
    first = b.pick(HTTP, "1.1.1.1", affinity_timeout_s=10)
    assert all(b.pick(HTTP, "1.1.1.1", affinity_timeout_s=10) == first for _ in range(5))
    other = b.pick(HTTP, "2.2.2.2", affinity_timeout_s=10)
    assert other != first
    now[0] = 100.0
    picks = {b.pick(HTTP, "1.1.1.1", affinity_timeout_s=10) for _ in range(1)}
    assert picks  # a fresh choice after the timeout, still an endpoint
    # the sticky endpoint going away moves the client elsewhere
    sticky = b.pick(HTTP, "3.3.3.3", affinity_timeout_s=1000)
    b.update({HTTP: [e for e in eps if e != sticky]})
    assert b.pick(HTTP, "3.3.3.3", affinity_timeout_s=1000) != sticky


def test_pick_excludes_failed_and_filters_by_node() -> None:
    b = Balancer()
    eps = [Endpoint("a", 1, "n1"), Endpoint("b", 1, "n2")]
    b.update({HTTP: eps})
    assert b.pick(HTTP, "c", exclude={eps[0]}) == eps[1]
    assert b.pick(HTTP, "c", exclude=set(eps)) is None
    assert {b.pick(HTTP, "c", node_name="n2") for _ in range(4)} == {eps[1]}
    assert b.pick(HTTP, "c", node_name="n3") is None
    assert b.pick(ServicePortName("x", "y", ""), "c") is None


def test_update_reports_changes() -> None:
    b = Balancer()
    assert b.update({HTTP: [Endpoint("a", 1)]}) == [HTTP]
    assert b.update({HTTP: [Endpoint("a", 1)]}) == []
    assert b.update({}) == [HTTP]
