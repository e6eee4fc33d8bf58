"""Liveness, readiness and startup probes: one small loop per probed container.

Each loop waits initialDelaySeconds, then probes every periodSeconds with
timeoutSeconds, counting consecutive successes and failures against
successThreshold/failureThreshold as upstream's prober does. Results live in
memory (as upstream: a restarted kubelet probes again) and every change of a
result enqueues the pod, whose sync turns it into status (ready) or actions
(a liveness failure kills the container).

Probes run from the kubelet: exec through the runtime, httpGet, tcpSocket and
grpc (the standard health service) to the pod's IP (the kubelet's node
reaches every pod IP on the cluster network).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kubelet import pods as podlib
from kubelet.runtime import ContainerRuntime

JSON = dict[str, Any]
log = logging.getLogger("kubelet.probes")

LIVENESS = "Liveness"
READINESS = "Readiness"
STARTUP = "Startup"


def resolve_port(port: Any, container: Mapping[str, Any]) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p.get("containerPort") or 0)
    raise ValueError(f"port {port!r} not found in the container's ports")


async def run_probe(
    probe: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    runtime: ContainerRuntime,
    container_id: str,
    pod_ip: str,
) -> tuple[bool, str]:
    """One probe: (success, what went wrong in upstream's words)."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    url = host = ""
    port = 0
    try:
        if "exec" in probe:
            cmd = [str(c) for c in (probe["exec"] or {}).get("command") or []]
            code, out = await runtime.exec(container_id, cmd, timeout)
            if code == 0:
                return True, ""
            text = out.decode(errors="replace").strip()
            return False, text or f"command {cmd!r} exited with {code}"
        if "httpGet" in probe:
            hg = probe["httpGet"] or {}
            port = resolve_port(hg.get("port"), container)
            scheme = str(hg.get("scheme") or "HTTP").lower()
            host = hg.get("host") or pod_ip
            path = hg.get("path") or "/"
            url = f"{scheme}://{host}:{port}{path}"
            headers = {h["name"]: h["value"] for h in hg.get("httpHeaders") or []}
            headers.setdefault("User-Agent", "kube-probe/1.32")
            client_timeout = aiohttp.ClientTimeout(total=timeout)
            async with (
                aiohttp.ClientSession(timeout=client_timeout) as session,
                session.get(url, headers=headers, ssl=False, allow_redirects=False) as resp,
            ):
                if 200 <= resp.status < 400:
                    return True, ""
                return False, f"HTTP probe failed with statuscode: {resp.status}"
        if "tcpSocket" in probe:
            ts = probe["tcpSocket"] or {}
            port = resolve_port(ts.get("port"), container)
            host = ts.get("host") or pod_ip
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return True, ""
        if "grpc" in probe:
            return await _grpc_probe(probe["grpc"] or {}, pod_ip, timeout)
    except TimeoutError:
        return False, f"probe timed out after {timeout:g}s"
    except (OSError, aiohttp.ClientError, ValueError) as e:
        if "httpGet" in probe:
            return False, f'Get "{url}": {e}'
        if "tcpSocket" in probe:
            return False, f"dial tcp {host}:{port}: {e}"
        return False, str(e)
    except Exception as e:
        return False, str(e)
    return True, ""


async def _grpc_probe(spec: Mapping[str, Any], pod_ip: str, seconds: float) -> tuple[bool, str]:
    """The gRPC health checking protocol (grpc.health.v1.Health/Check), as
    upstream's prober: SERVING succeeds; messages in upstream's words."""
    target = f"{pod_ip}:{int(spec.get('port') or 0)}"
    request = health_pb2.HealthCheckRequest(service=str(spec.get("service") or ""))
    async with grpc.aio.insecure_channel(target) as channel:
        try:
            response = await health_pb2_grpc.HealthStub(channel).Check(request, timeout=seconds)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                return False, (
                    "error: this server does not implement the grpc health protocol "
                    f"(grpc.health.v1.Health): {e.details()}"
                )
            if e.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
                return False, (
                    f"timeout: failed to connect service {target!r} within {seconds:g}s: "
                    f"{e.details()}"
                )
            return False, f"error: health rpc probe failed: {e.details()}"
    if response.status == health_pb2.HealthCheckResponse.SERVING:
        return True, ""
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return False, f"service unhealthy (responseCode: {status})"


@dataclass
class _Worker:
    task: asyncio.Task[None]
    container_id: str


@dataclass
class ProbeResults:
    ready: dict[str, bool] = field(default_factory=dict)
    started: dict[str, bool] = field(default_factory=dict)
    liveness_failed: dict[str, str] = field(default_factory=dict)


class ProbeManager:
    """Probe loops for the running containers of this node's pods."""

    def __init__(
        self,
        runtime: ContainerRuntime,
        *,
        on_change: Callable[[str], None],
        on_failure: Callable[[str, str, str, str], None],
        node_ip: str = "",
    ) -> None:
        """on_change(pod uid); on_failure(pod uid, container, probe kind, message).
        `node_ip` is where hostNetwork pods are probed."""
        self.runtime = runtime
        self.node_ip = node_ip
        self.on_change = on_change
        self.on_failure = on_failure
        self._workers: dict[tuple[str, str, str], _Worker] = {}
        self._results: dict[str, ProbeResults] = {}

    def results(self, uid: str) -> ProbeResults:
        return self._results.setdefault(uid, ProbeResults())

    def state(self, uid: str) -> podlib.ProbeState:
        r = self.results(uid)
        return podlib.ProbeState(ready=dict(r.ready), started=dict(r.started))

    def sync(self, pod: Mapping[str, Any], observed: podlib.ObservedPod) -> None:
        """Run a loop per (running container, probe kind); stop loops of gone containers."""
        uid = observed.uid
        sandbox = observed.sandbox()
        pod_ip = sandbox.ip if sandbox else ""
        if (pod.get("spec") or {}).get("hostNetwork"):
            pod_ip = self.node_ip
        wanted: set[tuple[str, str, str]] = set()
        results = self.results(uid)
        for spec in (pod.get("spec") or {}).get("containers") or []:
            name = spec["name"]
            latest = observed.latest(name)
            if latest is None or not latest.running:
                results.ready.pop(name, None)
                results.started.pop(name, None)
                results.liveness_failed.pop(name, None)
                continue
            for kind, key in (
                (LIVENESS, "livenessProbe"),
                (READINESS, "readinessProbe"),
                (STARTUP, "startupProbe"),
            ):
                if not spec.get(key):
                    continue
                wkey = (uid, name, kind)
                wanted.add(wkey)
                current = self._workers.get(wkey)
                if current is not None and current.container_id == latest.id:
                    continue
                if current is not None:
                    current.task.cancel()
                if kind == LIVENESS:
                    results.liveness_failed.pop(name, None)
                if kind == READINESS:
                    results.ready[name] = False
                if kind == STARTUP:
                    results.started[name] = False
                task = asyncio.create_task(
                    self._loop(
                        uid, dict(spec), kind, probe=spec[key], cid=latest.id, pod_ip=pod_ip
                    ),
                    name=f"probe {kind} {uid}/{name}",
                )
                self._workers[wkey] = _Worker(task=task, container_id=latest.id)
        for wkey in [k for k in self._workers if k[0] == uid and k not in wanted]:
            self._workers.pop(wkey).task.cancel()

    def forget(self, uid: str) -> None:
        for wkey in [k for k in self._workers if k[0] == uid]:
            self._workers.pop(wkey).task.cancel()
        self._results.pop(uid, None)

    def stop(self) -> None:
        for w in self._workers.values():
            w.task.cancel()
        self._workers.clear()

    async def _loop(
        self,
        uid: str,
        container: JSON,
        kind: str,
        *,
        probe: Mapping[str, Any],
        cid: str,
        pod_ip: str,
    ) -> None:
        name = container["name"]
        results = self.results(uid)
        period = float(probe.get("periodSeconds") or 10)
        success_threshold = int(probe.get("successThreshold") or 1)
        failure_threshold = int(probe.get("failureThreshold") or 3)
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        successes = failures = 0
        while True:
            if (
                kind != STARTUP
                and STARTUP in self._kinds(uid, name)
                and not results.started.get(name)
            ):
                await asyncio.sleep(min(period, 1.0))
                continue
            ok, message = await run_probe(
                probe, container, runtime=self.runtime, container_id=cid, pod_ip=pod_ip
            )
            if ok:
                successes += 1
                failures = 0
            else:
                failures += 1
                successes = 0
                self.on_failure(uid, name, kind, message)
            changed = False
            if kind == READINESS:
                if ok and successes >= success_threshold and not results.ready.get(name):
                    results.ready[name] = changed = True
                elif not ok and failures >= failure_threshold and results.ready.get(name, True):
                    results.ready[name] = False
                    changed = True
            elif kind == STARTUP:
                if ok and not results.started.get(name):
                    results.started[name] = changed = True
                    self.on_change(uid)
                    return
                if not ok and failures >= failure_threshold:
                    results.liveness_failed[name] = (
                        f"Container {name} failed startup probe, will be restarted"
                    )
                    changed = True
            elif kind == LIVENESS and not ok and failures >= failure_threshold:
                results.liveness_failed[name] = (
                    f"Container {name} failed liveness probe, will be restarted"
                )
                changed = True
            if changed:
                self.on_change(uid)
            if kind != READINESS and name in results.liveness_failed:
                return  # the container is being restarted; a new loop starts with it
            await asyncio.sleep(period)

    def _kinds(self, uid: str, name: str) -> set[str]:
        return {k[2] for k in self._workers if k[0] == uid and k[1] == name}
