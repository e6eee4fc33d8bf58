"""Job, DaemonSet and StatefulSet controllers: sync against fakes."""

from __future__ import annotations

from typing import Any

from controller_manager import kube
from controller_manager.daemonset import DAEMONSETS, DaemonSetController, should_run
from controller_manager.job import JOBS, JobController
from controller_manager.statefulset import STATEFULSETS, StatefulSetController
from tests.unit.cm_fakes import FakeCluster

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "w"}},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}


def set_phase(c: FakeCluster, name: str, phase: str, ready: bool = False) -> None:
    pod = c.get_obj(kube.PODS, name)
    assert pod is not None
    pod["status"] = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }


def pod_names(c: FakeCluster) -> list[str]:
    return sorted(n for (_, n) in c.objects(kube.PODS))


# --- Job ---------------------------------------------------------------------


def job(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "pi"},
        "spec": {
            "selector": {"matchLabels": {"app": "w"}},
            "template": TEMPLATE,
            "backoffLimit": 1,
            **spec,
        },
    }


async def test_job_runs_parallel_pods_until_completions() -> None:
    c = FakeCluster()
    c.add(JOBS, job(completions=3, parallelism=2))
    ctl = JobController(c.context())
    await ctl.sync("default/pi")
    assert len(pod_names(c)) == 2
    for n in pod_names(c):
        set_phase(c, n, "Succeeded")
    ctl.expectations.forget("default/pi")
    await ctl.sync("default/pi")
    assert len(pod_names(c)) == 3  # only one more is needed
    j = c.get_obj(JOBS, "pi")
    assert j is not None and j["status"]["succeeded"] == 2
    set_phase(c, pod_names(c)[-1], "Succeeded")
    await ctl.sync("default/pi")
    j = c.get_obj(JOBS, "pi")
    assert j is not None
    complete = kube.get_condition(j, "Complete")
    assert complete is not None and complete["reason"] == "CompletionsReached"
    assert j["status"]["succeeded"] == 3 and "completionTime" in j["status"]
    assert "Completed" in c.recorder.reasons()


async def test_job_fails_after_backoff_limit() -> None:
    c = FakeCluster()
    c.add(JOBS, job())
    ctl = JobController(c.context())
    for _ in range(2):
        await ctl.sync("default/pi")
        ctl.expectations.forget("default/pi")
        for n in pod_names(c):
            set_phase(c, n, "Failed")
    await ctl.sync("default/pi")
    j = c.get_obj(JOBS, "pi")
    assert j is not None
    failed = kube.get_condition(j, "Failed")
    assert failed is not None and failed["reason"] == "BackoffLimitExceeded"
    assert j["status"]["failed"] == 2


async def test_finished_job_deleted_after_ttl() -> None:
    c = FakeCluster()
    c.add(JOBS, job(ttlSecondsAfterFinished=10))
    ctl = JobController(c.context())
    await ctl.sync("default/pi")
    set_phase(c, pod_names(c)[0], "Succeeded")
    await ctl.sync("default/pi")
    assert c.get_obj(JOBS, "pi") is not None
    c.now += 11
    await ctl.sync("default/pi")
    assert c.get_obj(JOBS, "pi") is None


# --- DaemonSet -------------------------------------------------------------------


def node(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"disk": "ssd"}}, "spec": spec}


def daemonset() -> dict[str, Any]:
    return {
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": TEMPLATE},
    }


async def test_daemonset_one_pod_per_eligible_node() -> None:
    c = FakeCluster()
    c.add(kube.NODES, node("n1"))
    c.add(kube.NODES, node("n2", taints=[{"key": "dedicated", "effect": "NoSchedule"}]))
    c.add(
        kube.NODES,
        node(
            "cp",
            taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}],
            unschedulable=True,
        ),
    )
    c.add(DAEMONSETS, daemonset())
    ctl = DaemonSetController(c.context())
    await ctl.sync("default/agent")
    targets = sorted(
        p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ][0]["matchFields"][0]["values"][0]
        for p in c.objects(kube.PODS).values()
    )
    assert targets == ["cp", "n1"]
    assert c.writes("create")[0][1] == "controllerrevisions"
    assert len(c.writes("create", "delete")) == 3
    ds = c.get_obj(DAEMONSETS, "agent")
    assert ds is not None
    assert ds["status"]["desiredNumberScheduled"] == 2
    # converged: a second pass changes nothing
    ctl.expectations.forget("default/agent")
    await ctl.sync("default/agent")
    assert len(c.writes("create", "delete")) == 3


def test_daemonset_node_selector() -> None:
    ds = daemonset()
    ds["spec"]["template"] = {
        **TEMPLATE,
        "spec": {**TEMPLATE["spec"], "nodeSelector": {"disk": "hdd"}},
    }
    assert not should_run(ds, node("n1"))


