"""LoadBalancer Services on a laptop: one forwarding container per Service.

"The laptop is the cloud" (as cloud-provider-kind does for kind): for every
Service of type LoadBalancer this controller runs a small container on the
cluster network with the Service's ports published on the host's 127.0.0.1;
it forwards each connection to the Service's NodePort on the nodes
(`python -m ingress.forward`). Once the container runs, the Service gets
`status.loadBalancer.ingress: [{ip: 127.0.0.1}]`, so `kubectl get svc` shows
an EXTERNAL-IP and `curl localhost:<port>` reaches the pods. The container is
replaced when the node set or the ports change, and removed with the Service
(or when it stops being a LoadBalancer).

`desired_balancers` (pure) says what should run; `LoadBalancerController.sync`
compares it with the labelled containers the runtime reports and acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from docker import errors as docker_errors

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient

log = logging.getLogger("ingress")

JSON = dict[str, Any]
SERVICES = lookup("", "v1", "services")
LABEL_SERVICE = "io.kubelab.lb.service"
LABEL_HASH = "io.kubelab.lb.hash"
LABEL_CLUSTER = "io.kubelab.cluster"


@dataclass(frozen=True)
class Balancer:
    namespace: str
    name: str
    ports: tuple[tuple[int, int], ...]  # (service port, node port), TCP only
    targets: tuple[str, ...]  # node IPs

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def spec_hash(self) -> str:
        text = repr((self.ports, self.targets))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def container_name(self, cluster: str) -> str:
        return f"{cluster}-lb-{self.namespace}-{self.name}"[:120]

    def command(self) -> list[str]:
        argv = ["python", "-m", "ingress.forward"]
        for port, node_port in self.ports:
            argv += ["--listen", f"{port}:{node_port}"]
        for target in self.targets:
            argv += ["--target", target]
        return argv


def node_ips(nodes: list[JSON]) -> tuple[str, ...]:
    """InternalIPs of the Ready nodes (all nodes when none is Ready yet)."""
    ready, every = [], []
    for node in nodes:
        addresses = (node.get("status") or {}).get("addresses") or []
        ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), None)
        if not ip:
            continue
        every.append(ip)
        conditions = (node.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            ready.append(ip)
    return tuple(sorted(ready or every))


def desired_balancers(services: list[JSON], nodes: list[JSON]) -> dict[str, Balancer]:
    targets = node_ips(nodes)
    wanted: dict[str, Balancer] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        if spec.get("type") != "LoadBalancer":
            continue
        ports = tuple(
            sorted(
                (int(p["port"]), int(p["nodePort"]))
                for p in spec.get("ports") or []
                if (p.get("protocol") or "TCP") == "TCP" and p.get("nodePort")
            )
        )
        if not ports or not targets:
            continue
        meta = svc.get("metadata") or {}
        b = Balancer(str(meta.get("namespace", "")), str(meta.get("name", "")), ports, targets)
        wanted[b.key] = b
    return wanted


@dataclass
class RunningBalancer:
    id: str
    service: str  # ns/name
    spec_hash: str
    running: bool


class BalancerRuntime(Protocol):
    def list(self) -> list[RunningBalancer]: ...

    def start(self, balancer: Balancer) -> None: ...

    def remove(self, container_id: str) -> None: ...


class DockerBalancerRuntime:
    """Balancer containers on the Docker Engine (blocking: call from a thread)."""

    def __init__(
        self, *, cluster: str, network: str, image: str, bind_ip: str = "127.0.0.1"
    ) -> None:
        import docker

        self.client = docker.from_env()
        self.cluster = cluster
        self.network = network
        self.image = image
        self.bind_ip = bind_ip

    def list(self) -> list[RunningBalancer]:
        containers = self.client.containers.list(
            all=True, filters={"label": [LABEL_SERVICE, f"{LABEL_CLUSTER}={self.cluster}"]}
        )
        return [
            RunningBalancer(
                c.id,
                c.labels.get(LABEL_SERVICE, ""),
                c.labels.get(LABEL_HASH, ""),
                c.status == "running",
            )
            for c in containers
        ]

    def start(self, balancer: Balancer) -> None:
        name = balancer.container_name(self.cluster)
        with contextlib.suppress(docker_errors.NotFound):
            self.client.containers.get(name).remove(force=True)
        self.client.containers.run(
            self.image,
            balancer.command(),
            name=name,
            detach=True,
            network=self.network,
            ports={f"{port}/tcp": (self.bind_ip, port) for port, _ in balancer.ports},
            labels={
                LABEL_CLUSTER: self.cluster,
                LABEL_SERVICE: balancer.key,
                LABEL_HASH: balancer.spec_hash,
            },
            restart_policy={"Name": "unless-stopped"},
            init=True,
        )

    def remove(self, container_id: str) -> None:
        with contextlib.suppress(docker_errors.NotFound):
            self.client.containers.get(container_id).remove(force=True)


class Cache(Protocol):
    def list(self, namespace: str | None = None) -> list[JSON]: ...


class LoadBalancerController:
    def __init__(
        self,
        api: APIClient,
        runtime: BalancerRuntime,
        *,
        services: Cache,
        nodes: Cache,
        address: str = "127.0.0.1",
    ) -> None:
        self.api = api
        self.runtime = runtime
        self.services = services
        self.nodes = nodes
        self.address = address
        self._wake = asyncio.Event()
        self.failed: dict[str, str] = {}

    def changed(self, *_: Any) -> None:
        self._wake.set()

    async def sync(self) -> None:
        services = self.services.list()
        wanted = desired_balancers(services, self.nodes.list())
        running = await asyncio.to_thread(self.runtime.list)
        current = {r.service: r for r in running}
        for r in running:
            b = wanted.get(r.service)
            if b is None:
                await asyncio.to_thread(self.runtime.remove, r.id)
                log.info("removed the load balancer of %s", r.service)
        ready: set[str] = set()
        for key, b in wanted.items():
            have = current.get(key)
            if have is not None and have.spec_hash == b.spec_hash and have.running:
                ready.add(key)
                continue
            try:
                await asyncio.to_thread(self.runtime.start, b)
            except Exception as e:  # a port already taken on the host, no image...
                if self.failed.get(key) != str(e):
                    log.warning("cannot start the load balancer of %s: %s", key, e)
                self.failed[key] = str(e)
                continue
            self.failed.pop(key, None)
            ready.add(key)
            ports = ", ".join(f"127.0.0.1:{p}" for p, _ in b.ports)
            log.info("load balancer of %s listening on %s", key, ports)
        for svc in services:
            meta = svc.get("metadata") or {}
            key = f"{meta.get('namespace')}/{meta.get('name')}"
            ingress = [{"ip": self.address, "ipMode": "VIP"}] if key in ready else []
            published = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if published == ingress:
                continue
            try:
                await self.api.patch(
                    SERVICES,
                    meta["name"],
                    {"status": {"loadBalancer": {"ingress": ingress or None}}},
                    namespace=meta.get("namespace", ""),
                    subresource="status",
                )
            except errors.NotFound:
                continue

    async def run(self) -> None:
        self._wake.set()
        while True:
            try:
                async with asyncio.timeout(10):
                    await self._wake.wait()
            except TimeoutError:
                pass  # resync: a container may have died
            self._wake.clear()
            try:
                await self.sync()
            except errors.APIError as e:
                log.warning("load balancer sync failed (will retry): %s", e)
                await asyncio.sleep(1)
                self._wake.set()
