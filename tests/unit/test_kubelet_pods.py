"""The kubelet's pure decisions: actions from (pod, observed containers), and pod status."""

from __future__ import annotations

from typing import Any

from kubelet import pods as P

JSON = dict[str, Any]
T0 = "2026-12-04T10:00:00.123456789Z"
T0_S = P.parse_time(T0) or 0.0


def pod(*, init: list[str] | None = None, apps: tuple[str, ...] = ("web",), **spec: Any) -> JSON:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {
            "containers": [{"name": n, "image": "img"} for n in apps],
            "initContainers": [{"name": n, "image": "img"} for n in init or []],
            **spec,
        },
        "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]},
    }


def c(
    name: str,
    kind: str = P.APP,
    *,
    attempt: int = 0,
    state: str = "running",
    exit_code: int = 0,
    finished: str = "",
    started: str = T0,
    cid: str = "",
    ip: str = "",
) -> P.ObservedContainer:
    return P.ObservedContainer(
        id=cid or f"{kind}-{name}-{attempt}",
        pod_uid="u1",
        kind=kind,
        name=name,
        attempt=attempt,
        state=state,
        exit_code=exit_code,
        started_at=started,
        finished_at=finished,
        ip=ip,
    )


SANDBOX = c("", P.SANDBOX, ip="10.200.0.5")


def observed(*cs: P.ObservedContainer) -> P.ObservedPod:
    return P.ObservedPod(uid="u1", containers=list(cs))


def test_new_pod_creates_sandbox_then_apps() -> None:
    actions = P.compute_pod_actions(pod(apps=("a", "b")), observed(), now=T0_S)
    assert actions.create_sandbox
    assert actions.start == ["a", "b"]
    assert not actions.kill_pod


def test_init_containers_run_one_at_a_time_in_order() -> None:
    p = pod(init=["i1", "i2"])
    a = P.compute_pod_actions(p, observed(), now=T0_S)
    assert a.create_sandbox and a.next_init == "i1" and a.start == []
    a = P.compute_pod_actions(p, observed(SANDBOX, c("i1", P.INIT)), now=T0_S)
    assert a.is_noop()
    done = c("i1", P.INIT, state="exited", finished=T0)
    a = P.compute_pod_actions(p, observed(SANDBOX, done), now=T0_S)
    assert a.next_init == "i2"
    done2 = c("i2", P.INIT, state="exited", finished=T0)
    a = P.compute_pod_actions(p, observed(SANDBOX, done, done2), now=T0_S)
    assert a.start == ["web"] and a.next_init is None


def test_running_pod_is_left_alone() -> None:
    assert P.compute_pod_actions(pod(), observed(SANDBOX, c("web")), now=T0_S).is_noop()


def test_crash_loop_backs_off_doubling() -> None:
    p = pod()
    first = c("web", state="exited", exit_code=1, finished=T0)
    # First restart is immediate, as upstream.
    assert P.compute_pod_actions(p, observed(SANDBOX, first), now=T0_S).start == ["web"]
    second = c("web", attempt=1, state="exited", exit_code=1, finished=T0)
    a = P.compute_pod_actions(p, observed(SANDBOX, first, second), now=T0_S + 1)
    assert a.start == [] and a.backoff["web"] == 9.0 and a.requeue_after == 9.0
    assert P.compute_pod_actions(p, observed(SANDBOX, second), now=T0_S + 10).start == ["web"]
    third = c("web", attempt=2, state="exited", exit_code=1, finished=T0)
    assert P.compute_pod_actions(p, observed(SANDBOX, third), now=T0_S + 15).backoff["web"] == 5
    policy = P.BackoffPolicy(initial=10, maximum=300)
    assert [policy.delay(n) for n in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]


def test_restart_policy_decides_restarts() -> None:
    ok = c("web", state="exited", exit_code=0, finished=T0)
    bad = c("web", state="exited", exit_code=2, finished=T0)
    # Finished pods restart nothing (only their sandbox is stopped).
    assert (
        P.compute_pod_actions(pod(restartPolicy="Never"), observed(SANDBOX, bad), now=T0_S).start
        == []
    )
    assert (
        P.compute_pod_actions(pod(restartPolicy="OnFailure"), observed(SANDBOX, ok), now=T0_S).start
        == []
    )
    assert P.compute_pod_actions(
        pod(restartPolicy="OnFailure"), observed(SANDBOX, bad), now=T0_S
    ).start == ["web"]
    assert P.compute_pod_actions(pod(), observed(SANDBOX, ok), now=T0_S).start == ["web"]


def test_finished_pod_gets_no_new_sandbox() -> None:
    ok = c("web", state="exited", exit_code=0, finished=T0)
    dead_box = c("", P.SANDBOX, state="exited", finished=T0)
    a = P.compute_pod_actions(pod(restartPolicy="Never"), observed(dead_box, ok), now=T0_S)
    assert not a.create_sandbox


def test_lost_sandbox_restarts_everything() -> None:
    dead_box = c("", P.SANDBOX, state="exited", finished=T0)
    a = P.compute_pod_actions(pod(), observed(dead_box, c("web")), now=T0_S)
    assert a.kill_pod and a.create_sandbox and a.sandbox_attempt == 1 and a.start == ["web"]


def test_liveness_failure_kills_and_restarts() -> None:
    a = P.compute_pod_actions(
        pod(),
        observed(SANDBOX, c("web")),
        now=T0_S,
        liveness_failed={"web": "Liveness probe failed"},
    )
    assert [(k.name, why) for k, why in a.kill] == [("web", "Liveness probe failed")]
    assert a.start == ["web"]


