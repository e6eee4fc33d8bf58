"""The kubelet: one node's agent, turning the pods bound to it into containers.

It registers its Node (capacity, addresses, conditions, nodeInfo), renews its
Lease in kube-node-lease every few seconds and its status every ten, and runs
one sync per pod through a work queue (one pod is never synced by two workers
at once). A sync observes the pod's containers in Docker by their labels,
computes the actions (kubelet.pods), executes them, and writes the pod's
status when it changed. Terminating pods are stopped gracefully and then
deleted for good; containers of pods this node no longer has are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import platform
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import prometheus_client

from apimachinery import errors, meta
from apimachinery.scheme import lookup
from client.api import APIClient
from client.events import NORMAL, WARNING, EventRecorder
from client.informer import Informer
from client.workqueue import WorkQueue
from kubelet import pods as podlib
from kubelet import specs
from kubelet.hostports import HostPortManager, wanted_host_ports
from kubelet.probes import LIVENESS, READINESS, STARTUP, ProbeManager, run_probe
from kubelet.runtime import ContainerRuntime, DockerRuntime, ImageInfo, RuntimeError_

JSON = dict[str, Any]
PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
LEASES = lookup("coordination.k8s.io", "v1", "leases")
CONFIGMAPS = lookup("", "v1", "configmaps")
SECRETS = lookup("", "v1", "secrets")

KUBELET_VERSION = "v1.32.0-kubelab"
log = logging.getLogger("kubelet")

# Upstream's kubelet metric names (served on /metrics by the component frame).
RUNNING_PODS = prometheus_client.Gauge("kubelet_running_pods", "Pods with a running sandbox.")
CONTAINER_STARTS = prometheus_client.Counter(
    "kubelet_started_containers_total", "Containers started, by kind.", ["container_type"]
)
SYNC_DURATION = prometheus_client.Histogram(
    "kubelet_pod_worker_duration_seconds", "Duration of one pod sync, in seconds."
)


@dataclass
class KubeletConfig:
    cpu: str = "4"
    memory: str = "8Gi"
    max_pods: int = 110
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[JSON] = field(default_factory=list)
    lease_interval_s: float = 2.0
    lease_duration_s: int = 40
    status_interval_s: float = 10.0
    # Every pod is synced again this often even without an event (upstream's
    # --sync-frequency): catches what events missed, refreshes configMap/secret files.
    resync_interval_s: float = 20.0
    backoff: podlib.BackoffPolicy = field(default_factory=podlib.BackoffPolicy)
    image_pulls: bool = True
    workers: int = 8
    port: int = 10250


class Kubelet:
    def __init__(
        self,
        api: APIClient,
        runtime: ContainerRuntime,
        ctx: specs.NodeContext,
        *,
        pods: Informer,
        recorder: EventRecorder,
        config: KubeletConfig | None = None,
    ) -> None:
        self.api = api
        self.runtime = runtime
        self.ctx = ctx
        self.pods = pods
        self.recorder = recorder
        self.config = config or KubeletConfig()
        self.node_name = ctx.node_name
        self.queue: WorkQueue[str] = WorkQueue("kubelet", base_delay=0.2, max_delay=30.0)
        self.probes = ProbeManager(
            runtime,
            on_change=self._enqueue_uid,
            on_failure=self._probe_failed,
            node_ip=ctx.node_ip,
        )
        self.host_ports = HostPortManager()
        self._keys_by_uid: dict[str, str] = {}
        self._uid_by_key: dict[str, str] = {}
        self._pods_by_uid: dict[str, JSON] = {}
        self._waiting: dict[str, dict[str, tuple[str, str]]] = {}
        self._pull_backoff: dict[tuple[str, str], tuple[float, int]] = {}
        # (pod uid, volume, sandbox id) -> digest of the files written there
        self._projected: dict[tuple[str, str, str], str] = {}
        self._events_thread: threading.Thread | None = None
        self.node_ready = False
        self.boot_id = str(uuid.uuid4())
        pods.add_handlers(
            on_add=self._pod_seen,
            on_update=lambda _old, new: self._pod_seen(new),
            on_delete=self._pod_gone,
        )

    # --- handlers ------------------------------------------------------------------------

    def _pod_seen(self, pod: JSON) -> None:
        key = meta.key(pod)
        uid = meta.uid_of(pod)
        self._keys_by_uid[uid] = key
        self._uid_by_key[key] = uid
        self._pods_by_uid[uid] = pod
        self.queue.add(key)

    def _pod_gone(self, pod: JSON) -> None:
        self._pods_by_uid[meta.uid_of(pod)] = pod
        self.queue.add(meta.key(pod))

    def _event(self, pod: JSON, container: str, type_: str, reason: str, message: str) -> None:
        """An event about one container of the pod (fieldPath `spec.containers{web}`)."""
        self.recorder.event(
            pod, type_, reason, message, field_path=f"spec.containers{{{container}}}"
        )

    def _enqueue_uid(self, uid: str) -> None:
        key = self._keys_by_uid.get(uid)
        if key is not None:
            self.queue.add(key)

    def _probe_failed(self, uid: str, container: str, kind: str, message: str) -> None:
        pod = self._pods_by_uid.get(uid)
        if pod is not None:
            self._event(pod, container, WARNING, "Unhealthy", f"{kind} probe failed: {message}")

    # --- node registration, lease, status -----------------------------------------------

    def node_object(self) -> JSON:
        cfg = self.config
        resources = {
            "cpu": cfg.cpu,
            "memory": cfg.memory,
            "pods": str(cfg.max_pods),
            "ephemeral-storage": "100Gi",
        }
        labels = {
            "kubernetes.io/hostname": self.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            **cfg.labels,
        }
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.node_name, "labels": labels},
            "spec": {"taints": list(cfg.taints)} if cfg.taints else {},
            "status": {
                "capacity": dict(resources),
                "allocatable": dict(resources),
                "addresses": [
                    {"type": "InternalIP", "address": self.ctx.node_ip},
                    {"type": "Hostname", "address": self.node_name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.port}},
                "nodeInfo": {
                    "machineID": uuid.uuid5(uuid.NAMESPACE_DNS, self.node_name).hex,
                    "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, self.node_name)),
                    "bootID": self.boot_id,
                    "kernelVersion": platform.release(),
                    "osImage": "kubelab (Docker)",
                    "containerRuntimeVersion": "docker://20.10",
                    "kubeletVersion": KUBELET_VERSION,
                    "kubeProxyVersion": KUBELET_VERSION,
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
                "conditions": self._conditions(None),
            },
        }

    def _conditions(self, old: Mapping[str, Any] | None) -> list[JSON]:
        now = meta.now_rfc3339()
        wanted = [
            (
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            (
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ]
        prior = {
            c.get("type"): c for c in ((old or {}).get("status") or {}).get("conditions") or []
        }
        out = []
        for type_, status, reason, message in wanted:
            before = prior.get(type_) or {}
            transition = (
                before.get("lastTransitionTime")
                if before.get("status") == status and before.get("lastTransitionTime")
                else now
            )
            out.append(
                {
                    "type": type_,
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": transition,
                }
            )
        return out

    async def register_node(self) -> None:
        """Create the Node, or take over an existing one (a restarted kubelet)."""
        desired = self.node_object()
        try:
            created = await self.api.create(NODES, desired)
            log.info("registered node %s", self.node_name)
        except errors.AlreadyExists:
            created = await self.api.get(NODES, self.node_name)
            log.info("node %s already registered; updating its status", self.node_name)
        created["status"] = {**(created.get("status") or {}), **desired["status"]}
        created["status"]["conditions"] = self._conditions(created)
        await self.api.update_status(NODES, created)
        self.node_ready = True

    async def update_node_status(self) -> None:
        for _ in range(3):
            node = await self.api.get(NODES, self.node_name)
            desired = self.node_object()["status"]
            status = node.setdefault("status", {})
            for k in ("capacity", "allocatable", "addresses", "daemonEndpoints", "nodeInfo"):
                status[k] = desired[k]
            status["conditions"] = self._conditions(node)
            try:
                await self.api.update_status(NODES, node)
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                await self.register_node()
                return

    async def status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.status_interval_s)
            try:
                await self.update_node_status()
            except errors.NotFound:
                await self.register_node()
            except errors.APIError as e:
                log.warning("could not update the status of node %s: %s", self.node_name, e)

    async def renew_lease(self) -> None:
        now = meta.now_rfc3339_micro()
        try:
            lease = await self.api.get(LEASES, self.node_name, namespace="kube-node-lease")
        except errors.NotFound:
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.node_name, "namespace": "kube-node-lease"},
                "spec": {
                    "holderIdentity": self.node_name,
                    "leaseDurationSeconds": self.config.lease_duration_s,
                    "renewTime": now,
                },
            }
            with contextlib.suppress(errors.APIError):
                node = await self.api.get(NODES, self.node_name)
                lease["metadata"]["ownerReferences"] = [
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "name": self.node_name,
                        "uid": meta.uid_of(node),
                    }
                ]
            await self.api.create(LEASES, lease, namespace="kube-node-lease")
            return
        lease.setdefault("spec", {}).update(
            {
                "holderIdentity": self.node_name,
                "leaseDurationSeconds": self.config.lease_duration_s,
                "renewTime": now,
            }
        )
        await self.api.update(LEASES, lease)

    async def lease_loop(self) -> None:
        while True:
            try:
                await self.renew_lease()
            except errors.APIError as e:
                log.warning("could not renew the lease of node %s: %s", self.node_name, e)
            await asyncio.sleep(self.config.lease_interval_s)

    # --- the sync loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Register, then run every loop of the node until cancelled."""
        await self.register_node()
        await self.pods.wait_synced()
        await self.cleanup_orphans()
        tasks = [
            asyncio.create_task(self.lease_loop(), name="lease"),
            asyncio.create_task(self.status_loop(), name="node status"),
            asyncio.create_task(self._resync_loop(), name="resync"),
            asyncio.create_task(self._orphan_loop(), name="orphans"),
        ]
        tasks += [
            asyncio.create_task(self._worker(), name=f"pod worker {i}")
            for i in range(self.config.workers)
        ]
        self._start_docker_events()
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            self.probes.stop()
            self.host_ports.close()
            self.queue.shutdown()

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                with SYNC_DURATION.time():
                    await self.sync_pod(key)
                self.queue.forget(key)
            except Exception as e:
                level = logging.DEBUG if isinstance(e, errors.Conflict) else logging.WARNING
                log.log(level, "syncing pod %s failed: %s; will retry", key, e, exc_info=True)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.resync_interval_s)
            for pod in self.pods.list():
                self.queue.add(meta.key(pod))

    async def _orphan_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.resync_interval_s)
            try:
                await self.cleanup_orphans()
            except Exception as e:
                log.warning("orphan clean-up failed: %s", e)

    def _start_docker_events(self) -> None:
        runtime = self.runtime
        if not isinstance(runtime, DockerRuntime):
            return
        loop = asyncio.get_running_loop()

        def follow() -> None:
            while True:
                try:
                    stream = runtime.api.events(
                        decode=True,
                        filters={
                            "type": "container",
                            "label": f"{podlib.LABEL_NODE}={self.node_name}",
                            "event": ["die", "start", "destroy", "oom"],
                        },
                    )
                    for ev in stream:
                        uid = ((ev.get("Actor") or {}).get("Attributes") or {}).get(
                            podlib.LABEL_UID
                        )
                        if uid:
                            loop.call_soon_threadsafe(self._enqueue_uid, uid)
                except Exception as e:
                    if loop.is_closed():
                        return
                    log.debug("docker event stream ended (%s); following again", e)
                    time.sleep(1)

        self._events_thread = threading.Thread(target=follow, name="docker-events", daemon=True)
        self._events_thread.start()

    async def sync_pod(self, key: str) -> None:
        """Bring one pod's containers to its spec and write its status (one step)."""
        pod = self.pods.get_by_key(key)
        if pod is None or (pod.get("spec") or {}).get("nodeName") != self.node_name:
            uid = self._uid_by_key.pop(key, "")
            if uid:
                self._keys_by_uid.pop(uid, None)
                last = self._pods_by_uid.pop(uid, None)
                await self._kill_and_remove(uid, last, grace=_deletion_grace(last))
            return
        uid = meta.uid_of(pod)
        if self._uid_by_key.get(key) != uid:
            old = self._uid_by_key.get(key)
            if old:
                await self._kill_and_remove(old, self._pods_by_uid.pop(old, None), grace=0)
            self._uid_by_key[key] = uid
            self._keys_by_uid[uid] = key
        self._pods_by_uid[uid] = pod

        observed = await self.runtime.observe_pod(uid)
        if podlib.is_terminating(pod):
            await self._terminate(pod, observed)
            return
        results = self.probes.results(uid)
        actions = podlib.compute_pod_actions(
            pod,
            observed,
            now=time.time(),
            backoff=self.config.backoff,
            liveness_failed=results.liveness_failed,
        )
        waiting = self._waiting.setdefault(uid, {})
        for name in list(waiting):
            if waiting[name][0] == "CrashLoopBackOff" and name not in actions.backoff:
                del waiting[name]
        if not actions.is_noop():
            await self._execute(pod, observed, actions)
            observed = await self.runtime.observe_pod(uid)
        else:
            sandbox = observed.sandbox()
            if sandbox is not None and sandbox.running:
                await self._sync_projected(pod, sandbox.id, pod_ip=sandbox.ip)
        for name, wait in actions.backoff.items():
            latest = observed.latest(name) or observed.latest(name, podlib.INIT)
            delay = self.config.backoff.delay(latest.attempt if latest else 1)
            message = (
                f"back-off {delay:g}s restarting failed container={name} pod={podlib.pod_ref(pod)}"
            )
            if waiting.get(name, ("",))[0] != "CrashLoopBackOff":
                self._event(
                    pod,
                    name,
                    WARNING,
                    "BackOff",
                    f"Back-off restarting failed container {name} in pod {podlib.pod_ref(pod)}",
                )
            waiting[name] = ("CrashLoopBackOff", message)
            del wait
        self.probes.sync(pod, observed)
        box = observed.sandbox()
        await self.host_ports.sync(
            uid,
            wanted_host_ports(
                pod, node_ip=self.ctx.node_ip, pod_ip=box.ip if box and box.running else ""
            ),
        )
        await self._write_status(pod, observed)
        if actions.requeue_after:
            self.queue.add_after(key, actions.requeue_after + 0.05)
        for (puid, _name), (next_try, _n) in list(self._pull_backoff.items()):
            if puid == uid:
                self.queue.add_after(key, max(0.05, next_try - time.time()))

    async def _write_status(self, pod: JSON, observed: podlib.ObservedPod) -> None:
        uid = meta.uid_of(pod)
        status = podlib.compute_pod_status(
            pod,
            observed,
            host_ip=self.ctx.node_ip,
            now=meta.now_rfc3339(),
            waiting=self._waiting.get(uid, {}),
            probes=self.probes.state(uid),
        )
        old = pod.get("status") or {}
        merged = {**old, **status}
        if not podlib.status_differs(old, merged):
            return
        updated = dict(pod)
        updated["status"] = merged
        try:
            await self.api.update_status(PODS, updated)
        except errors.Conflict:
            fresh = await self.api.get(PODS, meta.name_of(pod), namespace=meta.namespace_of(pod))
            if meta.uid_of(fresh) != uid:
                return
            fresh["status"] = {**(fresh.get("status") or {}), **status}
            await self.api.update_status(PODS, fresh)
        except errors.NotFound:
            return

    # --- executing actions -----------------------------------------------------------------

    async def _execute(
        self, pod: JSON, observed: podlib.ObservedPod, actions: podlib.PodActions
    ) -> None:
        uid = meta.uid_of(pod)
        grace = _grace(pod)
        box = observed.sandbox()
        sandbox_ip = box.ip if box else ""
        for c, why in actions.kill:
            self._event(
                pod,
                c.name,
                NORMAL,
                "Killing",
                why or f"Stopping container {c.name}",
            )
            log.info("pod %s: stopping container %s (%s)", meta.key(pod), c.name, why)
            await self._stop_container(pod, c, grace, sandbox_ip)
        if actions.kill_pod:
            await self._stop_all(pod, observed, grace)
        for cid in actions.remove:
            await self.runtime.remove(cid)
        sandbox = observed.sandbox()
        sandbox_id = sandbox.id if sandbox and sandbox.running else ""
        pod_ip = sandbox.ip if sandbox and sandbox.running else ""
        sandbox_attempt = sandbox.attempt if sandbox else 0
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        if actions.create_sandbox:
            sandbox_attempt = actions.sandbox_attempt
            try:
                sandbox_id, pod_ip = await self._create_sandbox(pod, sandbox_attempt)
            except RuntimeError_ as e:
                self.recorder.event(
                    pod, WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}"
                )
                raise
        if not sandbox_id:
            return
        if host_network:
            pod_ip = self.ctx.node_ip
        to_start: list[tuple[str, str]] = []
        if actions.next_init:
            to_start.append((actions.next_init, podlib.INIT))
        to_start += [(name, podlib.APP) for name in actions.start]
        if not to_start:
            return
        if not await self._sync_projected(pod, sandbox_id, pod_ip=pod_ip):
            for name, _kind in to_start:
                self._waiting.setdefault(uid, {})[name] = ("ContainerCreating", "")
            self.queue.add_after(meta.key(pod), 2.0)
            return
        objects = await self._fetch_objects(pod)
        await asyncio.gather(
            *(
                self._start_container(
                    pod,
                    name,
                    kind,
                    observed,
                    sandbox_id=sandbox_id,
                    sandbox_attempt=sandbox_attempt,
                    pod_ip=pod_ip,
                    objects=objects,
                )
                for name, kind in to_start
            )
        )

    async def _stop_container(
        self, pod: JSON | None, c: podlib.ObservedContainer, grace: int, sandbox_ip: str = ""
    ) -> None:
        """preStop hook (within the grace period), then SIGTERM, then SIGKILL at the end."""
        spec = next(
            (
                x
                for x in ((pod or {}).get("spec") or {}).get("containers") or []
                if x["name"] == c.name
            ),
            None,
        )
        hook = ((spec or {}).get("lifecycle") or {}).get("preStop") or {}
        started = time.monotonic()
        if hook and spec is not None and grace > 0:
            probe = {**hook, "timeoutSeconds": grace}
            if "sleep" in hook:
                await asyncio.sleep(min(grace, int((hook["sleep"] or {}).get("seconds") or 0)))
            else:
                ok, message = await run_probe(
                    probe, spec, runtime=self.runtime, container_id=c.id, pod_ip=sandbox_ip
                )
                if not ok and pod is not None:
                    self._event(
                        pod,
                        c.name,
                        WARNING,
                        "FailedPreStopHook",
                        f"PreStopHook failed: {message}",
                    )
        left = max(0, grace - int(time.monotonic() - started))
        await self.runtime.stop(c.id, left)

    async def _stop_all(self, pod: JSON | None, observed: podlib.ObservedPod, grace: int) -> None:
        apps = [c for c in observed.containers if c.kind != podlib.SANDBOX and c.running]
        if pod is not None:
            for c in apps:
                self._event(pod, c.name, NORMAL, "Killing", f"Stopping container {c.name}")
        box = observed.sandbox()
        ip = box.ip if box else ""
        await asyncio.gather(*(self._stop_container(pod, c, grace, ip) for c in apps))
        boxes = [c for c in observed.containers if c.kind == podlib.SANDBOX and c.running]
        await asyncio.gather(*(self.runtime.stop(c.id, 0) for c in boxes))

    async def _create_sandbox(self, pod: JSON, attempt: int) -> tuple[str, str]:
        uid = meta.uid_of(pod)
        for vol in specs.volumes_to_create(pod, self.ctx):
            await self.runtime.ensure_volume(
                vol,
                {
                    **self.ctx.extra_labels,
                    podlib.LABEL_NODE: self.node_name,
                    podlib.LABEL_UID: uid,
                    podlib.LABEL_CLUSTER: self.ctx.cluster,
                },
            )
        config = specs.sandbox_config(pod, self.ctx, attempt=attempt)
        cid = await self.runtime.create(config)
        await self.runtime.start(cid)
        observed = await self.runtime.observe_pod(uid)
        box = next((c for c in observed.containers if c.id == cid), None)
        ip = box.ip if box else ""
        log.info("pod %s: sandbox started with IP %s", meta.key(pod), ip or "(none)")
        return cid, ip

    async def _fetch_objects(self, pod: JSON) -> dict[tuple[str, str], JSON | None]:
        ns = meta.namespace_of(pod)
        out: dict[tuple[str, str], JSON | None] = {}
        for kind, name in specs.referenced_objects(pod):
            rt = CONFIGMAPS if kind == "configmap" else SECRETS
            try:
                out[(kind, name)] = await self.api.get(rt, name, namespace=ns)
            except errors.NotFound:
                out[(kind, name)] = None
        return out

    async def _sync_projected(self, pod: JSON, sandbox_id: str, *, pod_ip: str) -> bool:
        """Write (or refresh, when their content changed) the files of the pod's
        configMap/secret/downwardAPI volumes; False (FailedMount) when an object is missing."""
        volumes = specs.projected_volumes(pod)
        if not volumes:
            return True
        uid = meta.uid_of(pod)
        objects = await self._fetch_objects(pod)
        ok = True
        for vol in volumes:
            try:
                files = specs.volume_files(pod, vol, objects, pod_ip=pod_ip)
            except specs.ConfigError as e:
                self.recorder.event(
                    pod,
                    WARNING,
                    "FailedMount",
                    f'MountVolume.SetUp failed for volume "{vol["name"]}" : {e}',
                )
                ok = False
                continue
            digest = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()
            key = (uid, str(vol["name"]), sandbox_id)
            if self._projected.get(key) == digest:
                continue
            if files:
                await self.runtime.put_files(
                    sandbox_id, f"{specs.PROJECTED_ROOT}/{vol['name']}", files
                )
            self._projected[key] = digest
        return ok

    async def _ensure_image(self, pod: JSON, container: JSON) -> ImageInfo | None:
        """The image, present locally (or pulled when allowed); None + waiting reason if not."""
        uid, name = meta.uid_of(pod), container["name"]
        image = str(container.get("image", ""))
        policy = container.get("imagePullPolicy") or (
            "Always"
            if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]
            else "IfNotPresent"
        )
        waiting = self._waiting.setdefault(uid, {})
        info = await self.runtime.image(image)
        if info is not None:
            self._pull_backoff.pop((uid, name), None)
            self._event(
                pod, name, NORMAL, "Pulled", f'Container image "{image}" already present on machine'
            )
            return info
        if policy == "Never":
            message = f'Container image "{image}" is not present with pull policy of Never'
            waiting[name] = ("ErrImageNeverPull", message)
            self._event(pod, name, WARNING, "ErrImageNeverPull", message)
            return None
        backoff = self._pull_backoff.get((uid, name))
        if backoff is not None and time.time() < backoff[0]:
            waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            self._event(pod, name, NORMAL, "BackOff", f'Back-off pulling image "{image}"')
            return None
        count = backoff[1] + 1 if backoff else 1
        self._pull_backoff[(uid, name)] = (time.time() + min(10.0 * 2 ** (count - 1), 300.0), count)
        if not self.config.image_pulls:
            why = (
                f'image "{image}" is not present on this machine and image pulls are disabled '
                "here (KUBELAB_IMAGE_PULLS=disabled): build or load it on the Docker host"
            )
        else:
            self._event(pod, name, NORMAL, "Pulling", f'Pulling image "{image}"')
            try:
                info = await self.runtime.pull(image)
            except RuntimeError_ as e:
                why = str(e)
            else:
                self._pull_backoff.pop((uid, name), None)
                self._event(pod, name, NORMAL, "Pulled", f'Successfully pulled image "{image}"')
                return info
        message = f'Failed to pull image "{image}": {why}'
        waiting[name] = ("ErrImagePull", message)
        self._event(pod, name, WARNING, "Failed", message)
        self._event(pod, name, WARNING, "Failed", "Error: ErrImagePull")
        return None

    async def _start_container(
        self,
        pod: JSON,
        name: str,
        kind: str,
        observed: podlib.ObservedPod,
        *,
        sandbox_id: str,
        sandbox_attempt: int,
        pod_ip: str,
        objects: dict[tuple[str, str], JSON | None],
    ) -> None:
        uid = meta.uid_of(pod)
        key = "initContainers" if kind == podlib.INIT else "containers"
        container = next(c for c in (pod.get("spec") or {}).get(key) or [] if c["name"] == name)
        waiting = self._waiting.setdefault(uid, {})
        info = await self._ensure_image(pod, container)
        if info is None:
            return
        latest = observed.latest(name, kind)
        attempt = latest.attempt + 1 if latest else 0
        try:
            env = specs.container_env(
                pod,
                container,
                objects,
                pod_ip=pod_ip,
                host_ip=self.ctx.node_ip,
                node_alloc={"cpu": self.config.cpu, "memory": self.config.memory},
            )
            config = specs.container_config(
                pod,
                container,
                self.ctx,
                kind=kind,
                attempt=attempt,
                sandbox_id=sandbox_id,
                sandbox_attempt=sandbox_attempt,
                env=env,
                image_user=info.user,
            )
        except specs.ConfigError as e:
            waiting[name] = ("CreateContainerConfigError", str(e))
            self._event(pod, name, WARNING, "Failed", f"Error: {e}")
            return
        try:
            cid = await self.runtime.create(config)
        except RuntimeError_ as e:
            waiting[name] = ("CreateContainerError", str(e))
            self._event(pod, name, WARNING, "Failed", f"Error: {e}")
            return
        self._event(pod, name, NORMAL, "Created", f"Created container {name}")
        try:
            await self.runtime.start(cid)
        except RuntimeError_ as e:
            waiting[name] = ("RunContainerError", str(e))
            self._event(pod, name, WARNING, "Failed", f"Error: {e}")
            return
        waiting.pop(name, None)
        CONTAINER_STARTS.labels("init_container" if kind == podlib.INIT else "container").inc()
        self._event(pod, name, NORMAL, "Started", f"Started container {name}")
        log.info("pod %s: started container %s (attempt %d)", meta.key(pod), name, attempt)
        hook = (container.get("lifecycle") or {}).get("postStart") or {}
        if hook and ("exec" in hook or "httpGet" in hook or "tcpSocket" in hook):
            # As upstream: the hook runs right after the start; if it fails, the
            # container is killed and the restart policy applies.
            ok, message = await run_probe(
                {**hook, "timeoutSeconds": _grace(pod) or 30},
                container,
                runtime=self.runtime,
                container_id=cid,
                pod_ip=pod_ip,
            )
            if not ok:
                self._event(
                    pod, name, WARNING, "FailedPostStartHook", f"PostStartHook failed: {message}"
                )
                await self.runtime.stop(cid, 0)

    # --- termination and clean-up -----------------------------------------------------------

    async def _terminate(self, pod: JSON, observed: podlib.ObservedPod) -> None:
        """Graceful stop (SIGTERM, grace period, SIGKILL), then delete the pod for good."""
        uid = meta.uid_of(pod)
        grace = _deletion_grace(pod)
        self.probes.forget(uid)
        await self.host_ports.forget(uid)
        if any(c.running for c in observed.containers):
            log.info("pod %s: stopping its containers (grace period %ds)", meta.key(pod), grace)
            await self._stop_all(pod, observed, grace)
            observed = await self.runtime.observe_pod(uid)
            await self._write_status(pod, observed)
        await self._remove_pod_resources(uid, observed)
        try:
            await self.api.delete(
                PODS,
                meta.name_of(pod),
                namespace=meta.namespace_of(pod),
                options={"gracePeriodSeconds": 0, "preconditions": {"uid": uid}},
            )
            log.info("pod %s: deleted", meta.key(pod))
        except (errors.NotFound, errors.Conflict):
            pass

    async def _remove_pod_resources(self, uid: str, observed: podlib.ObservedPod) -> None:
        await asyncio.gather(*(self.runtime.remove(c.id) for c in observed.containers))
        if isinstance(self.runtime, DockerRuntime):
            runtime = self.runtime
            names = await asyncio.to_thread(runtime.list_volumes, f"{podlib.LABEL_UID}={uid}")
            for name in names:
                if name.startswith(f"kubelab-{uid}-"):
                    await self.runtime.remove_volume(name)
        self._waiting.pop(uid, None)
        for pk in [k for k in self._projected if k[0] == uid]:
            self._projected.pop(pk, None)
        for k in [k for k in self._pull_backoff if k[0] == uid]:
            self._pull_backoff.pop(k, None)

    async def _kill_and_remove(self, uid: str, last: JSON | None, *, grace: int) -> None:
        self.probes.forget(uid)
        await self.host_ports.forget(uid)
        observed = await self.runtime.observe_pod(uid)
        if observed.containers:
            log.info("pod %s is gone from this node: removing its containers", uid)
            await self._stop_all(None, observed, grace)
            await self._remove_pod_resources(uid, observed)
        del last

    async def cleanup_orphans(self) -> None:
        """Remove containers labelled for pods this node does not run (kubelet restart,
        pod deleted while the kubelet was away, node partitioned)."""
        if not self.pods.has_synced():
            return
        known = {
            meta.uid_of(p)
            for p in self.pods.list()
            if (p.get("spec") or {}).get("nodeName") == self.node_name
        }
        refs = await self.runtime.list_pods()
        RUNNING_PODS.set(len({r.pod_uid for r in refs if r.running and r.pod_uid in known}))
        orphans: dict[str, list[str]] = {}
        for ref in refs:
            if ref.pod_uid and ref.pod_uid not in known and ref.pod_uid not in self._keys_by_uid:
                orphans.setdefault(ref.pod_uid, []).append(f"{ref.namespace}/{ref.name}")
        for uid, names in orphans.items():
            log.info(
                "removing the containers of %s (uid %s): no such pod on this node", names[0], uid
            )
            await self._kill_and_remove(uid, None, grace=0)


def _deletion_grace(pod: Mapping[str, Any] | None) -> int:
    """The grace period of a pod that is gone from the API (a forced deletion says 0)."""
    if pod is None:
        return 0
    requested = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
    return _grace(pod) if requested is None else int(requested)


def _grace(pod: Mapping[str, Any] | None) -> int:
    value = ((pod or {}).get("spec") or {}).get("terminationGracePeriodSeconds")
    return 30 if value is None else int(value)


def image_pulls_enabled() -> bool:
    return os.environ.get("KUBELAB_IMAGE_PULLS", "").lower() not in ("disabled", "0", "false", "no")


__all__ = ["LIVENESS", "READINESS", "STARTUP", "Kubelet", "KubeletConfig"]
