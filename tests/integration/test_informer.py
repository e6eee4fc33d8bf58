"""The informer against the real apiserver and etcd: it syncs, follows adds,
updates and deletes, filters and indexes, resumes its watch across an
apiserver restart, and relists by itself after 410 Gone (etcd compacted past
what it had seen), its cache then equal to a fresh list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import aetcd
import pytest

from apimachinery.scheme import lookup
from client.api import APIClient
from client.informer import Informer
from tests.polling import eventually
from tests.processes import ApiserverProcess, EtcdProcess

pytestmark = pytest.mark.etcd

CONFIGMAPS = lookup("", "v1", "configmaps")
NAMESPACES = lookup("", "v1", "namespaces")
JSON = dict[str, Any]


def configmap(name: str, namespace: str, value: str = "1", **labels: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"value": value},
    }


async def new_namespace(api: APIClient, name: str) -> str:
    await api.create(
        NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


class Seen:
    """What the handlers were told, as (event, name, resourceVersion...)."""

    def __init__(self, informer: Informer) -> None:
        self.calls: list[tuple[str, ...]] = []
        informer.add_handlers(on_add=self.add, on_update=self.update, on_delete=self.delete)

    @staticmethod
    def _id(obj: JSON) -> tuple[str, str]:
        return obj["metadata"]["name"], obj["metadata"]["resourceVersion"]

    def add(self, obj: JSON) -> None:
        self.calls.append(("add", *self._id(obj)))

    def update(self, old: JSON, new: JSON) -> None:
        self.calls.append(("update", *self._id(old), new["metadata"]["resourceVersion"]))

    def delete(self, obj: JSON) -> None:
        self.calls.append(("delete", obj["metadata"]["name"]))

    def of(self, kind: str) -> list[str]:
        return [c[1] for c in self.calls if c[0] == kind]


def versions(objs: list[JSON]) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in objs}


async def same_as_fresh_list(api: APIClient, informer: Informer, namespace: str) -> bool:
    fresh = await api.list(CONFIGMAPS, namespace=namespace)
    return versions(informer.list()) == versions(fresh["items"])


@pytest.fixture
async def etcd_client(etcd: EtcdProcess) -> AsyncIterator[aetcd.Client]:
    url = urlparse(etcd.endpoint)
    client = aetcd.Client(host=url.hostname or "127.0.0.1", port=url.port or 2379)
    await client.connect()
    yield client
    await client.close()


async def running(informer: Informer) -> asyncio.Task[None]:
    task = asyncio.create_task(informer.run())
    assert await informer.wait_synced(60), "the informer did not sync"
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_sync_then_add_update_delete(api: APIClient) -> None:
    ns = await new_namespace(api, "informer-events")
    for name, app in (("web-1", "web"), ("web-2", "web"), ("db-1", "db")):
        await api.create(CONFIGMAPS, configmap(name, ns, app=app))
    informer = Informer(api, CONFIGMAPS, namespace=ns)
    seen = Seen(informer)
    task = await running(informer)
    try:
        assert sorted(seen.of("add")) == ["db-1", "web-1", "web-2"]
        assert informer.has_synced()
        assert [o["metadata"]["name"] for o in informer.list(ns, {"app": "web"})] == [
            "web-1",
            "web-2",
        ]

        created = await api.create(CONFIGMAPS, configmap("web-3", ns, app="web"))
        db = await api.get(CONFIGMAPS, "db-1", namespace=ns)
        old_rv = db["metadata"]["resourceVersion"]
        db["data"]["value"] = "2"
        updated = await api.update(CONFIGMAPS, db)
        await api.delete(CONFIGMAPS, "web-2", namespace=ns)

        await eventually(lambda: seen.of("delete") == ["web-2"], what="the delete event")
        assert ("add", "web-3", created["metadata"]["resourceVersion"]) in seen.calls
        assert (
            "update",
            "db-1",
            old_rv,
            updated["metadata"]["resourceVersion"],
        ) in seen.calls
        cached = informer.get(ns, "db-1")
        assert cached is not None
        assert cached["data"] == {"value": "2"}
        assert informer.get_by_key(f"{ns}/web-2") is None
        assert [o["metadata"]["name"] for o in informer.list(ns, "app=web")] == [
            "web-1",
            "web-3",
        ]
        assert [o["metadata"]["name"] for o in informer.by_index("namespace", ns)] == [
            "db-1",
            "web-1",
            "web-3",
        ]
        assert await same_as_fresh_list(api, informer, ns)
        assert informer.lists == 1
    finally:
        await stop(task)


async def test_server_side_selectors_and_custom_index(api: APIClient) -> None:
    ns = await new_namespace(api, "informer-selectors")
    await api.create(CONFIGMAPS, configmap("a", ns, "x", app="web"))
    await api.create(CONFIGMAPS, configmap("b", ns, "y", app="db"))
    webs = Informer(api, CONFIGMAPS, namespace=ns, label_selector="app=web")
    webs.add_index("value", lambda o: [o.get("data", {}).get("value", "")])
    task = await running(webs)
    try:
        assert webs.keys() == [f"{ns}/a"]
        await api.create(CONFIGMAPS, configmap("c", ns, "x", app="web"))
        await api.create(CONFIGMAPS, configmap("d", ns, "x", app="db"))
        await eventually(lambda: webs.get(ns, "c") is not None, what="c in the cache")
        assert [o["metadata"]["name"] for o in webs.by_index("value", "x")] == ["a", "c"]
        assert webs.get(ns, "d") is None
        # An object that stops matching the selector leaves the cache.
        a = await api.get(CONFIGMAPS, "a", namespace=ns)
        a["metadata"]["labels"] = {"app": "other"}
        await api.update(CONFIGMAPS, a)
        await eventually(lambda: webs.get(ns, "a") is None, what="a leaving the cache")
        assert webs.keys() == [f"{ns}/c"]
    finally:
        await stop(task)


async def test_watch_resumes_across_an_apiserver_restart(
    api: APIClient, apiserver: ApiserverProcess, etcd_client: aetcd.Client
) -> None:
    ns = await new_namespace(api, "informer-restart")
    for name in ("a", "b", "c"):
        await api.create(CONFIGMAPS, configmap(name, ns))
    informer = Informer(api, CONFIGMAPS, namespace=ns)
    seen = Seen(informer)
    task = await running(informer)
    try:
        apiserver.stop()
        # A change the informer cannot see while the apiserver is down.
        assert await etcd_client.delete(CONFIGMAPS.etcd_key(ns, "b").encode())
        apiserver.start()
        await api.wait_ready()
        await api.create(CONFIGMAPS, configmap("d", ns))
        await eventually(lambda: "d" in seen.of("add"), what="the add after the restart")
        await eventually(lambda: seen.of("delete") == ["b"], what="the delete made meanwhile")
        assert await same_as_fresh_list(api, informer, ns)
        assert informer.lists == 1, "the watch should resume from its resourceVersion"
    finally:
        await stop(task)


async def test_relists_by_itself_after_410_gone(
    api: APIClient, apiserver: ApiserverProcess, etcd_client: aetcd.Client
) -> None:
    ns = await new_namespace(api, "informer-gone")
    for name in ("a", "b", "c"):
        await api.create(CONFIGMAPS, configmap(name, ns))
    informer = Informer(api, CONFIGMAPS, namespace=ns)
    seen = Seen(informer)
    task = await running(informer)
    try:
        stale = informer.last_sync_resource_version
        apiserver.stop()
        assert await etcd_client.delete(CONFIGMAPS.etcd_key(ns, "b").encode())
        marker = await etcd_client.put(b"/kubelab-test/compaction-marker", b"x")
        # Everything the informer has seen is now compacted away.
        await etcd_client.compact(marker.header.revision, physical=True)
        apiserver.start()
        await api.wait_ready()
        await eventually(lambda: informer.lists >= 2, what="a relist after 410 Gone")
        await eventually(lambda: seen.of("delete") == ["b"], what="the vanished object's delete")
        assert int(informer.last_sync_resource_version) > int(stale)
        assert await same_as_fresh_list(api, informer, ns)
        # And it watches again from the fresh list.
        await api.create(CONFIGMAPS, configmap("d", ns))
        await eventually(lambda: informer.get(ns, "d") is not None, what="d after the relist")
        assert await same_as_fresh_list(api, informer, ns)
    finally:
        await stop(task)
