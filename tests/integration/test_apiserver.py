"""The apiserver over gRPC on a real etcd: Kubernetes' storage semantics as a
client sees them (client/api.py against `python -m apiserver`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apimachinery import errors, scheme
from client.api import APIClient

pytestmark = pytest.mark.etcd

CONFIGMAPS = scheme.lookup("", "v1", "configmaps")
NAMESPACES = scheme.lookup("", "v1", "namespaces")
SERVICES = scheme.lookup("", "v1", "services")
ENDPOINTS = scheme.lookup("", "v1", "endpoints")


def configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


async def test_bootstrap_namespaces_and_kubernetes_service(api: APIClient) -> None:
    names = {ns["metadata"]["name"] for ns in (await api.list(NAMESPACES))["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    svc = await api.get(SERVICES, "kubernetes", namespace="default")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443
    ep = await api.get(ENDPOINTS, "kubernetes", namespace="default")
    assert ep["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}]


async def test_crud(api: APIClient) -> None:
    created = await api.create(CONFIGMAPS, configmap("crud", x="1"))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and int(meta["resourceVersion"]) > 0
    got = await api.get(CONFIGMAPS, "crud", namespace="default")
    assert got == created
    got["data"]["x"] = "2"
    updated = await api.update(CONFIGMAPS, got)
    assert updated["data"] == {"x": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert updated["metadata"]["uid"] == meta["uid"]
    listed = await api.list(CONFIGMAPS, namespace="default")
    assert listed["kind"] == "ConfigMapList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["crud"]
    assert listed["items"][0]["kind"] == "ConfigMap"
    await api.delete(CONFIGMAPS, "crud", namespace="default")
    with pytest.raises(errors.NotFound) as e:
        await api.get(CONFIGMAPS, "crud", namespace="default")
    assert str(e.value) == 'configmaps "crud" not found'


async def test_watch_delivers_changes_in_order(api: APIClient) -> None:
    rv = (await api.list(CONFIGMAPS, namespace="default"))["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async for ev in api.watch(CONFIGMAPS, namespace="default", resource_version=rv):
            seen.append((ev.type, ev.object["data"]["v"]))
            if ev.type == "DELETED":
                return

    task = asyncio.create_task(watch())
    obj = await api.create(CONFIGMAPS, configmap("w", v="0"))
    for i in range(1, 4):
        obj["data"]["v"] = str(i)
        obj = await api.update(CONFIGMAPS, obj)
    await api.delete(CONFIGMAPS, "w", namespace="default")
    await asyncio.wait_for(task, 30)
    assert seen == [
        ("ADDED", "0"),
        ("MODIFIED", "1"),
        ("MODIFIED", "2"),
        ("MODIFIED", "3"),
        ("DELETED", "3"),
    ]