def test_terminating_pod_is_killed() -> None:
    p = pod()
    p["metadata"]["deletionTimestamp"] = T0
    assert P.compute_pod_actions(p, observed(SANDBOX, c("web")), now=T0_S).kill_pod


def test_old_dead_instances_are_pruned_keeping_previous() -> None:
    inst = [c("web", attempt=i, state="exited", exit_code=1, finished=T0) for i in range(4)]
    a = P.compute_pod_actions(pod(), observed(SANDBOX, *inst), now=T0_S + 1000)
    assert sorted(a.remove) == ["app-web-0", "app-web-1"]


def test_status_running_and_ready() -> None:
    p = pod()
    st = P.compute_pod_status(p, observed(SANDBOX, c("web", cid="abc")), host_ip="10.0.0.2", now=T0)
    assert st["phase"] == "Running"
    assert st["podIP"] == "10.200.0.5" and st["podIPs"] == [{"ip": "10.200.0.5"}]
    cs = st["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["containerID"] == "docker://abc"
    assert cs["state"] == {"running": {"startedAt": "2026-12-04T10:00:00Z"}}
    conds = {x["type"]: x["status"] for x in st["conditions"]}
    assert conds == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }


def test_status_not_ready_when_readiness_fails() -> None:
    p = pod()
    p["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["true"]}}
    st = P.compute_pod_status(p, observed(SANDBOX, c("web")), host_ip="h", now=T0)
    ready = next(x for x in st["conditions"] if x["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [web]"
    st = P.compute_pod_status(
        p,
        observed(SANDBOX, c("web")),
        host_ip="h",
        now=T0,
        probes=P.ProbeState(ready={"web": True}),
    )
    assert st["containerStatuses"][0]["ready"]


def test_status_crash_loop_waiting_with_last_state() -> None:
    dead = c("web", attempt=3, state="exited", exit_code=1, finished=T0, cid="d3")
    st = P.compute_pod_status(
        pod(),
        observed(SANDBOX, dead),
        host_ip="h",
        now=T0,
        waiting={"web": ("CrashLoopBackOff", "back-off 40s restarting failed container")},
    )
    cs = st["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["restartCount"] == 3
    assert st["phase"] == "Running"


def test_status_phases_for_finished_pods() -> None:
    ok = c("web", state="exited", exit_code=0, finished=T0)
    bad = c("web", state="exited", exit_code=3, finished=T0)
    st = P.compute_pod_status(pod(restartPolicy="Never"), observed(SANDBOX, ok), host_ip="", now=T0)
    assert st["phase"] == "Succeeded"
    assert st["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    st = P.compute_pod_status(
        pod(restartPolicy="Never"), observed(SANDBOX, bad), host_ip="", now=T0
    )
    assert st["phase"] == "Failed"
    ready = next(x for x in st["conditions"] if x["type"] == "Ready")
    assert ready["reason"] == "PodCompleted"


def test_status_pending_during_init() -> None:
    st = P.compute_pod_status(
        pod(init=["setup"]), observed(SANDBOX, c("setup", P.INIT)), host_ip="", now=T0
    )
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    init = next(x for x in st["conditions"] if x["type"] == "Initialized")
    assert init["message"] == "containers with incomplete status: [setup]"


def test_transition_time_kept_when_status_unchanged() -> None:
    p = pod()
    st = P.compute_pod_status(p, observed(SANDBOX, c("web")), host_ip="", now=T0)
    p["status"] = st
    st2 = P.compute_pod_status(p, observed(SANDBOX, c("web")), host_ip="", now="later")
    assert not P.status_differs(st, st2)


def test_qos_classes() -> None:
    p = pod()
    assert P.qos_class(p) == "BestEffort"
    p["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert P.qos_class(p) == "Guaranteed"
    p["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "1"}}
    assert P.qos_class(p) == "Burstable"


def test_finished_pod_stops_its_sandbox_and_nothing_else() -> None:
    ok = c("web", state="exited", exit_code=0, finished=T0)
    a = P.compute_pod_actions(pod(restartPolicy="OnFailure"), observed(SANDBOX, ok), now=T0_S)
    assert a.kill_pod and not a.start and not a.create_sandbox
    failed_init = c("setup", P.INIT, state="exited", exit_code=1, finished=T0)
    a = P.compute_pod_actions(
        pod(init=["setup"], restartPolicy="Never"), observed(SANDBOX, failed_init), now=T0_S
    )
    assert a.kill_pod and a.next_init is None


def test_new_sandbox_reruns_init_and_counts_restarts_on() -> None:
    new_box = P.ObservedContainer(id="box1", pod_uid="u1", kind=P.SANDBOX, name="", attempt=1)
    old_init = c("i1", P.INIT, state="exited", finished=T0)
    old_app = c("web", attempt=3, state="exited", exit_code=137, finished=T0)
    p = pod(init=["i1"])
    a = P.compute_pod_actions(p, observed(new_box, old_init, old_app), now=T0_S)
    assert a.next_init == "i1" and a.start == []
    new_init = P.ObservedContainer(
        id="i1-new",
        pod_uid="u1",
        kind=P.INIT,
        name="i1",
        attempt=1,
        sandbox_attempt=1,
        state="exited",
        finished_at=T0,
    )
    new_app = P.ObservedContainer(
        id="web-new", pod_uid="u1", kind=P.APP, name="web", attempt=4, sandbox_attempt=1
    )
    obs = observed(new_box, old_init, old_app, new_init, new_app)
    assert P.compute_pod_actions(p, obs, now=T0_S).is_noop()
    st = P.compute_pod_status(p, obs, host_ip="", now=T0)
    assert st["containerStatuses"][0]["restartCount"] == 4
    assert "running" in st["containerStatuses"][0]["state"]
