"""The Registry in-process on a real etcd: the interface the REST layer uses
(dict watch events, delete_collection, bookmarks, dry run), without gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from apimachinery import errors, scheme
from apiserver import watchcache
from apiserver.admission import PluginConfig, build_plugins
from apiserver.registry import Registry
from apiserver.store import EtcdStore
from tests.processes import EtcdProcess

pytestmark = pytest.mark.etcd

CONFIGMAPS = scheme.lookup("", "v1", "configmaps")
NAMESPACES = scheme.lookup("", "v1", "namespaces")


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": dict(labels)},
        "data": {"k": "v"},
    }


@pytest.fixture
async def registry(etcd: EtcdProcess) -> AsyncIterator[Registry]:
    store = EtcdStore.from_url(etcd.endpoint)
    await store.connect()
    reg = Registry(store, plugins=build_plugins(PluginConfig(etcd=store)))
    reg.start()
    await reg.wait_synced(30)
    await reg.bootstrap(kubernetes_service_ip="10.96.0.1", advertise_address="127.0.0.1")
    yield reg
    await reg.stop()
    await store.close()


async def test_delete_collection_by_label(registry: Registry) -> None:
    for i in range(3):
        await registry.create(CONFIGMAPS, "default", configmap(f"dc-{i}", batch="x" if i else "y"))
    deleted = await registry.delete_collection(CONFIGMAPS, "default", label_selector="batch=x")
    assert deleted["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in deleted["items"]) == ["dc-1", "dc-2"]
    left = await registry.list(CONFIGMAPS, "default", label_selector="batch")
    assert [i["metadata"]["name"] for i in left["items"]] == ["dc-0"]


async def test_dry_run_writes_nothing(registry: Registry) -> None:
    created, _ = await registry.create(CONFIGMAPS, "default", configmap("dry"), dry_run=True)
    assert created["metadata"]["uid"]
    with pytest.raises(errors.NotFound):
        await registry.get(CONFIGMAPS, "default", "dry")
    real, _ = await registry.create(CONFIGMAPS, "default", configmap("dry"))
    real["data"] = {"k": "changed"}
    await registry.update(CONFIGMAPS, "default", "dry", real, dry_run=True)
    assert (await registry.get(CONFIGMAPS, "default", "dry"))["data"] == {"k": "v"}
    # a dry-run create of a name in use is refused as the real create would be
    with pytest.raises(errors.AlreadyExists):
        await registry.create(CONFIGMAPS, "default", configmap("dry"), dry_run=True)


async def test_watch_yields_private_copies_and_bookmarks(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watchcache, "BOOKMARK_INTERVAL_S", 0.2)
    # The bookmark loop reads the interval when it sleeps; restart the cache's loop.
    cache = registry.cache(CONFIGMAPS)
    assert cache._bookmarks is not None
    cache._bookmarks.cancel()
    cache._bookmarks = asyncio.create_task(cache._bookmark_loop())
    listed = await registry.list(CONFIGMAPS, "default")
    rv = listed["metadata"]["resourceVersion"]
    events: list[tuple[str, dict[str, Any]]] = []

    async def watch() -> None:
        async for etype, obj in registry.watch(
            CONFIGMAPS, "default", resource_version=rv, allow_bookmarks=True
        ):
            events.append((etype, obj))
            obj["data"] = {"k": "mutated by the consumer"}
            if etype == "BOOKMARK" and any(t == "ADDED" for t, _ in events):
                return

    task = asyncio.create_task(watch())
    created, _ = await registry.create(CONFIGMAPS, "default", configmap("copy"))
    await asyncio.wait_for(task, 30)
    types = [t for t, _ in events if t != "BOOKMARK"]
    assert types == ["ADDED"]
    assert events[-1][0] == "BOOKMARK"
    bookmark = events[-1][1]
    assert bookmark["kind"] == "ConfigMap"
    assert int(bookmark["metadata"]["resourceVersion"]) >= int(
        created["metadata"]["resourceVersion"]
    )
    # The cache's own object was not changed by the consumer.
    cached = await registry.get(CONFIGMAPS, "default", "copy", resource_version="0")
    assert cached["data"] == {"k": "v"}


async def test_namespace_lookup_sees_a_namespace_just_created(registry: Registry) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}
    await registry.create(NAMESPACES, "", ns)
    # No wait for the watch cache: creating into it right away works.
    obj = configmap("inside")
    obj["metadata"]["namespace"] = "fresh"
    created, _ = await registry.create(CONFIGMAPS, "fresh", obj)
    assert created["metadata"]["namespace"] == "fresh"


async def test_field_manager_is_credited_and_no_op_updates_write_nothing(
    registry: Registry,
) -> None:
    created, _ = await registry.create(
        CONFIGMAPS, "default", configmap("owned"), field_manager="creator"
    )
    managers = {e["manager"] for e in created["metadata"]["managedFields"]}
    assert managers == {"creator"}
    created["data"] = {"k": "edited"}
    updated, _ = await registry.update(
        CONFIGMAPS, "default", "owned", created, field_manager="editor"
    )
    entries = {e["manager"]: e for e in updated["metadata"]["managedFields"]}
    assert entries["editor"]["operation"] == "Update"
    assert "f:k" in json.dumps(entries["editor"]["fieldsV1"])
    again, _ = await registry.update(
        CONFIGMAPS, "default", "owned", updated, field_manager="editor"
    )
    assert again["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]


def event(name: str, last: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": "ConfigMap", "name": "x", "namespace": "default"},
        "reason": "Tested",
        "message": "a test event",
        "type": "Normal",
        "source": {"component": "test"},
        "count": 1,
        "firstTimestamp": last,
        "lastTimestamp": last,
    }


async def test_events_expire_after_their_ttl(registry: Registry) -> None:
    events = scheme.lookup("", "v1", "events")
    await registry.create(events, "default", event("old.1", "2020-01-01T00:00:00Z"))
    await registry.create(
        events, "default", event("fresh.1", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    )
    deadline = time.monotonic() + 30
    expired = 0
    while expired < 1 and time.monotonic() < deadline:
        expired += await registry.expire_events(3600)  # reads the watch cache
        await asyncio.sleep(0.1)
    assert expired == 1
    left = await registry.list(events, "default")
    assert [e["metadata"]["name"] for e in left["items"]] == ["fresh.1"]


async def test_bootstrap_writes_the_kubernetes_endpoint_slice(registry: Registry) -> None:
    slices = scheme.lookup("discovery.k8s.io", "v1", "endpointslices")
    es = await registry.get(slices, "default", "kubernetes")
    assert es["endpoints"][0]["addresses"] == ["127.0.0.1"]
    assert es["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"


async def test_a_watch_closed_early_unregisters_its_watcher(registry: Registry) -> None:
    cache = registry.cache(CONFIGMAPS)
    await registry.create(CONFIGMAPS, "default", configmap("early"))
    events = registry.watch(CONFIGMAPS, "default")
    async with contextlib.aclosing(events):
        async for etype, obj in events:
            assert (etype, obj["metadata"]["name"]) == ("ADDED", "early")
            assert len(cache.watchers) == 1
            break
    assert len(cache.watchers) == 0
