"""The apiserver over gRPC on a real etcd: Kubernetes' storage semantics as a
client sees them (client/api.py against `python -m apiserver`)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from apimachinery import errors, scheme
from client.api import APIClient
from genproto import api_pb2
from tests.polling import eventually
from tests.processes import ApiserverProcess, EtcdProcess, http_ok

pytestmark = pytest.mark.etcd

CONFIGMAPS = scheme.lookup("", "v1", "configmaps")
NAMESPACES = scheme.lookup("", "v1", "namespaces")
SERVICES = scheme.lookup("", "v1", "services")
ENDPOINTS = scheme.lookup("", "v1", "endpoints")
PODS = scheme.lookup("", "v1", "pods")
DEPLOYMENTS = scheme.lookup("apps", "v1", "deployments")


def configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


def pod(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "busybox"}], **spec},
    }


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "busybox"}]},
            },
        },
    }


def metrics(apiserver: ApiserverProcess) -> dict[str, float]:
    with urllib.request.urlopen(f"{apiserver.health_url}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


# -- bootstrap and CRUD ---------------------------------------------------------


async def test_bootstrap_namespaces_and_kubernetes_service(api: APIClient) -> None:
    names = {ns["metadata"]["name"] for ns in (await api.list(NAMESPACES))["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    ns = await api.get(NAMESPACES, "default")
    assert ns["status"]["phase"] == "Active"
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
    assert updated["metadata"]["creationTimestamp"] == meta["creationTimestamp"]
    # An update that changes nothing writes nothing.
    same = await api.update(CONFIGMAPS, updated)
    assert same["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]
    listed = await api.list(CONFIGMAPS, namespace="default")
    assert listed["kind"] == "ConfigMapList" and listed["apiVersion"] == "v1"
    assert int(listed["metadata"]["resourceVersion"]) >= int(updated["metadata"]["resourceVersion"])
    assert [i["metadata"]["name"] for i in listed["items"]] == ["crud"]
    assert listed["items"][0]["kind"] == "ConfigMap"

    # The watch cache answers resourceVersion "0" reads.
    async def cached() -> bool:
        try:
            obj = await api.get(CONFIGMAPS, "crud", namespace="default", resource_version="0")
        except errors.NotFound:
            return False
        return bool(obj["data"] == {"x": "2"})

    await eventually(cached, what="the watch cache to hold the update")
    deleted = await api.delete(CONFIGMAPS, "crud", namespace="default")
    assert deleted["metadata"]["name"] == "crud"
    with pytest.raises(errors.NotFound) as e:
        await api.get(CONFIGMAPS, "crud", namespace="default")
    assert str(e.value) == 'configmaps "crud" not found'
    with pytest.raises(errors.NotFound):
        await api.delete(CONFIGMAPS, "crud", namespace="default")


async def test_unconditional_update_and_stale_resource_version(api: APIClient) -> None:
    first = await api.create(CONFIGMAPS, configmap("cas", v="0"))
    first["data"]["v"] = "1"
    second = await api.update(CONFIGMAPS, first)
    first["data"]["v"] = "stale"
    with pytest.raises(errors.Conflict) as e:
        await api.update(CONFIGMAPS, first)
    assert str(e.value) == (
        'Operation cannot be fulfilled on configmaps "cas": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert (await api.get(CONFIGMAPS, "cas", namespace="default"))["data"] == {"v": "1"}
    # Without a resourceVersion the update is unconditional.
    blind = configmap("cas", v="2")
    result = await api.update(CONFIGMAPS, blind)
    assert result["data"] == {"v": "2"}
    assert int(result["metadata"]["resourceVersion"]) > int(second["metadata"]["resourceVersion"])


async def test_concurrent_increments_with_retry_on_conflict(api: APIClient) -> None:
    await api.create(CONFIGMAPS, configmap("counter", n="0"))
    conflicts = 0
    acknowledged = 0

    async def writer() -> None:
        nonlocal conflicts, acknowledged
        for _ in range(5):
            while True:
                obj = await api.get(CONFIGMAPS, "counter", namespace="default")
                obj["data"]["n"] = str(int(obj["data"]["n"]) + 1)
                try:
                    await api.update(CONFIGMAPS, obj)
                except errors.Conflict:
                    conflicts += 1
                    continue
                acknowledged += 1
                break

    await asyncio.gather(*(writer() for _ in range(20)))
    final = await api.get(CONFIGMAPS, "counter", namespace="default")
    assert int(final["data"]["n"]) == acknowledged == 100
    assert conflicts > 0


async def test_concurrent_creates_of_one_name_exactly_one_wins(api: APIClient) -> None:
    async def create(i: int) -> str:
        try:
            await api.create(CONFIGMAPS, configmap("race", writer=str(i)))
        except errors.AlreadyExists as e:
            assert str(e) == 'configmaps "race" already exists'
            return "exists"
        return "created"

    results = await asyncio.gather(*(create(i) for i in range(10)))
    assert results.count("created") == 1
    assert results.count("exists") == 9


async def test_generate_name(api: APIClient) -> None:
    names = set()
    for _ in range(5):
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"generateName": "gen-", "namespace": "default"},
        }
        created = await api.create(CONFIGMAPS, obj)
        name = created["metadata"]["name"]
        assert name.startswith("gen-") and len(name) == len("gen-") + 5
        names.add(name)
    assert len(names) == 5
    with pytest.raises(errors.Invalid) as e:
        await api.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert e.value.causes and e.value.causes[0].field == "metadata.name"


# -- selectors and paging -------------------------------------------------------


async def test_label_and_field_selectors_on_list_and_watch(api: APIClient) -> None:
    for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
        obj = configmap(name)
        obj["metadata"]["labels"] = {"tier": tier}
        await api.create(CONFIGMAPS, obj)

    async def names(label_selector: str = "", field_selector: str = "") -> list[str]:
        listed = await api.list(
            CONFIGMAPS,
            namespace="default",
            label_selector=label_selector,
            field_selector=field_selector,
        )
        return [i["metadata"]["name"] for i in listed["items"]]

    assert await names(label_selector="tier=web") == ["a", "c"]
    assert await names(label_selector="tier!=web") == ["b"]
    assert await names(label_selector="tier in (db,cache)") == ["b"]
    assert await names(field_selector="metadata.name=b") == ["b"]
    assert await names(field_selector="metadata.name!=b", label_selector="tier") == ["a", "c"]
    with pytest.raises(errors.BadRequest) as e:
        await names(field_selector="data.x=1")
    assert "field label not supported" in str(e.value)

    rv = (await api.list(CONFIGMAPS, namespace="default"))["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async for ev in api.watch(
            CONFIGMAPS, namespace="default", label_selector="tier=web", resource_version=rv
        ):
            seen.append((ev.type, ev.object["metadata"]["name"]))
            if ev.object["metadata"]["name"] == "d":
                return

    task = asyncio.create_task(watch())
    b = await api.get(CONFIGMAPS, "b", namespace="default")
    b["metadata"]["labels"]["tier"] = "web"  # enters the selection
    await api.update(CONFIGMAPS, b)
    a = await api.get(CONFIGMAPS, "a", namespace="default")
    a["metadata"]["labels"]["tier"] = "db"  # leaves it
    await api.update(CONFIGMAPS, a)
    hidden = configmap("hidden")
    hidden["metadata"]["labels"] = {"tier": "db"}
    await api.create(CONFIGMAPS, hidden)
    d = configmap("d")
    d["metadata"]["labels"] = {"tier": "web"}
    await api.create(CONFIGMAPS, d)
    await asyncio.wait_for(task, 30)
    assert seen == [("ADDED", "b"), ("DELETED", "a"), ("ADDED", "d")]


async def test_list_with_limit_and_continue(api: APIClient) -> None:
    for i in range(7):
        await api.create(CONFIGMAPS, configmap(f"page-{i}"))
    names: list[str] = []
    token = ""
    pages = 0
    first_rv = ""
    while True:
        listed = await api.list(CONFIGMAPS, namespace="default", limit=3, continue_token=token)
        pages += 1
        first_rv = first_rv or listed["metadata"]["resourceVersion"]
        # Every page is read at the first page's revision (a consistent list).
        assert listed["metadata"]["resourceVersion"] == first_rv
        names += [i["metadata"]["name"] for i in listed["items"]]
        token = listed["metadata"].get("continue", "")
        if not token:
            break
        await api.create(CONFIGMAPS, configmap(f"page-late-{pages}"))
    assert pages == 3
    assert names == [f"page-{i}" for i in range(7)]


# -- watch ----------------------------------------------------------------------


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
    deleted = await api.delete(CONFIGMAPS, "w", namespace="default")
    await asyncio.wait_for(task, 30)
    assert seen == [
        ("ADDED", "0"),
        ("MODIFIED", "1"),
        ("MODIFIED", "2"),
        ("MODIFIED", "3"),
        ("DELETED", "3"),
    ]
    assert int(deleted["metadata"]["resourceVersion"]) > int(obj["metadata"]["resourceVersion"])


async def test_watch_without_version_starts_with_current_state(api: APIClient) -> None:
    await api.create(CONFIGMAPS, configmap("existing"))
    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async for ev in api.watch(CONFIGMAPS, namespace="default"):
            seen.append((ev.type, ev.object["metadata"]["name"]))
            if ev.object["metadata"]["name"] == "later":
                return

    task = asyncio.create_task(watch())
    await eventually(lambda: bool(seen), what="the initial ADDED event")
    await api.create(CONFIGMAPS, configmap("later"))
    await asyncio.wait_for(task, 30)
    assert seen == [("ADDED", "existing"), ("ADDED", "later")]


async def _write_values(api: APIClient, name: str, values: range) -> list[str]:
    """Update `name` to each value; the resourceVersions written."""
    obj = await api.get(CONFIGMAPS, name, namespace="default")
    rvs = []
    for v in values:
        obj["data"]["v"] = str(v)
        obj = await api.update(CONFIGMAPS, obj)
        rvs.append(obj["metadata"]["resourceVersion"])
    return rvs


async def _collect(api: APIClient, rv: str, until: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []

    async def run() -> None:
        async for ev in api.watch(CONFIGMAPS, namespace="default", resource_version=rv):
            out.append((ev.object["metadata"]["resourceVersion"], ev.object["data"]["v"]))
            if ev.object["data"]["v"] == until:
                return

    await asyncio.wait_for(run(), 60)
    return out


async def test_watch_resumes_from_resource_version_also_after_restart(
    api: APIClient, apiserver: ApiserverProcess
) -> None:
    created = await api.create(CONFIGMAPS, configmap("resume", v="0"))
    start_rv = created["metadata"]["resourceVersion"]
    # A watcher that saw the first 10 writes, then went away.
    first = await _write_values(api, "resume", range(1, 11))
    seen = await _collect(api, start_rv, until="10")
    assert [v for _, v in seen] == [str(i) for i in range(1, 11)]
    last_rv = seen[-1][0]
    assert last_rv == first[-1]
    # 100 writes while it is away; it resumes from its last resourceVersion.
    missed = await _write_values(api, "resume", range(11, 111))
    resumed = await _collect(api, last_rv, until="110")
    assert resumed == [(rv, str(v)) for rv, v in zip(missed, range(11, 111), strict=True)]
    # The same after an apiserver restart: the window survives it.
    await api.close()
    apiserver.restart()
    async with APIClient(apiserver.address, timeout=10) as fresh:
        await fresh.wait_ready()
        again = await _collect(fresh, last_rv, until="110")
        assert again == resumed


async def test_watch_fan_out_uses_one_etcd_watch_per_resource(
    api: APIClient, apiserver: ApiserverProcess
) -> None:
    before = metrics(apiserver)
    starts = before['apiserver_etcd_watch_starts_total{resource="configmaps"}']
    rv = (await api.list(CONFIGMAPS, namespace="default"))["metadata"]["resourceVersion"]
    counts = [0] * 20

    async def watch(i: int) -> None:
        async for ev in api.watch(CONFIGMAPS, namespace="default", resource_version=rv):
            counts[i] += 1
            if ev.object["metadata"]["name"] == "fan-4":
                return

    tasks = [asyncio.create_task(watch(i)) for i in range(20)]

    async def registered() -> bool:
        m = metrics(apiserver)
        return m.get('apiserver_registered_watchers{resource="configmaps"}', 0) >= 20

    await eventually(registered, what="20 watchers registered")
    for i in range(5):
        await api.create(CONFIGMAPS, configmap(f"fan-{i}"))
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert counts == [5] * 20
    after = metrics(apiserver)
    assert after['apiserver_etcd_watches{resource="configmaps"}'] == 1
    assert after['apiserver_etcd_watch_starts_total{resource="configmaps"}'] == starts


async def test_watch_gets_410_after_compaction(etcd: EtcdProcess, tmp_path: Path) -> None:
    server = ApiserverProcess(etcd, tmp_path, "--compaction-interval-s", "2")
    server.start()
    try:
        async with APIClient(server.address, timeout=10) as api:
            await api.wait_ready()
            old = (await api.create(CONFIGMAPS, configmap("old", v="0")))["metadata"][
                "resourceVersion"
            ]
            for i in range(3):
                await api.create(CONFIGMAPS, configmap(f"page-{i}"))
            token = (await api.list(CONFIGMAPS, namespace="default", limit=1))["metadata"][
                "continue"
            ]
            await _write_values(api, "old", range(1, 5))

            async def gone() -> bool:
                try:
                    async for _ in api.watch(CONFIGMAPS, namespace="default", resource_version=old):
                        return False
                except errors.Gone as e:
                    assert "too old resource version" in str(e)
                    return True
                return False

            await eventually(gone, within=60, what="410 Gone for a compacted version")
            with pytest.raises(errors.Gone):
                await api.list(CONFIGMAPS, namespace="default", limit=1, continue_token=token)
            # A fresh list and a watch from its version work.
            fresh = await api.list(CONFIGMAPS, namespace="default")
            rv = fresh["metadata"]["resourceVersion"]
            task = asyncio.create_task(_collect(api, rv, until="5"))
            await _write_values(api, "old", range(5, 6))
            assert [v for _, v in await task] == ["5"]
        # A restart on compacted history: the window starts at the compaction.
        await asyncio.to_thread(server.restart)
        async with APIClient(server.address, timeout=10) as api:
            await api.wait_ready()
            with pytest.raises(errors.Gone):
                async for _ in api.watch(CONFIGMAPS, namespace="default", resource_version=old):
                    pass
            rv = (await api.list(CONFIGMAPS, namespace="default"))["metadata"]["resourceVersion"]
            task = asyncio.create_task(_collect(api, rv, until="6"))
            await _write_values(api, "old", range(6, 7))
            assert [v for _, v in await task] == ["6"]
    finally:
        server.stop()


# -- status, generation, finalizers, deletion ------------------------------------


async def test_status_subresource_and_generation(api: APIClient) -> None:
    d = await api.create(DEPLOYMENTS, deployment("gen", replicas=1))
    assert d["metadata"]["generation"] == 1
    d["status"] = {"replicas": 5}
    d["metadata"]["labels"] = {"x": "y"}
    d = await api.update(DEPLOYMENTS, d)  # main resource: status ignored
    assert d["metadata"]["generation"] == 1
    assert d["metadata"]["labels"] == {"x": "y"}
    assert d.get("status", {}).get("replicas") is None
    d["status"] = {"replicas": 2, "observedGeneration": 1}
    d["spec"]["replicas"] = 9
    d = await api.update_status(DEPLOYMENTS, d)  # status only: spec ignored
    assert d["status"]["replicas"] == 2
    assert d["spec"]["replicas"] == 1
    assert d["metadata"]["generation"] == 1
    d["spec"]["replicas"] = 3
    d = await api.update(DEPLOYMENTS, d)
    assert d["metadata"]["generation"] == 2
    assert d["status"]["replicas"] == 2


async def test_scale_subresource(api: APIClient) -> None:
    await api.create(DEPLOYMENTS, deployment("scaled", replicas=2))
    scale = await api.get(DEPLOYMENTS, "scaled", namespace="default", subresource="scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"]["selector"] == "app=scaled"
    scale["spec"]["replicas"] = 5
    updated = await api.update(DEPLOYMENTS, scale, subresource="scale")
    assert updated["spec"]["replicas"] == 5
    d = await api.get(DEPLOYMENTS, "scaled", namespace="default")
    assert d["spec"]["replicas"] == 5
    scale["spec"]["replicas"] = 1  # stale resourceVersion
    with pytest.raises(errors.Conflict):
        await api.update(DEPLOYMENTS, scale, subresource="scale")


async def test_finalizers_keep_an_object_until_removed(api: APIClient) -> None:
    obj = configmap("fin")
    obj["metadata"]["finalizers"] = ["example.com/keep"]
    await api.create(CONFIGMAPS, obj)
    marked = await api.delete(CONFIGMAPS, "fin", namespace="default")
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    current = await api.get(CONFIGMAPS, "fin", namespace="default")
    assert current["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    current["metadata"]["finalizers"].append("example.com/late")
    with pytest.raises(errors.Invalid):
        await api.update(CONFIGMAPS, current)
    current["metadata"]["finalizers"] = []
    await api.update(CONFIGMAPS, current)
    with pytest.raises(errors.NotFound):
        await api.get(CONFIGMAPS, "fin", namespace="default")


async def test_propagation_policy_adds_gc_finalizers(api: APIClient) -> None:
    await api.create(CONFIGMAPS, configmap("fg"))
    fg = await api.delete(
        CONFIGMAPS, "fg", namespace="default", options={"propagationPolicy": "Foreground"}
    )
    assert fg["metadata"]["finalizers"] == ["foregroundDeletion"]
    await api.create(CONFIGMAPS, configmap("orphan"))
    orphan = await api.delete(
        CONFIGMAPS, "orphan", namespace="default", options={"propagationPolicy": "Orphan"}
    )
    assert orphan["metadata"]["finalizers"] == ["orphan"]
    with pytest.raises(errors.Invalid):
        await api.delete(
            CONFIGMAPS, "orphan", namespace="default", options={"propagationPolicy": "Sometimes"}
        )


async def test_delete_preconditions_and_dry_run(api: APIClient) -> None:
    created = await api.create(CONFIGMAPS, configmap("pre"))
    with pytest.raises(errors.Conflict) as e:
        await api.delete(
            CONFIGMAPS, "pre", namespace="default", options={"preconditions": {"uid": "nope"}}
        )
    assert "Precondition failed: UID in precondition: nope" in str(e.value)
    with pytest.raises(errors.Conflict):
        await api.delete(CONFIGMAPS, "pre", namespace="default", resource_version="1")
    await api.delete(CONFIGMAPS, "pre", namespace="default", options={"dryRun": ["All"]})
    assert await api.get(CONFIGMAPS, "pre", namespace="default")
    await api.delete(
        CONFIGMAPS,
        "pre",
        namespace="default",
        options={"preconditions": {"uid": created["metadata"]["uid"]}},
    )
    with pytest.raises(errors.NotFound):
        await api.get(CONFIGMAPS, "pre", namespace="default")


async def test_new_pods_get_default_toleration_seconds(api: APIClient) -> None:
    # The apiserver's lab default (3 s) for both taints, as upstream's admission does.
    plain = await api.create(PODS, pod("plain"))
    assert {
        (t["key"], t["operator"], t["effect"], t["tolerationSeconds"])
        for t in plain["spec"]["tolerations"]
    } == {
        ("node.kubernetes.io/not-ready", "Exists", "NoExecute", 3),
        ("node.kubernetes.io/unreachable", "Exists", "NoExecute", 3),
    }
    # A pod that already tolerates one of them keeps its own toleration.
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    patient = await api.create(PODS, pod("patient", tolerations=[own]))
    assert patient["spec"]["tolerations"] == [
        own,
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 3,
        },
    ]


async def test_graceful_pod_deletion(api: APIClient) -> None:
    # Never scheduled: deleted at once.
    await api.create(PODS, pod("unscheduled"))
    await api.delete(PODS, "unscheduled", namespace="default")
    with pytest.raises(errors.NotFound):
        await api.get(PODS, "unscheduled", namespace="default")
    # On a node: marked with the grace period; the kubelet deletes it with 0.
    created = await api.create(PODS, pod("running", nodeName="node-1"))
    assert created["status"]["phase"] == "Pending"
    marked = await api.delete(PODS, "running", namespace="default")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert marked["metadata"]["deletionTimestamp"]
    shorter = await api.delete(
        PODS, "running", namespace="default", options={"gracePeriodSeconds": 5}
    )
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 5
    assert await api.get(PODS, "running", namespace="default")
    await api.delete(PODS, "running", namespace="default", options={"gracePeriodSeconds": 0})
    with pytest.raises(errors.NotFound):
        await api.get(PODS, "running", namespace="default")


async def test_binding(api: APIClient) -> None:
    await api.create(PODS, pod("bind-me"))
    binding: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "bind-me", "namespace": "default"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    await api.create(PODS, binding, subresource="binding")
    bound = await api.get(PODS, "bind-me", namespace="default")
    assert bound["spec"]["nodeName"] == "node-1"
    conditions = {c["type"]: c["status"] for c in bound["status"]["conditions"]}
    assert conditions["PodScheduled"] == "True"
    binding["target"]["name"] = "node-2"
    with pytest.raises(errors.Conflict) as e:
        await api.create(PODS, binding, subresource="binding")
    assert 'is already assigned to node "node-1"' in str(e.value)


async def test_eviction_deletes_gracefully(api: APIClient) -> None:
    await api.create(PODS, pod("evict-me", nodeName="node-1"))
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "evict-me", "namespace": "default"},
    }
    await api.create(PODS, eviction, subresource="eviction")
    evicted = await api.get(PODS, "evict-me", namespace="default")
    assert evicted["metadata"]["deletionTimestamp"]


# -- namespaces -----------------------------------------------------------------


async def test_namespace_lifecycle(api: APIClient) -> None:
    with pytest.raises(errors.NotFound) as missing:
        await api.create(CONFIGMAPS, configmap("x", namespace="nowhere"))
    assert str(missing.value) == 'namespaces "nowhere" not found'
    await api.create(
        NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}
    )
    await api.create(CONFIGMAPS, configmap("x", namespace="doomed"))
    ns = await api.delete(NAMESPACES, "doomed")
    assert ns["status"]["phase"] == "Terminating"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    with pytest.raises(errors.Forbidden) as refused:
        await api.create(CONFIGMAPS, configmap("y", namespace="doomed"))
    assert str(refused.value) == (
        'configmaps "y" is forbidden: unable to create new content in namespace doomed '
        "because it is being terminated"
    )
    # What the namespace controller does: empty it, then finalize.
    await api.delete(CONFIGMAPS, "x", namespace="doomed")
    ns = await api.get(NAMESPACES, "doomed")
    ns["spec"]["finalizers"] = []
    await api.update(NAMESPACES, ns, subresource="finalize")
    with pytest.raises(errors.NotFound):
        await api.get(NAMESPACES, "doomed")
    with pytest.raises(errors.Forbidden):
        await api.delete(NAMESPACES, "kube-system")


# -- limits and errors ----------------------------------------------------------


async def test_oversized_object_is_refused_with_413(api: APIClient) -> None:
    big = configmap("big", blob="x" * (3 * 1024 * 1024 + 1))
    with pytest.raises(errors.RequestEntityTooLarge) as e:
        await api.create(CONFIGMAPS, big)
    assert "Request entity too large: limit is 3145728" in str(e.value)
    with pytest.raises(errors.NotFound):
        await api.get(CONFIGMAPS, "big", namespace="default")
    # A large object within the limits (1 MiB for a ConfigMap) is fine.
    ok = configmap("almost", blob="x" * (900 * 1024))
    await api.create(CONFIGMAPS, ok)


async def test_errors_carry_a_status(api: APIClient) -> None:
    # Straight on the stub: the details string is the Status JSON.
    import grpc

    stub = api._stub
    ref = api_pb2.ObjectRef(
        gvr=api_pb2.GroupVersionResource(group="", version="v1", resource="configmaps"),
        namespace="default",
    )
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.Create(api_pb2.CreateRequest(ref=ref, object=b"{not json"))
    status = json.loads(e.value.details() or "")
    assert status["kind"] == "Status" and status["code"] == 400 and status["reason"] == "BadRequest"
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.Create(
            api_pb2.CreateRequest(
                ref=ref, object=json.dumps({"apiVersion": "v1", "kind": "Pod"}).encode()
            )
        )
    assert json.loads(e.value.details() or "")["code"] == 400
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.Create(
            api_pb2.CreateRequest(
                ref=ref, object=json.dumps({"apiVersion": "v1", "kind": "ConfigMap"}).encode()
            )
        )
    status = json.loads(e.value.details() or "")
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    with pytest.raises(errors.NotFound) as nf:
        await api.get(scheme.ResourceType("", "v1", "widgets", "Widget", True), "x")
    assert str(nf.value) == "the server could not find the requested resource"


# -- durability -----------------------------------------------------------------


async def test_restart_loses_no_acknowledged_write(
    api: APIClient, apiserver: ApiserverProcess
) -> None:
    acknowledged: list[str] = []
    stop = asyncio.Event()

    async def writer(w: int) -> None:
        async with APIClient(apiserver.address, timeout=5) as client:
            i = 0
            while not stop.is_set():
                name = f"w{w}-{i}"
                try:
                    await client.create(CONFIGMAPS, configmap(name))
                    acknowledged.append(name)
                    i += 1
                except errors.AlreadyExists:
                    acknowledged.append(name)  # a retried create that had landed
                    i += 1
                except (errors.ServiceUnavailable, errors.Timeout):
                    await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(writer(w)) for w in range(4)]
    await eventually(lambda: len(acknowledged) >= 20, what="writes before restart")
    await asyncio.to_thread(apiserver.restart)
    count = len(acknowledged)
    await eventually(lambda: len(acknowledged) >= count + 20, what="writes after")
    stop.set()
    await asyncio.gather(*tasks)
    async with APIClient(apiserver.address, timeout=10) as client:
        stored = {
            i["metadata"]["name"]
            for i in (await client.list(CONFIGMAPS, namespace="default"))["items"]
        }
    assert set(acknowledged) <= stored


async def test_etcd_outage_no_success_while_down_and_recovery(
    api: APIClient, etcd: EtcdProcess, apiserver: ApiserverProcess
) -> None:
    await api.create(CONFIGMAPS, configmap("before"))
    rv = (await api.list(CONFIGMAPS, namespace="default"))["metadata"]["resourceVersion"]
    await asyncio.to_thread(etcd.kill)
    for i in range(3):
        with pytest.raises((errors.ServiceUnavailable, errors.Timeout, errors.InternalError)):
            await api.create(CONFIGMAPS, configmap(f"during-{i}"))

    async def ready() -> bool:
        return await asyncio.to_thread(http_ok, f"{apiserver.health_url}/readyz")

    async def not_ready() -> bool:
        return not await ready()

    await eventually(not_ready, what="/readyz to fail while etcd is down")
    await asyncio.to_thread(etcd.start)
    await eventually(ready, what="/readyz to pass once etcd is back")

    async def writable() -> bool:
        try:
            await api.create(CONFIGMAPS, configmap("after"))
        except (errors.ServiceUnavailable, errors.Timeout, errors.InternalError):
            return False
        return True

    await eventually(writable, within=60, what="writes to succeed after etcd is back")
    names = [
        i["metadata"]["name"] for i in (await api.list(CONFIGMAPS, namespace="default"))["items"]
    ]
    assert names == ["after", "before"]
    # The watch cache recovered too: a watch from before the outage sees "after".
    seen = []
    async for ev in api.watch(CONFIGMAPS, namespace="default", resource_version=rv):
        seen.append(ev.object["metadata"]["name"])
        if seen[-1] == "after":
            break
    assert seen == ["after"]


# -- patch ----------------------------------------------------------------------


async def test_patch_merge_strategic_and_apply(api: APIClient) -> None:
    await api.create(CONFIGMAPS, configmap("patched", a="1", b="2"))
    merged = await api.patch(
        CONFIGMAPS, "patched", {"data": {"a": None, "c": "3"}}, namespace="default"
    )
    assert merged["data"] == {"b": "2", "c": "3"}
    await api.create(DEPLOYMENTS, deployment("smp"))
    patched = await api.patch(
        DEPLOYMENTS,
        "smp",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}},
        namespace="default",
        patch_type="application/strategic-merge-patch+json",
    )
    containers = patched["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx")]
    assert patched["metadata"]["generation"] == 2
    scaled = await api.patch(
        DEPLOYMENTS, "smp", {"spec": {"replicas": 4}}, namespace="default", subresource="scale"
    )
    assert scaled["spec"]["replicas"] == 4
    applied = await api.patch(
        CONFIGMAPS,
        "applied",
        configmap("applied", k="v"),
        namespace="default",
        patch_type="application/apply-patch+yaml",
        field_manager="test",
    )
    assert applied["data"] == {"k": "v"}
    with pytest.raises(errors.NotFound):
        await api.patch(CONFIGMAPS, "absent", {"data": {}}, namespace="default")


async def test_bad_input_gets_the_right_status_and_stores_nothing(api: APIClient) -> None:
    before = await api.list(CONFIGMAPS, namespace="default")
    pods_before = await api.list(PODS, namespace="default")

    async def refused(rt: scheme.ResourceType, obj: dict[str, Any]) -> errors.APIError:
        with pytest.raises(errors.APIError) as e:
            await api.create(rt, obj)
        return e.value

    bad_name = await refused(CONFIGMAPS, configmap("Bad_Name"))
    assert isinstance(bad_name, errors.Invalid)
    assert [c.field for c in bad_name.causes] == ["metadata.name"]
    long_label = configmap("long-label")
    long_label["metadata"]["labels"] = {"app": "x" * 64}
    e = await refused(CONFIGMAPS, long_label)
    assert isinstance(e, errors.Invalid) and e.causes[0].field == "metadata.labels"
    bad_quantity = pod("bad-quantity")
    bad_quantity["spec"]["containers"][0]["resources"] = {"limits": {"memory": "12 GB"}}
    e = await refused(PODS, bad_quantity)
    # As upstream: an unparsable quantity fails decoding (400), not validation.
    assert isinstance(e, errors.BadRequest)
    assert "quantities must match the regular expression" in str(e)
    unknown = configmap("unknown-field")
    unknown["spec"] = {"foo": 1}
    e = await refused(CONFIGMAPS, unknown)
    assert isinstance(e, errors.BadRequest)
    assert 'unknown field "spec"' in str(e)
    wrong_kind = configmap("wrong-kind")
    wrong_kind["kind"] = "Gadget"
    assert isinstance(await refused(CONFIGMAPS, wrong_kind), errors.BadRequest)
    missing_ns = configmap("lost", namespace="does-not-exist")
    assert isinstance(await refused(CONFIGMAPS, missing_ns), errors.NotFound)
    after = await api.list(CONFIGMAPS, namespace="default")
    assert after["items"] == before["items"]
    assert (await api.list(PODS, namespace="default"))["items"] == pods_before["items"]


async def test_sigterm_ends_watches_and_exits_cleanly(
    api: APIClient, apiserver: ApiserverProcess
) -> None:
    rv = (await api.list(CONFIGMAPS, namespace="default"))["metadata"]["resourceVersion"]
    ended = asyncio.Event()

    async def watch() -> None:
        try:
            async for _ in api.watch(CONFIGMAPS, namespace="default", resource_version=rv):
                pass
        except errors.ServiceUnavailable:
            pass
        ended.set()

    task = asyncio.create_task(watch())

    async def registered() -> bool:
        m = metrics(apiserver)
        return m.get('apiserver_registered_watchers{resource="configmaps"}', 0) >= 1

    await eventually(registered, what="the watch to be registered")
    assert apiserver.proc is not None
    apiserver.proc.terminate()
    code = await asyncio.to_thread(apiserver.proc.wait, 30)
    assert code == 0
    await asyncio.wait_for(ended.wait(), 30)
    await task
    assert "stopped" in apiserver.log.read_text()
