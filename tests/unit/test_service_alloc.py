"""ClusterIP / NodePort allocation decisions, on the in-memory store."""

from __future__ import annotations

import asyncio
import ipaddress
import random
from typing import Any

import pytest

from apimachinery import errors
from apimachinery.scheme import lookup
from apiserver.service_alloc import (
    IP_PREFIX,
    NODE_PORT_PREFIX,
    MemoryAllocationStore,
    ServiceAllocator,
    pick_free_ip,
    pick_free_port,
    static_band_size,
)

SERVICES = lookup("", "v1", "services")


def svc(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80, "protocol": "TCP"}])
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


class Ctx:
    registry = None


def allocator(**kw: Any) -> tuple[ServiceAllocator, MemoryAllocationStore]:
    store = MemoryAllocationStore()
    return ServiceAllocator(store, rng=random.Random(7), **kw), store


async def create(a: ServiceAllocator, obj: dict[str, Any]) -> dict[str, Any]:
    return await a.admit(Ctx(), "CREATE", SERVICES, obj, None)


async def test_cluster_ip_is_allocated_outside_the_static_band() -> None:
    a, store = allocator()
    out = await create(a, svc("web"))
    ip = ipaddress.IPv4Address(out["spec"]["clusterIP"])
    assert ip in ipaddress.IPv4Network("10.96.0.0/12")
    assert int(ip) - int(ipaddress.IPv4Address("10.96.0.0")) >= 256
    assert out["spec"]["clusterIPs"] == [str(ip)]
    assert f"{IP_PREFIX}{ip}" in store.data


async def test_requested_ip_honoured_then_refused_for_the_next_service() -> None:
    a, _ = allocator()
    out = await create(a, svc("kube-dns", clusterIP="10.96.0.10"))
    assert out["spec"]["clusterIP"] == "10.96.0.10"
    with pytest.raises(errors.Invalid) as e:
        await create(a, svc("other", clusterIP="10.96.0.10"))
    assert e.value.code == 422
    assert str(e.value) == (
        'Service "other" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: '
        "failed to allocate IP 10.96.0.10: provided IP is already allocated"
    )


async def test_ip_out_of_range_is_refused() -> None:
    a, store = allocator()
    with pytest.raises(errors.Invalid) as e:
        await create(a, svc("x", clusterIP="10.0.0.5"))
    assert "is not in the valid range. The range of valid IPs is 10.96.0.0/12" in str(e.value)
    assert not store.data


async def test_headless_and_external_name_get_no_ip() -> None:
    a, store = allocator()
    headless = await create(a, svc("h", clusterIP="None"))
    assert headless["spec"]["clusterIPs"] == ["None"]
    ext = await create(a, svc("e", type="ExternalName", externalName="example.org", ports=[]))
    assert "clusterIP" not in ext["spec"]
    assert not store.data


async def test_node_ports_allocated_requested_and_conflicting() -> None:
    a, store = allocator()
    out = await create(
        a,
        svc("np", type="NodePort", ports=[{"port": 80}, {"port": 81, "nodePort": 30080}]),
    )
    ports = [p["nodePort"] for p in out["spec"]["ports"]]
    assert ports[1] == 30080 and 30000 <= ports[0] <= 32767 and ports[0] != 30080
    with pytest.raises(errors.Invalid) as e:
        await create(a, svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert str(e.value).endswith(
        "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    )
    # the failed create left no IP behind
    ips = [k for k in store.data if k.startswith(IP_PREFIX)]
    assert len(ips) == 1
    with pytest.raises(errors.Invalid) as e:
        await create(a, svc("np3", type="NodePort", ports=[{"port": 80, "nodePort": 80}]))
    assert "The range of valid ports is 30000-32767" in str(e.value)


async def test_delete_frees_ip_and_ports() -> None:
    a, store = allocator()
    out = await create(a, svc("np", type="NodePort", ports=[{"port": 80, "nodePort": 30001}]))
    await a.admit(Ctx(), "DELETE", SERVICES, out, out)
    assert not store.data
    again = await create(a, svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": 30001}]))
    assert again["spec"]["ports"][0]["nodePort"] == 30001


async def test_update_to_cluster_ip_frees_node_ports_and_keeps_ip() -> None:
    a, store = allocator()
    old = await create(a, svc("np", type="NodePort"))
    new = {**old, "spec": {**old["spec"], "type": "ClusterIP", "ports": [{"port": 80}]}}
    del new["spec"]["clusterIP"]
    out = await a.admit(Ctx(), "UPDATE", SERVICES, new, old)
    assert out["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    assert not [k for k in store.data if k.startswith(NODE_PORT_PREFIX)]


async def test_stale_claim_is_taken_over() -> None:
    store = MemoryAllocationStore()
    live: dict[str, Any] = {}

    def getter(_: Any) -> Any:
        async def get(ns: str, name: str) -> Any:
            return live.get(f"{ns}/{name}")

        return get

    a = ServiceAllocator(store, service_getter=getter, stale_after_s=0.0)
    await store.claim(IP_PREFIX + "10.96.5.5", "default/gone")
    out = await a.admit(Ctx(), "CREATE", SERVICES, svc("new", clusterIP="10.96.5.5"), None)
    assert out["spec"]["clusterIP"] == "10.96.5.5"
    assert store.data[IP_PREFIX + "10.96.5.5"].owner == "default/new"
    # a live owner keeps its IP
    live["default/new"] = out
    with pytest.raises(errors.Invalid):
        await a.admit(Ctx(), "CREATE", SERVICES, svc("third", clusterIP="10.96.5.5"), None)


async def test_concurrent_creates_never_share() -> None:
    a, _ = allocator(service_cidr="10.96.0.0/26")
    outs = await asyncio.gather(*(create(a, svc(f"s{i}")) for i in range(40)))
    ips = [o["spec"]["clusterIP"] for o in outs]
    assert len(set(ips)) == 40


def test_pick_helpers() -> None:
    net = ipaddress.IPv4Network("10.96.0.0/28")
    assert static_band_size(net) == 16
    rng = random.Random(1)
    taken = {str(ip) for ip in net.hosts()} - {"10.96.0.9"}
    assert pick_free_ip(net, taken, rng) == "10.96.0.9"
    assert pick_free_ip(net, taken | {"10.96.0.9"}, rng) is None
    assert pick_free_port((1, 3), {"1", "3"}, rng) == 2
    assert pick_free_port((1, 2), {"1", "2"}, rng) is None
