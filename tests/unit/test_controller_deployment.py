"""Deployment controller: rollouts on fakes, asserting ReplicaSets, events and status."""

from __future__ import annotations

import copy
from typing import Any

from controller_manager import deployment as dep
from controller_manager import kube
from controller_manager.deployment import DeploymentController
from tests.unit.cm_fakes import FakeCluster


def deployment(replicas: int = 3, image: str = "redis:1", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "generation": 1,
            "annotations": {"kubernetes.io/change-cause": f"image {image}"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            **spec,
        },
    }


def replicasets(c: FakeCluster) -> dict[str, dict[str, Any]]:
    return {name: rs for (_, name), rs in c.objects(kube.REPLICASETS).items()}


def run_replicasets(c: FakeCluster) -> None:
    """What the ReplicaSet controller and kubelets would do: every pod up and available."""
    for rs in c.objects(kube.REPLICASETS).values():
        n = rs["spec"]["replicas"]
        rs["status"] = {
            "replicas": n,
            "readyReplicas": n,
            "availableReplicas": n,
            "observedGeneration": rs["metadata"]["generation"],
        }


def change_template(c: FakeCluster, image: str) -> None:
    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    d["metadata"]["annotations"]["kubernetes.io/change-cause"] = f"image {image}"
    d["metadata"]["generation"] += 1


async def test_create_makes_replicaset_with_hash_revision_and_events() -> None:
    c = FakeCluster()
    c.add(kube.DEPLOYMENTS, deployment())
    ctl = DeploymentController(c.context())
    await ctl.sync("default/web")
    [rs] = replicasets(c).values()
    h = rs["metadata"]["labels"][dep.POD_TEMPLATE_HASH]
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": h}
    assert rs["spec"]["replicas"] == 3
    ann = rs["metadata"]["annotations"]
    assert ann[dep.REVISION] == "1"
    assert ann[dep.CHANGE_CAUSE] == "image redis:1"
    assert ann[dep.DESIRED_REPLICAS] == "3" and ann[dep.MAX_REPLICAS] == "4"
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert c.recorder.events[0][2:] == (
        "ScalingReplicaSet",
        f"Scaled up replica set web-{h} from 0 to 3",
    )
    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    assert d["metadata"]["annotations"][dep.REVISION] == "1"
    progressing = kube.get_condition(d, "Progressing")
    assert progressing is not None and progressing["reason"] == "NewReplicaSetCreated"

    run_replicasets(c)
    await ctl.sync("default/web")
    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    st = d["status"]
    assert (
        st["replicas"],
        st["updatedReplicas"],
        st["readyReplicas"],
        st["availableReplicas"],
    ) == (
        3,
        3,
        3,
        3,
    )
    available = kube.get_condition(d, "Available")
    assert available is not None
    assert (available["status"], available["reason"], available["message"]) == (
        "True",
        "MinimumReplicasAvailable",
        "Deployment has minimum availability.",
    )
    progressing = kube.get_condition(d, "Progressing")
    assert progressing is not None
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert progressing["message"] == f'ReplicaSet "web-{h}" has successfully progressed.'


async def test_rolling_update_respects_surge_and_unavailable_then_rollback() -> None:
    c = FakeCluster()
    c.add(
        kube.DEPLOYMENTS,
        deployment(
            replicas=4,
            strategy={
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1},
            },
        ),
    )
    ctl = DeploymentController(c.context())
    await ctl.sync("default/web")
    run_replicasets(c)
    await ctl.sync("default/web")
    [first] = replicasets(c)

    change_template(c, "redis:2")
    for _ in range(20):
        await ctl.sync("default/web")
        total = sum(rs["spec"]["replicas"] for rs in replicasets(c).values())
        assert total <= 4 + 2
        run_replicasets(c)
        # available never below replicas - maxUnavailable, counting the
        # simulated instant availability of the ReplicaSets' pods
        assert sum(rs["status"]["availableReplicas"] for rs in replicasets(c).values()) >= 3
    rss = replicasets(c)
    assert len(rss) == 2
    second = next(n for n in rss if n != first)
    assert rss[first]["spec"]["replicas"] == 0
    assert rss[second]["spec"]["replicas"] == 4
    assert rss[second]["metadata"]["annotations"][dep.REVISION] == "2"
    assert rss[second]["metadata"]["annotations"][dep.CHANGE_CAUSE] == "image redis:2"
    assert "ScalingReplicaSet" in c.recorder.reasons()
    assert any(f"Scaled down replica set {first} from 4 to" in e[3] for e in c.recorder.events)

    # kubectl rollout undo: the first ReplicaSet's template back into the Deployment.
    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    template = copy.deepcopy(rss[first]["spec"]["template"])
    del template["metadata"]["labels"][dep.POD_TEMPLATE_HASH]
    d["spec"]["template"] = template
    d["metadata"]["generation"] += 1
    for _ in range(20):
        await ctl.sync("default/web")
        run_replicasets(c)
    rss = replicasets(c)
    assert len(rss) == 2
    assert rss[first]["spec"]["replicas"] == 4
    assert rss[first]["metadata"]["annotations"][dep.REVISION] == "3"
    assert rss[second]["spec"]["replicas"] == 0
    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    assert d["metadata"]["annotations"][dep.REVISION] == "3"
    assert d["status"]["updatedReplicas"] == 4


