"""ReplicaSet controller: sync against fakes, asserting the exact actions."""

from __future__ import annotations

import json
from typing import Any

from controller_manager import kube
from controller_manager.replicaset import ReplicaSetController, pods_to_delete
from tests.unit.cm_fakes import FakeCluster


def replicaset(name: str = "web", replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "generation": 2},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
            **spec,
        },
    }


def pod(name: str, owner: dict[str, Any] | None = None, *, ready: bool = False, **extra: Any):  # type: ignore[no-untyped-def]
    meta: dict[str, Any] = {"name": name, "namespace": "default", "labels": {"app": "web"}}
    if owner is not None:
        meta["ownerReferences"] = [kube.owner_reference(owner)]
    status: dict[str, Any] = {"phase": "Running" if ready else "Pending"}
    if ready:
        status["conditions"] = [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2027-01-15T07:00:00Z"}
        ]
    return {"metadata": meta, "spec": {"containers": [], **extra}, "status": status}


async def test_creates_missing_pods_from_template_with_owner_reference() -> None:
    c = FakeCluster()
    rs = c.add(kube.REPLICASETS, replicaset(replicas=3))
    ctl = ReplicaSetController(c.context())
    await ctl.sync("default/web")
    creates = c.writes("create")
    assert len(creates) == 3
    created = [c.get_obj(kube.PODS, a[3]) for a in creates]
    for p in created:
        assert p is not None
        assert p["metadata"]["generateName"] == "web-"
        assert p["metadata"]["labels"] == {"app": "web"}
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["uid"] == rs["metadata"]["uid"] and ref["controller"] is True
    assert c.recorder.reasons().count("SuccessfulCreate") == 3
    # status written on the same pass
    assert c.writes("update_status")[-1][1:] == ("replicasets", "default", "web")
    stored = c.get_obj(kube.REPLICASETS, "web")
    assert stored is not None
    # what was observed before creating: the next pass (pod events) counts them
    assert stored["status"] == {"replicas": 0, "observedGeneration": 2}
    ctl.expectations.forget("default/web")
    await ctl.sync("default/web")
    stored = c.get_obj(kube.REPLICASETS, "web")
    assert stored is not None
    assert stored["status"] == {"replicas": 3, "fullyLabeledReplicas": 3, "observedGeneration": 2}
    assert len(c.writes("create")) == 3


async def test_expectations_prevent_double_creation() -> None:
    c = FakeCluster()
    c.add(kube.REPLICASETS, replicaset(replicas=2))
    ctl = ReplicaSetController(c.context())
    await ctl.sync("default/web")
    # The pods' ADDED events have not been seen: a second sync creates nothing.
    c.objects(kube.PODS).clear()
    await ctl.sync("default/web")
    assert len(c.writes("create")) == 2
    ctl.expectations.creation_observed("default/web")
    ctl.expectations.creation_observed("default/web")
    await ctl.sync("default/web")
    assert len(c.writes("create")) == 4


async def test_scale_down_deletes_unready_and_unscheduled_first() -> None:
    c = FakeCluster()
    rs = c.add(kube.REPLICASETS, replicaset(replicas=1))
    c.add(kube.PODS, pod("ready", rs, ready=True, nodeName="n1"))
    c.add(kube.PODS, pod("pending", rs, nodeName="n1"))
    c.add(kube.PODS, pod("unscheduled", rs))
    ctl = ReplicaSetController(c.context())
    await ctl.sync("default/web")
    deleted = sorted(a[3] for a in c.writes("delete"))
    assert deleted == ["pending", "unscheduled"]
    assert c.recorder.reasons().count("SuccessfulDelete") == 2


async def test_adopts_orphans_and_releases_mismatched() -> None:
    c = FakeCluster()
    rs = c.add(kube.REPLICASETS, replicaset(replicas=2))
    c.add(kube.PODS, pod("orphan", ready=True))
    other = pod("relabelled", rs)
    other["metadata"]["labels"] = {"app": "other"}
    c.add(kube.PODS, other)
    ctl = ReplicaSetController(c.context())
    await ctl.sync("default/web")
    patches = {a[3]: json.loads(a[4]) for a in c.writes("patch")}
    assert patches["orphan"]["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert patches["relabelled"]["metadata"]["ownerReferences"] is None
    # one adopted, so one more created
    assert len(c.writes("create")) == 1


async def test_status_counts_ready_and_available() -> None:
    c = FakeCluster()
    rs = c.add(kube.REPLICASETS, replicaset(replicas=2, minReadySeconds=10))
    c.add(kube.PODS, pod("a", rs, ready=True))
    young = pod("b", rs, ready=True)
    young["status"]["conditions"][0]["lastTransitionTime"] = kube.rfc3339(c.now - 2)
    c.add(kube.PODS, young)
    ctl = ReplicaSetController(c.context())
    await ctl.sync("default/web")
    stored = c.get_obj(kube.REPLICASETS, "web")
    assert stored is not None
    assert stored["status"]["readyReplicas"] == 2
    assert stored["status"]["availableReplicas"] == 1
    assert c.queues["replicaset"].after == [("default/web", 10.5)]
    assert c.writes("create", "delete") == []


async def test_gone_replicaset_is_quiet() -> None:
    c = FakeCluster()
    ctl = ReplicaSetController(c.context())
    await ctl.sync("default/missing")
    assert c.actions == []


def test_deletion_order() -> None:
    a = pod("a", ready=True, nodeName="n")
    b = pod("b", nodeName="n")
    d = pod("d")
    assert [p["metadata"]["name"] for p in pods_to_delete([a, b, d], 3)] == ["d", "b", "a"]
