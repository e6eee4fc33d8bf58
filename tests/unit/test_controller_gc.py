"""Garbage collector and namespace controller: sync against fakes, exact actions."""

from __future__ import annotations

from typing import Any

from controller_manager import kube
from controller_manager.garbagecollector import GarbageCollector, item_key
from controller_manager.namespace import NamespaceController, deletion_conditions
from tests.unit.cm_fakes import FakeCluster


def owned(name: str, owner: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "ownerReferences": [kube.owner_reference(owner)],
            **meta,
        }
    }


async def test_dependent_of_a_gone_owner_is_deleted_in_background() -> None:
    c = FakeCluster()
    rs = c.add(kube.REPLICASETS, {"metadata": {"name": "web-1"}})
    pod = c.add(kube.PODS, owned("web-1-a", rs))
    del c.objects(kube.REPLICASETS)[("default", "web-1")]
    gc = GarbageCollector(c.context())
    await gc.sync(item_key(kube.PODS, pod))
    assert c.writes() == [("delete", "pods", "default", "web-1-a", "Background")]


async def test_dependent_with_a_live_owner_stays() -> None:
    c = FakeCluster()
    rs = c.add(kube.REPLICASETS, {"metadata": {"name": "web-1"}})
    pod = c.add(kube.PODS, owned("web-1-a", rs))
    gc = GarbageCollector(c.context())
    await gc.sync(item_key(kube.PODS, pod))
    assert c.writes() == []


async def test_owner_with_same_name_but_new_uid_counts_as_gone() -> None:
    c = FakeCluster()
    rs = c.add(kube.REPLICASETS, {"metadata": {"name": "web-1"}})
    pod = c.add(kube.PODS, owned("web-1-a", rs))
    c.objects(kube.REPLICASETS)[("default", "web-1")]["metadata"]["uid"] = "another"
    gc = GarbageCollector(c.context())
    await gc.sync(item_key(kube.PODS, pod))
    assert c.writes("delete") == [("delete", "pods", "default", "web-1-a", "Background")]


async def test_foreground_deletes_dependents_then_removes_the_finalizer() -> None:
    c = FakeCluster()
    d = c.add(kube.DEPLOYMENTS, {"metadata": {"name": "web"}})
    rs = c.add(kube.REPLICASETS, owned("web-1", d))
    c.add(kube.PODS, owned("web-1-a", rs))
    await c.delete(
        kube.DEPLOYMENTS, "web", namespace="default", options={"propagationPolicy": "Foreground"}
    )
    gc = GarbageCollector(c.context())
    key = item_key(kube.DEPLOYMENTS, d)
    await gc.sync(key)
    # The ReplicaSet has dependents of its own: deleted in foreground too.
    assert c.writes()[1:] == [("delete", "replicasets", "default", "web-1", "Foreground")]
    assert c.get_obj(kube.DEPLOYMENTS, "web") is not None
    await gc.sync(item_key(kube.REPLICASETS, rs))
    assert c.writes()[2] == ("delete", "pods", "default", "web-1-a", "Background")
    await gc.sync(item_key(kube.REPLICASETS, rs))
    assert c.get_obj(kube.REPLICASETS, "web-1") is None
    await gc.sync(key)
    assert c.get_obj(kube.DEPLOYMENTS, "web") is None


async def test_orphan_removes_owner_references_then_the_finalizer() -> None:
    c = FakeCluster()
    d = c.add(kube.DEPLOYMENTS, {"metadata": {"name": "web"}})
    c.add(kube.REPLICASETS, owned("web-1", d))
    await c.delete(
        kube.DEPLOYMENTS, "web", namespace="default", options={"propagationPolicy": "Orphan"}
    )
    gc = GarbageCollector(c.context())
    await gc.sync(item_key(kube.DEPLOYMENTS, d))
    rs = c.get_obj(kube.REPLICASETS, "web-1")
    assert rs is not None and "ownerReferences" not in rs["metadata"]
    assert c.get_obj(kube.DEPLOYMENTS, "web") is None
    assert [a[0] for a in c.writes()] == ["delete", "patch", "update"]


async def test_namespace_is_emptied_then_finalized() -> None:
    c = FakeCluster()
    c.add(
        kube.NAMESPACES,
        {
            "metadata": {"name": "lab", "deletionTimestamp": "2027-01-15T10:00:00Z"},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Terminating"},
        },
    )
    c.add(kube.CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "lab"}})
    held = c.add(
        kube.PODS, {"metadata": {"name": "p", "namespace": "lab", "finalizers": ["x/hold"]}}
    )
    ctl = NamespaceController(c.context())
    await ctl.sync("lab")
    assert ("delete", "configmaps", "lab", "cfg", "Background") in c.writes()
    assert ("delete", "pods", "lab", "p", "Background") in c.writes()
    ns = c.get_obj(kube.NAMESPACES, "lab")
    assert ns is not None
    remaining = kube.get_condition(ns, "NamespaceContentRemaining")
    assert remaining is not None
    assert remaining["message"] == "Some resources are remaining: pods. has 1 resource instances"
    fins = kube.get_condition(ns, "NamespaceFinalizersRemaining")
    assert fins is not None
    assert fins["message"] == (
        "Some content in the namespace has finalizers remaining: x/hold in 1 resource instances"
    )
    assert c.queues["namespace"].after == [("lab", 1.0)]
    assert not any(a[0] == "finalize" for a in c.writes())

    del c.objects(kube.PODS)[("lab", held["metadata"]["name"])]
    await ctl.sync("lab")
    assert c.writes()[-1] == ("finalize", "namespaces", "", "lab")


def test_namespace_conditions_when_empty() -> None:
    conds = {c["type"]: c for c in deletion_conditions({}, {}, [], 0)}
    assert conds["NamespaceContentRemaining"]["reason"] == "ContentRemoved"
    assert conds["NamespaceDeletionContentFailure"]["status"] == "False"
    assert len(conds) == 5


def test_controllers_flag() -> None:
    from controller_manager.app import CONTROLLERS, enabled_controllers

    assert enabled_controllers("*") == list(CONTROLLERS)
    assert "podgc" not in enabled_controllers("*,-podgc")
    assert enabled_controllers("replicaset,deployment") == ["replicaset", "deployment"]
    try:
        enabled_controllers("*,nope")
    except ValueError as e:
        assert "unknown controllers: nope" in str(e)
    else:
        raise AssertionError("an unknown controller was accepted")