async def test_recreate_scales_old_to_zero_before_new() -> None:
    c = FakeCluster()
    c.add(kube.DEPLOYMENTS, deployment(strategy={"type": "Recreate"}))
    ctl = DeploymentController(c.context())
    await ctl.sync("default/web")
    run_replicasets(c)
    [first] = replicasets(c)
    change_template(c, "redis:2")
    await ctl.sync("default/web")
    rss = replicasets(c)
    assert list(rss) == [first] and rss[first]["spec"]["replicas"] == 0
    # old pods still reported: no new ReplicaSet yet
    await ctl.sync("default/web")
    assert len(replicasets(c)) == 1
    run_replicasets(c)
    await ctl.sync("default/web")
    rss = replicasets(c)
    assert len(rss) == 2
    assert next(rs for n, rs in rss.items() if n != first)["spec"]["replicas"] == 3


async def test_scale_and_pause() -> None:
    c = FakeCluster()
    c.add(kube.DEPLOYMENTS, deployment())
    ctl = DeploymentController(c.context())
    await ctl.sync("default/web")
    run_replicasets(c)
    await ctl.sync("default/web")
    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    d["spec"]["replicas"] = 5
    await ctl.sync("default/web")
    [rs] = replicasets(c).values()
    assert rs["spec"]["replicas"] == 5
    assert rs["metadata"]["annotations"][dep.DESIRED_REPLICAS] == "5"

    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    d["spec"]["paused"] = True
    change_template(c, "redis:9")
    await ctl.sync("default/web")
    assert len(replicasets(c)) == 1
    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    cond = kube.get_condition(d, "Progressing")
    assert cond is not None
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "Unknown",
        "DeploymentPaused",
        "Deployment is paused",
    )


async def test_revision_history_limit_deletes_oldest_empty_replicasets() -> None:
    c = FakeCluster()
    c.add(kube.DEPLOYMENTS, deployment(replicas=1, revisionHistoryLimit=1))
    ctl = DeploymentController(c.context())
    for image in ("redis:1", "redis:2", "redis:3"):
        change_template(c, image)
        for _ in range(8):
            await ctl.sync("default/web")
            run_replicasets(c)
    revisions = sorted(
        int(rs["metadata"]["annotations"][dep.REVISION]) for rs in replicasets(c).values()
    )
    assert revisions == [2, 3]


def test_fenceposts_and_hash() -> None:
    d = deployment(
        replicas=10,
        strategy={
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        },
    )
    assert dep.resolve_fenceposts(d) == (3, 2)
    d = deployment(
        replicas=1,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
    )
    assert dep.resolve_fenceposts(d) == (0, 1)
    t = deployment()["spec"]["template"]
    h = dep.compute_hash(t)
    assert h == dep.compute_hash(copy.deepcopy(t))
    assert h != dep.compute_hash(t, 1)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")


async def test_progress_deadline_exceeded_when_pods_never_become_available() -> None:
    c = FakeCluster()
    c.add(kube.DEPLOYMENTS, deployment(progressDeadlineSeconds=60))
    ctl = DeploymentController(c.context())
    await ctl.sync("default/web")
    # pods exist but never become ready
    for rs in c.objects(kube.REPLICASETS).values():
        rs["status"] = {"replicas": 3, "observedGeneration": 1}
    await ctl.sync("default/web")
    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    cond = kube.get_condition(d, "Progressing")
    assert cond is not None and cond["status"] == "True"
    assert any(key == "default/web" for key, _ in c.queues["deployment"].after)
    c.now += 61
    await ctl.sync("default/web")
    d = c.get_obj(kube.DEPLOYMENTS, "web")
    assert d is not None
    cond = kube.get_condition(d, "Progressing")
    assert cond is not None
    [rs_name] = [n for (_, n) in c.objects(kube.REPLICASETS)]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "ProgressDeadlineExceeded",
        f'ReplicaSet "{rs_name}" has timed out progressing.',
    )
    available = kube.get_condition(d, "Available")
    assert available is not None and available["reason"] == "MinimumReplicasUnavailable"


async def test_stale_replicaset_status_does_not_overrun_max_unavailable() -> None:
    c = FakeCluster()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}
    d = c.add(kube.DEPLOYMENTS, deployment(replicas=4, strategy=strategy))
    ctl = DeploymentController(c.context())

    def rs(name: str, spec: int, available: int, created: str) -> dict[str, Any]:
        return c.add(
            kube.REPLICASETS,
            {
                "metadata": {"name": name, "creationTimestamp": created},
                "spec": {"replicas": spec},
                "status": {"replicas": spec, "availableReplicas": available},
            },
        )

    # The old ReplicaSet was just scaled to 2; its status still counts 3 available.
    old = rs("web-old", 2, 3, "2027-01-15T07:00:00Z")
    new = rs("web-new", 4, 2, "2027-01-15T07:30:00Z")
    [old_after], scaled = await ctl.reconcile_old_replicasets(d, [old], new)
    # 2 new + what remains of the old must stay >= replicas - maxUnavailable = 3
    assert scaled and old_after["spec"]["replicas"] == 1
