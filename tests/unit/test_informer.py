"""The informer's cache logic against a scripted stand-in for the apiserver:
handler order and arguments, relist reconciliation (deletes for vanished
objects), 410 Gone leading to a relist, indexes and selectors. The real list +
watch against etcd is tested in tests/integration/test_informer.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient, WatchEvent
from client.informer import Informer, InformerFactory
from tests.polling import eventually

PODS = lookup("", "v1", "pods")
JSON = dict[str, Any]


def pod(name: str, rv: int, ns: str = "default", **labels: str) -> JSON:
    return {
        "metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv), "labels": labels}
    }


class ScriptedAPI:
    """Answers list with `lists` in turn and watch with `watches` in turn; a
    watch script is a list of events, ending with an exception to raise or
    None to wait forever."""

    def __init__(self) -> None:
        self.lists: list[tuple[list[JSON], str]] = []
        self.watches: list[list[WatchEvent | BaseException | None]] = []
        self.watch_from: list[str] = []

    async def list(self, rt: Any, **kw: Any) -> JSON:
        items, rv = self.lists.pop(0)
        return {"items": items, "metadata": {"resourceVersion": rv}}

    async def watch(self, rt: Any, **kw: Any) -> AsyncIterator[WatchEvent]:
        self.watch_from.append(kw["resource_version"])
        script = self.watches.pop(0) if self.watches else [None]
        for step in script:
            if step is None:
                await asyncio.Event().wait()
            elif isinstance(step, BaseException):
                raise step
            else:
                yield step


def recording(inf: Informer) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []

    def name(o: JSON) -> str:
        return f"{o['metadata']['name']}@{o['metadata']['resourceVersion']}"

    inf.add_handlers(
        on_add=lambda o: calls.append(("add", name(o))),
        on_update=lambda old, new: calls.append(("update", name(old), name(new))),
        on_delete=lambda o: calls.append(("delete", name(o))),
    )
    return calls


async def test_list_then_watch_from_the_list_version_with_handlers_in_order() -> None:
    api = ScriptedAPI()
    api.lists.append(([pod("a", 5), pod("b", 6)], "10"))
    api.watches.append(
        [
            WatchEvent("ADDED", pod("c", 11)),
            WatchEvent("MODIFIED", pod("a", 12)),
            WatchEvent("DELETED", pod("b", 13)),
            WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "14"}}),
            None,
        ]
    )
    inf = Informer(cast(APIClient, api), PODS)
    calls = recording(inf)
    order: list[str] = []
    inf.add_handlers(on_add=lambda o: order.append("second"))
    inf.add_handlers(on_add=lambda o: order.append("third"))
    task = asyncio.create_task(inf.run())
    assert await inf.wait_synced(5)
    await eventually(lambda: inf.last_sync_resource_version == "14")
    task.cancel()
    assert api.watch_from == ["10"]
    assert calls == [
        ("add", "a@5"),
        ("add", "b@6"),
        ("add", "c@11"),
        ("update", "a@5", "a@12"),
        ("delete", "b@13"),
    ]
    assert order[:2] == ["second", "third"]
    assert inf.keys() == ["default/a", "default/c"]
    got = inf.get("default", "a")
    assert got is not None
    assert got["kind"] == "Pod"
    assert got["apiVersion"] == "v1"


async def test_gone_relists_and_deletes_what_vanished() -> None:
    api = ScriptedAPI()
    api.lists.append(([pod("a", 5), pod("b", 6), pod("c", 7)], "10"))
    api.watches.append([WatchEvent("MODIFIED", pod("a", 11)), errors.gone(11)])
    # Meanwhile b was deleted, c changed, d created.
    api.lists.append(([pod("a", 11), pod("c", 20), pod("d", 21)], "30"))
    api.watches.append([None])
    inf = Informer(cast(APIClient, api), PODS)
    calls = recording(inf)
    task = asyncio.create_task(inf.run())
    await eventually(lambda: inf.last_sync_resource_version == "30")
    task.cancel()
    assert api.watch_from == ["10", "30"]
    assert calls[3:] == [
        ("update", "a@5", "a@11"),
        ("delete", "b@6"),
        ("update", "c@7", "c@20"),
        ("add", "d@21"),
    ]
    assert inf.keys() == ["default/a", "default/c", "default/d"]


async def test_stream_error_watches_again_from_the_last_version() -> None:
    api = ScriptedAPI()
    api.lists.append(([pod("a", 5)], "10"))
    api.watches.append(
        [WatchEvent("ADDED", pod("b", 12)), errors.ServiceUnavailable("connection reset")]
    )
    api.watches.append([WatchEvent("ADDED", pod("c", 13)), None])
    inf = Informer(cast(APIClient, api), PODS)
    inf._backoff.initial = inf._backoff._next = 0.01
    task = asyncio.create_task(inf.run())
    await eventually(lambda: inf.get("default", "c") is not None)
    task.cancel()
    assert api.watch_from == ["10", "12"]
    assert not api.lists, "an error on the stream is not a reason to relist"


async def test_failing_handler_does_not_stop_the_others() -> None:
    api = ScriptedAPI()
    api.lists.append(([pod("a", 5)], "10"))
    inf = Informer(cast(APIClient, api), PODS)

    def broken(obj: JSON) -> None:
        raise RuntimeError("bug")

    seen: list[str] = []
    inf.add_handlers(on_add=broken)
    inf.add_handlers(on_add=lambda o: seen.append(o["metadata"]["name"]))
    task = asyncio.create_task(inf.run())
    assert await inf.wait_synced(5)
    task.cancel()
    assert seen == ["a"]


async def test_handler_added_late_gets_the_cached_objects() -> None:
    inf = Informer(cast(APIClient, ScriptedAPI()), PODS)
    inf.replace([pod("b", 2), pod("a", 1)], "3")
    seen: list[str] = []
    inf.add_handlers(on_add=lambda o: seen.append(o["metadata"]["name"]))
    assert seen == ["a", "b"]


async def test_list_by_namespace_and_selector_uses_the_indexes() -> None:
    inf = Informer(cast(APIClient, ScriptedAPI()), PODS)
    inf.replace(
        [
            pod("web-1", 1, app="web", tier="front"),
            pod("web-2", 2, app="web", tier="back"),
            pod("db-1", 3, app="db"),
            pod("web-3", 4, ns="other", app="web"),
            pod("bare", 5),
        ],
        "10",
    )

    def names(objs: list[JSON]) -> list[str]:
        return [o["metadata"]["name"] for o in objs]

    assert names(inf.list()) == ["bare", "db-1", "web-1", "web-2", "web-3"]
    assert names(inf.list("default")) == ["bare", "db-1", "web-1", "web-2"]
    assert names(inf.list("other")) == ["web-3"]
    assert names(inf.list("default", {"app": "web"})) == ["web-1", "web-2"]
    assert names(inf.list(None, {"app": "web"})) == ["web-1", "web-2", "web-3"]
    assert names(inf.list(None, {"matchLabels": {"app": "web", "tier": "front"}})) == ["web-1"]
    assert names(
        inf.list(None, {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]})
    ) == ["db-1"]
    assert names(inf.list("default", "app=web,tier!=front")) == ["web-2"]
    assert names(inf.list("default", "!app")) == ["bare"]
    assert names(inf.list("default", "tier")) == ["web-1", "web-2"]
    assert names(inf.list("default", {})) == ["bare", "db-1", "web-1", "web-2"]
    assert inf.list("nowhere") == []

    # The label index follows changes.
    inf.replace(
        [pod("web-1", 11, app="db"), pod("web-2", 2, app="web", tier="back")],
        "20",
    )
    assert names(inf.list(None, {"app": "web"})) == ["web-2"]
    assert names(inf.list(None, {"app": "db"})) == ["web-1"]
    assert inf._labels.keys() == {"app", "tier"}
    assert inf._indices["namespace"].keys() == {"default"}


async def test_custom_index() -> None:
    inf = Informer(cast(APIClient, ScriptedAPI()), PODS)
    a = pod("a", 1)
    a["spec"] = {"nodeName": "n1"}
    b = pod("b", 2)
    b["spec"] = {"nodeName": "n2"}
    inf.replace([a], "2")
    inf.add_index("node", lambda o: [o.get("spec", {}).get("nodeName", "")])
    inf.replace([a, b], "3")
    assert [o["metadata"]["name"] for o in inf.by_index("node", "n1")] == ["a"]
    assert [o["metadata"]["name"] for o in inf.by_index("node", "n2")] == ["b"]
    assert [o["metadata"]["name"] for o in inf.by_index("namespace", "default")] == ["a", "b"]
    inf.replace([b], "4")
    assert inf.by_index("node", "n1") == []


async def test_factory_shares_informers_and_waits_for_all() -> None:
    api = ScriptedAPI()
    api.lists.append(([pod("a", 1)], "5"))
    api.lists.append(([], "5"))
    factory = InformerFactory(cast(APIClient, api))
    pods = factory.informer(PODS)
    assert factory.informer(PODS) is pods
    other = factory.informer(PODS, namespace="kube-system")
    assert other is not pods
    await factory.start()
    assert await factory.wait_synced(5)
    assert factory.has_synced()
    await factory.stop()
    assert pods.get("default", "a") is not None


async def test_wait_synced_times_out_with_false() -> None:
    inf = Informer(cast(APIClient, ScriptedAPI()), PODS)
    assert not await inf.wait_synced(0.01)
    assert not inf.has_synced()


async def test_other_watch_failures_relist() -> None:
    api = ScriptedAPI()
    api.lists.append(([pod("a", 5)], "10"))
    api.watches.append([errors.InternalError("etcd said something odd")])
    api.lists.append(([pod("b", 6)], "11"))
    api.watches.append([None])
    inf = Informer(cast(APIClient, api), PODS)
    inf._backoff.initial = inf._backoff._next = 0.01
    task = asyncio.create_task(inf.run())
    await eventually(lambda: inf.lists == 2)
    task.cancel()
    assert inf.keys() == ["default/b"]
    assert api.watch_from == ["10", "11"]
