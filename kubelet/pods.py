"""What the kubelet must do for one pod, and what its status is: pure functions.

As upstream's `kuberuntime_manager.computePodActions`, a sync first compares
the desired pod (the API object) with what is observed in the container
runtime (containers found by their `io.kubelab.*` labels, never memory alone)
and returns `PodActions`; only then does the caller execute them. The status a
user sees (`kubectl get pod`, `describe`) is likewise computed from the pod and
the observed containers. Nothing here does I/O, so the unit tests drive every
case (crash loops, init order, restarts after a sandbox loss) with plain data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

SANDBOX = "sandbox"
INIT = "init"
APP = "app"

# Labels on every Docker object the kubelet makes.
LABEL_NODE = "io.kubelab.node"
LABEL_NAMESPACE = "io.kubelab.pod.namespace"
LABEL_POD = "io.kubelab.pod.name"
LABEL_UID = "io.kubelab.pod.uid"
LABEL_CONTAINER = "io.kubelab.container"
LABEL_CLUSTER = "io.kubelab.cluster"
LABEL_KIND = "io.kubelab.container.kind"
LABEL_ATTEMPT = "io.kubelab.container.attempt"
LABEL_SANDBOX_ATTEMPT = "io.kubelab.sandbox.attempt"
LABEL_HASH = "io.kubelab.container.hash"
LABEL_GRACE = "io.kubelab.pod.grace-period"


@dataclass(frozen=True)
class ObservedContainer:
    """One Docker container of a pod, as its labels and inspect data describe it."""

    id: str
    pod_uid: str
    kind: str  # SANDBOX, INIT or APP
    name: str  # the pod's container name ("" for the sandbox)
    attempt: int = 0
    # The attempt of the sandbox this container was made for (0 for sandboxes).
    sandbox_attempt: int = 0
    state: str = "running"  # created | running | exited
    exit_code: int = 0
    oom_killed: bool = False
    started_at: str = ""
    finished_at: str = ""
    image: str = ""
    image_id: str = ""
    spec_hash: str = ""
    ip: str = ""
    error: str = ""
    pod_namespace: str = ""
    pod_name: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def exited(self) -> bool:
        return self.state == "exited"


@dataclass
class ObservedPod:
    uid: str
    containers: list[ObservedContainer] = field(default_factory=list)

    def sandboxes(self) -> list[ObservedContainer]:
        return sorted((c for c in self.containers if c.kind == SANDBOX), key=lambda c: c.attempt)

    def sandbox(self) -> ObservedContainer | None:
        boxes = self.sandboxes()
        return boxes[-1] if boxes else None

    def instances(self, name: str, kind: str) -> list[ObservedContainer]:
        """All instances of one container, oldest first (by sandbox, then attempt)."""
        return sorted(
            (c for c in self.containers if c.kind == kind and c.name == name),
            key=lambda c: (c.sandbox_attempt, c.attempt),
        )

    def current(self, name: str, kind: str, sandbox: ObservedContainer) -> ObservedContainer | None:
        """The latest instance made for `sandbox` (older sandboxes' instances do not count:
        a new sandbox runs the init containers again and starts every app container)."""
        latest = self.latest(name, kind)
        if latest is None or latest.sandbox_attempt != sandbox.attempt:
            return None
        return latest

    def latest(self, name: str, kind: str = APP) -> ObservedContainer | None:
        inst = self.instances(name, kind)
        return inst[-1] if inst else None

    def previous(self, name: str, kind: str = APP) -> ObservedContainer | None:
        inst = self.instances(name, kind)
        return inst[-2] if len(inst) >= 2 else None


@dataclass
class PodActions:
    """What one sync must do, in order: kill, create the sandbox, start containers."""

    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_attempt: int = 0
    next_init: str | None = None
    start: list[str] = field(default_factory=list)
    # container -> why (for the Killing event)
    kill: list[tuple[ObservedContainer, str]] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)  # ids of dead, superseded containers
    # container name -> seconds left before it may restart (CrashLoopBackOff)
    backoff: dict[str, float] = field(default_factory=dict)
    # when the next sync is due, in seconds (0 = only on events)
    requeue_after: float = 0.0

    def is_noop(self) -> bool:
        return not (
            self.kill_pod
            or self.create_sandbox
            or self.next_init
            or self.start
            or self.kill
            or self.remove
        )


@dataclass(frozen=True)
class BackoffPolicy:
    """CrashLoopBackOff: 10 s doubling up to 5 min, as upstream (a lab may shorten it)."""

    initial: float = 10.0
    maximum: float = 300.0

    def delay(self, restarts: int) -> float:
        """Seconds to wait after a container's exit before restart number `restarts+1`."""
        if restarts <= 0:
            return 0.0
        return float(min(self.initial * (2 ** (restarts - 1)), self.maximum))