# --- StatefulSet -------------------------------------------------------------------


def statefulset(replicas: int = 3) -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "serviceName": "nginx",
            "selector": {"matchLabels": {"app": "w"}},
            "template": TEMPLATE,
            "volumeClaimTemplates": [
                {"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
            ],
        },
    }


async def test_statefulset_creates_in_order_and_scales_down_from_the_top() -> None:
    c = FakeCluster()
    c.add(STATEFULSETS, statefulset())
    ctl = StatefulSetController(c.context())
    await ctl.sync("default/web")
    assert pod_names(c) == ["web-0"]
    p0 = c.get_obj(kube.PODS, "web-0")
    assert p0 is not None
    assert p0["spec"]["hostname"] == "web-0" and p0["spec"]["subdomain"] == "nginx"
    assert p0["spec"]["volumes"] == [
        {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}}
    ]
    assert ("create", "persistentvolumeclaims", "default", "www-web-0") in c.writes()
    await ctl.sync("default/web")
    assert pod_names(c) == ["web-0"]  # web-0 not ready yet
    set_phase(c, "web-0", "Running", ready=True)
    await ctl.sync("default/web")
    assert pod_names(c) == ["web-0", "web-1"]
    set_phase(c, "web-1", "Running", ready=True)
    await ctl.sync("default/web")
    set_phase(c, "web-2", "Running", ready=True)
    await ctl.sync("default/web")
    sts = c.get_obj(STATEFULSETS, "web")
    assert sts is not None
    assert sts["status"]["readyReplicas"] == 3
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]

    sts["spec"]["replicas"] = 1
    await ctl.sync("default/web")
    assert c.writes("delete")[-1][3] == "web-2"
    await ctl.sync("default/web")
    assert c.writes("delete")[-1][3] == "web-1"


async def test_statefulset_rolling_update_replaces_highest_ordinal_first() -> None:
    c = FakeCluster()
    c.add(STATEFULSETS, statefulset(replicas=2))
    ctl = StatefulSetController(c.context())
    for name in ("web-0", "web-1"):
        await ctl.sync("default/web")
        set_phase(c, name, "Running", ready=True)
    sts = c.get_obj(STATEFULSETS, "web")
    assert sts is not None
    sts["spec"]["template"] = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "v2"}]}}
    await ctl.sync("default/web")
    assert c.writes("delete")[-1][3] == "web-1"
    await ctl.sync("default/web")
    web1 = c.get_obj(kube.PODS, "web-1")
    assert web1 is not None and web1["spec"]["containers"][0]["image"] == "v2"


# --- CronJob -----------------------------------------------------------------------


def test_cron_schedules() -> None:
    from controller_manager.cronjob import Schedule

    t0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a Friday
    every5 = Schedule.parse("*/5 * * * *")
    assert every5.next_after(t0) == t0 + 300
    assert every5.next_after(t0 + 1) == t0 + 300
    daily = Schedule.parse("@daily")
    assert daily.next_after(t0) == t0 + 16 * 3600
    monday = Schedule.parse("30 9 * * mon")
    assert kube.rfc3339(monday.next_after(t0)) == "2027-01-18T09:30:00Z"
    last, count = every5.last_at_or_before(t0 + 901, t0)
    assert (last, count) == (t0 + 900, 3)


async def test_cronjob_creates_a_job_per_schedule_and_trims_history() -> None:
    from controller_manager.cronjob import CRONJOBS, CronJobController

    c = FakeCluster()
    c.add(
        CRONJOBS,
        {
            "metadata": {"name": "tick", "creationTimestamp": kube.rfc3339(c.now)},
            "spec": {
                "schedule": "* * * * *",
                "successfulJobsHistoryLimit": 1,
                "jobTemplate": {"spec": {"template": TEMPLATE}},
            },
        },
    )
    ctl = CronJobController(c.context())
    await ctl.sync("default/tick")
    assert c.writes("create") == []
    for minute in (1, 2):
        c.now += 60
        await ctl.sync("default/tick")
        name = f"tick-{int(c.now // 60)}"
        assert c.writes("create")[-1] == ("create", "jobs", "default", name)
        job = c.get_obj(JOBS, name)
        assert job is not None
        job["status"] = {
            "conditions": [{"type": "Complete", "status": "True"}],
            "completionTime": kube.rfc3339(c.now),
        }
        assert minute
    c.now += 1
    await ctl.sync("default/tick")
    assert [a[3] for a in c.writes("delete")] == [f"tick-{int((c.now - 61) // 60)}"]
    cj = c.get_obj(CRONJOBS, "tick")
    assert cj is not None and cj["status"]["lastScheduleTime"] == kube.rfc3339(c.now - 1)