def parse_time(text: str) -> float | None:
    if not text or text.startswith("0001-"):
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Docker gives nanoseconds; Python takes microseconds at most.
    head, dot, rest = text.partition(".")
    if dot:
        frac = ""
        tail = ""
        for i, ch in enumerate(rest):
            if not ch.isdigit():
                tail = rest[i:]
                break
            frac += ch
        text = f"{head}.{frac[:6]}{tail}"
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def rfc3339(text: str) -> str:
    """Docker's nanosecond timestamp as metav1.Time (seconds, UTC, `Z`)."""
    ts = parse_time(text)
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spec_hash(container: Mapping[str, Any]) -> str:
    """A hash of a container's spec; a change (new image...) restarts the container."""
    relevant = {k: v for k, v in container.items() if k != "resources"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def should_restart(policy: str, exit_code: int) -> bool:
    if policy == "Never":
        return False
    if policy == "OnFailure":
        return exit_code != 0
    return True


def _containers(pod: Mapping[str, Any], key: str) -> list[JSON]:
    return list((pod.get("spec") or {}).get(key) or [])


def restart_policy(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("restartPolicy") or "Always")


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def app_containers_done(pod: Mapping[str, Any], observed: ObservedPod) -> bool:
    """Whether the pod has finished for good (Succeeded or Failed): every app
    container exited and none will be restarted."""
    policy = restart_policy(pod)
    if policy == "Always":
        return False
    containers = _containers(pod, "containers")
    if not containers:
        return False
    for c in containers:
        latest = observed.latest(c["name"])
        if latest is None or not latest.exited:
            return False
        if should_restart(policy, latest.exit_code):
            return False
    return True


def init_failed_for_good(pod: Mapping[str, Any], observed: ObservedPod) -> bool:
    if restart_policy(pod) != "Never":
        return False
    for c in _containers(pod, "initContainers"):
        latest = observed.latest(c["name"], INIT)
        if latest is not None and latest.exited and latest.exit_code != 0:
            return True
    return False


def compute_pod_actions(
    pod: Mapping[str, Any],
    observed: ObservedPod,
    *,
    now: float,
    backoff: BackoffPolicy = BackoffPolicy(),
    liveness_failed: Mapping[str, str] | None = None,
) -> PodActions:
    """The actions that bring `observed` towards `pod` (upstream computePodActions).

    `liveness_failed` maps container name -> why its liveness (or startup) probe
    failed; such a running container is killed so the restart policy applies.
    """
    actions = PodActions()
    liveness_failed = liveness_failed or {}
    policy = restart_policy(pod)
    sandbox = observed.sandbox()

    # Superseded dead containers: keep only the latest instance and the one before
    # it (for `kubectl logs --previous`); dead sandboxes other than the latest go.
    for box in observed.sandboxes()[:-1]:
        if not box.running:
            actions.remove.append(box.id)
    for kind, key in ((INIT, "initContainers"), (APP, "containers")):
        wanted = {c["name"] for c in _containers(pod, key)}
        names = {c.name for c in observed.containers if c.kind == kind}
        for name in names:
            inst = observed.instances(name, kind)
            if name not in wanted:
                for gone in inst:
                    if gone.running:
                        actions.kill.append((gone, f"Stopping container {gone.name}"))
                    else:
                        actions.remove.append(gone.id)
                continue
            for old in inst[:-2]:
                if not old.running:
                    actions.remove.append(old.id)

    if is_terminating(pod):
        actions.kill_pod = True
        return actions

    finished = app_containers_done(pod, observed) or init_failed_for_good(pod, observed)
    if finished:
        # Succeeded or Failed for good: nothing restarts; the sandbox goes too (upstream
        # kills a terminal pod's sandbox), the exited containers stay for their logs.
        actions.kill_pod = any(c.running for c in observed.containers)
        return actions
    if sandbox is None or not sandbox.running:
        # A pod without a live sandbox starts again from scratch (new network namespace).
        actions.kill_pod = any(c.running for c in observed.containers)
        actions.create_sandbox = True
        actions.sandbox_attempt = sandbox.attempt + 1 if sandbox else 0
        inits = _containers(pod, "initContainers")
        if inits:
            actions.next_init = inits[0]["name"]
        else:
            actions.start = [c["name"] for c in _containers(pod, "containers")]
        return actions

    # Init containers, one at a time, in order.
    for c in _containers(pod, "initContainers"):
        latest = observed.current(c["name"], INIT, sandbox)
        if latest is None:
            actions.next_init = c["name"]
            return actions
        if latest.running:
            return actions
        if latest.exited and latest.exit_code == 0:
            continue
        # Failed (or created and never started): retry per policy, with back-off.
        if policy == "Never" and latest.exited:
            return actions
        wait = _backoff_left(latest, now, backoff)
        if wait > 0:
            actions.backoff[c["name"]] = wait
            actions.requeue_after = wait
            return actions
        actions.next_init = c["name"]
        return actions

    # App containers.
    for c in _containers(pod, "containers"):
        name = c["name"]
        latest = observed.current(name, APP, sandbox)
        if latest is None:
            actions.start.append(name)
            continue
        if latest.running:
            if name in liveness_failed:
                actions.kill.append((latest, liveness_failed[name]))
                if should_restart(policy, 137):
                    actions.start.append(name)
            elif latest.spec_hash and latest.spec_hash != spec_hash(c):
                actions.kill.append(
                    (latest, f"Container {name} definition changed, will be restarted")
                )
                actions.start.append(name)
            continue
        if latest.state == "created":
            # Created but never started (the start failed): replace it.
            actions.remove.append(latest.id)
            actions.start.append(name)
            continue
        if not should_restart(policy, latest.exit_code):
            continue
        wait = _backoff_left(latest, now, backoff)
        if wait > 0:
            actions.backoff[name] = wait
            actions.requeue_after = (
                min(actions.requeue_after, wait) if actions.requeue_after else wait
            )
            continue
        actions.start.append(name)
    return actions


def _backoff_left(latest: ObservedContainer, now: float, backoff: BackoffPolicy) -> float:
    finished = parse_time(latest.finished_at)
    if finished is None:
        return 0.0
    started = parse_time(latest.started_at)
    # The first restart is immediate, then 10 s, 20 s... (upstream's doBackOff).
    restarts = latest.attempt
    # A container that ran well for a long time starts its back-off afresh.
    if started is not None and finished - started > 2 * backoff.maximum:
        restarts = 0
    delay = backoff.delay(restarts)
    return max(0.0, finished + delay - now)


# --- status -----------------------------------------------------------------------


@dataclass
class ProbeState:
    """What the probe workers found, by container name (absent = no result yet)."""

    ready: dict[str, bool] = field(default_factory=dict)
    started: dict[str, bool] = field(default_factory=dict)


def pod_ref(pod: Mapping[str, Any]) -> str:
    """`name_namespace(uid)`, as upstream's format.Pod in kubelet messages."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def _terminated(c: ObservedContainer) -> JSON:
    reason = "OOMKilled" if c.oom_killed else ("Completed" if c.exit_code == 0 else "Error")
    if c.error:
        reason = "ContainerCannotRun"
    out: JSON = {
        "exitCode": c.exit_code,
        "reason": reason,
        "startedAt": rfc3339(c.started_at) or None,
        "finishedAt": rfc3339(c.finished_at) or None,
        "containerID": f"docker://{c.id}",
    }
    if c.error:
        out["message"] = c.error
    return {k: v for k, v in out.items() if v is not None}


def container_status(
    pod: Mapping[str, Any],
    spec: Mapping[str, Any],
    observed: ObservedPod,
    *,
    kind: str,
    waiting: Mapping[str, tuple[str, str]],
    probes: ProbeState,
) -> JSON:
    name = spec["name"]
    latest = observed.latest(name, kind)
    prev = observed.previous(name, kind)
    status: JSON = {
        "name": name,
        "image": spec.get("image", ""),
        "imageID": "",
        "ready": False,
        "restartCount": latest.attempt if latest else 0,
        "started": False,
        "lastState": {},
    }
    if latest is not None:
        status["containerID"] = f"docker://{latest.id}"
        status["imageID"] = latest.image_id
    if name in waiting and (latest is None or not latest.running):
        reason, message = waiting[name]
        state: JSON = {
            "waiting": {"reason": reason, "message": message} if message else {"reason": reason}
        }
        if latest is not None and latest.exited:
            status["lastState"] = {"terminated": _terminated(latest)}
    elif latest is None or latest.state == "created":
        state = {"waiting": {"reason": "ContainerCreating"}}
    elif latest.running:
        state = {"running": {"startedAt": rfc3339(latest.started_at)}}
        started = probes.started.get(name, "startupProbe" not in spec)
        status["started"] = started
        ready_default = "readinessProbe" not in spec
        status["ready"] = bool(started and probes.ready.get(name, ready_default))
        if kind == INIT:
            status["ready"] = False
        if prev is not None and prev.exited:
            status["lastState"] = {"terminated": _terminated(prev)}
    else:
        state = {"terminated": _terminated(latest)}
        if kind == INIT and latest.exit_code == 0:
            status["ready"] = True
        if prev is not None and prev.exited:
            status["lastState"] = {"terminated": _terminated(prev)}
    status["state"] = state
    return status


def _set_condition(
    conditions: list[JSON],
    old: Sequence[Mapping[str, Any]],
    type_: str,
    value: bool,
    *,
    reason: str = "",
    message: str = "",
    now: str = "",
) -> None:
    status = "True" if value else "False"
    prior = next((c for c in old if c.get("type") == type_), None)
    cond: JSON = {"type": type_, "status": status, "lastProbeTime": None}
    if prior is not None and prior.get("status") == status and prior.get("lastTransitionTime"):
        cond["lastTransitionTime"] = prior["lastTransitionTime"]
    else:
        cond["lastTransitionTime"] = now
    if not value and reason:
        cond["reason"] = reason
    if not value and message:
        cond["message"] = message
    conditions.append(cond)


def compute_pod_status(
    pod: Mapping[str, Any],
    observed: ObservedPod,
    *,
    host_ip: str,
    now: str,
    waiting: Mapping[str, tuple[str, str]] | None = None,
    probes: ProbeState | None = None,
) -> JSON:
    """The pod's status as upstream's kubelet would write it (generatePodStatus).

    `waiting` maps container name -> (reason, message) for containers the kubelet
    could not start (ErrImagePull, CreateContainerConfigError, CrashLoopBackOff...).
    `now` is the RFC 3339 time used for new transitions.
    """
    waiting = waiting or {}
    probes = probes or ProbeState()
    old = dict(pod.get("status") or {})
    old_conditions = list(old.get("conditions") or [])
    policy = restart_policy(pod)
    inits = _containers(pod, "initContainers")
    apps = _containers(pod, "containers")
    sandbox = observed.sandbox()

    init_statuses = [
        container_status(pod, c, observed, kind=INIT, waiting=waiting, probes=probes) for c in inits
    ]
    app_statuses = [
        container_status(pod, c, observed, kind=APP, waiting=waiting, probes=probes) for c in apps
    ]
    incomplete_init = [
        s["name"]
        for s in init_statuses
        if (s["state"].get("terminated") or {}).get("exitCode", -1) != 0
    ]
    initialized = not incomplete_init
    if not initialized:
        # While init containers are pending, app containers wait in PodInitializing.
        for s in app_statuses:
            if "waiting" in s["state"] and s["state"]["waiting"].get("reason") == (
                "ContainerCreating"
            ):
                s["state"] = {"waiting": {"reason": "PodInitializing"}}

    # Phase, as upstream getPhase.
    if init_failed_for_good(pod, observed):
        phase = "Failed"
    elif not initialized:
        phase = "Pending"
    else:
        waiting_n = running_n = succeeded_n = failed_n = 0
        for c in apps:
            latest = observed.latest(c["name"])
            if latest is None or latest.state == "created":
                waiting_n += 1
            elif latest.running:
                running_n += 1
            elif latest.exit_code == 0:
                succeeded_n += 1
            else:
                failed_n += 1
        if waiting_n:
            phase = "Pending"
        elif running_n or policy == "Always":
            phase = "Running"
        elif policy == "OnFailure":
            phase = "Succeeded" if failed_n == 0 else "Running"
        else:
            phase = "Failed" if failed_n else "Succeeded"
        if not apps:
            phase = "Pending"

    terminal = phase in ("Succeeded", "Failed")
    not_ready = [s["name"] for s in app_statuses if not s["ready"]]
    containers_ready = not not_ready and bool(apps)
    conditions: list[JSON] = []
    _set_condition(
        conditions,
        old_conditions,
        "PodReadyToStartContainers",
        bool(sandbox and sandbox.running),
        now=now,
    )
    _set_condition(
        conditions,
        old_conditions,
        "Initialized",
        initialized,
        reason="ContainersNotInitialized",
        message=f"containers with incomplete status: [{' '.join(incomplete_init)}]",
        now=now,
    )
    ready_reason = "PodCompleted" if terminal else "ContainersNotReady"
    ready_message = "" if terminal else f"containers with unready status: [{' '.join(not_ready)}]"
    _set_condition(
        conditions,
        old_conditions,
        "Ready",
        containers_ready and not terminal,
        reason=ready_reason,
        message=ready_message,
        now=now,
    )
    _set_condition(
        conditions,
        old_conditions,
        "ContainersReady",
        containers_ready and not terminal,
        reason=ready_reason,
        message=ready_message,
        now=now,
    )
    for c in old_conditions:
        if c.get("type") not in {x["type"] for x in conditions}:
            conditions.append(dict(c))
    if not any(c.get("type") == "PodScheduled" for c in conditions):
        _set_condition(conditions, old_conditions, "PodScheduled", True, now=now)

    status: JSON = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "startTime": old.get("startTime") or now,
        "containerStatuses": app_statuses,
        "qosClass": old.get("qosClass") or qos_class(pod),
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    ip = sandbox.ip if sandbox and sandbox.running else old.get("podIP", "")
    if (pod.get("spec") or {}).get("hostNetwork") and sandbox and sandbox.running:
        ip = host_ip
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return status


def qos_class(pod: Mapping[str, Any]) -> str:
    requests_any = False
    guaranteed = True
    for c in _containers(pod, "containers") + _containers(pod, "initContainers"):
        res = c.get("resources") or {}
        limits = res.get("limits") or {}
        requests = {**limits, **(res.get("requests") or {})}
        if requests or limits:
            requests_any = True
        for r in ("cpu", "memory"):
            if r not in limits or str(limits.get(r)) != str(requests.get(r)):
                guaranteed = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def status_differs(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether writing `new` would change what users see (ignores key order)."""
    return json.dumps(old, sort_keys=True) != json.dumps(new, sort_keys=True)
