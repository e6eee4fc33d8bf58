"""The EndpointSlice controller: the discovery.k8s.io/v1 view of a Service's
endpoints, as upstream writes it alongside Endpoints.

One slice per distinct set of resolved ports (usually one per Service), named
`<service>-<random>`, labelled `kubernetes.io/service-name` and
`endpointslice.kubernetes.io/managed-by`, owned by the Service so the garbage
collector removes it with the Service. Each endpoint carries its pod's
readiness as the `ready`/`serving`/`terminating` conditions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from apimachinery import errors
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller, key_of, split_key
from controller_manager.endpoints import resolve_target_port, service_selects

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS = 100


def endpoint_of(pod: Mapping[str, Any], publish_not_ready: bool, service_name: str = "") -> JSON:
    terminating = kube.deleting(pod)
    ready = kube.pod_is_ready(pod)
    ep: JSON = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {
            "ready": (ready or publish_not_ready) and not terminating,
            "serving": ready,
            "terminating": terminating,
        },
        "targetRef": {
            "kind": "Pod",
            "namespace": kube.namespace(pod),
            "name": kube.name(pod),
            "uid": kube.uid(pod),
        },
    }
    if kube.node_name(pod):
        ep["nodeName"] = kube.node_name(pod)
    spec = pod.get("spec") or {}
    if service_name and spec.get("hostname") and spec.get("subdomain") == service_name:
        ep["hostname"] = spec["hostname"]
    return ep


def desired_slices(
    service: Mapping[str, Any], pods: list[JSON]
) -> dict[tuple[Any, ...], list[JSON]]:
    """Endpoints grouped by their resolved ports (a tuple of (name, port, protocol))."""
    spec = service.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[Any, ...], list[JSON]] = {}
    for pod in pods:
        status = pod.get("status") or {}
        if not status.get("podIP") or kube.pod_is_terminated(pod):
            continue
        ports = []
        for sp in spec.get("ports") or []:
            number = resolve_target_port(sp, pod)
            if number is not None:
                ports.append((str(sp.get("name") or ""), number, str(sp.get("protocol", "TCP"))))
        groups.setdefault(tuple(sorted(ports)), []).append(
            endpoint_of(pod, publish, kube.name(service))
        )
    for eps in groups.values():
        eps.sort(key=lambda e: (e["addresses"][0], e["targetRef"]["name"]))
    return groups


def slice_ports(key: tuple[Any, ...]) -> list[JSON]:
    return [{"name": n, "port": p, "protocol": proto} for n, p, proto in key]


def ports_key(slice_: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(
        sorted(
            (str(p.get("name") or ""), int(p.get("port") or 0), str(p.get("protocol", "TCP")))
            for p in slice_.get("ports") or []
        )
    )


class EndpointSliceController(Controller):
    name = "endpointslice"
    component = "endpointslice-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.slices_rt = kube.rt("discovery.k8s.io", "endpointslices")
        self.services = ctx.informers.informer(kube.SERVICES)
        self.pods = ctx.informers.informer(kube.PODS)
        self.slices = ctx.informers.informer(self.slices_rt)
        self.slices.add_index(
            "service", lambda s: [f"{kube.namespace(s)}/{kube.labels(s).get(SERVICE_NAME_LABEL)}"]
        )
        self.services.add_handlers(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )
        self.pods.add_handlers(
            on_add=self._pod_changed,
            on_update=self._pod_changed_both,
            on_delete=self._pod_changed,
        )
        self.slices.add_handlers(on_add=self._slice_changed, on_delete=self._slice_changed)
        # Slices this controller created that its cache has not shown yet, per
        # Service: syncing before they show up would create them twice.
        self.pending: dict[str, tuple[set[str], float]] = {}

    def synced(self) -> bool:
        return all(i.has_synced() for i in (self.services, self.pods, self.slices))

    def _pod_changed_both(self, old: JSON, new: JSON) -> None:
        self._pod_changed(old)
        self._pod_changed(new)

    def _pod_changed(self, pod: JSON) -> None:
        for svc in self.services.list(namespace=kube.namespace(pod)):
            if service_selects(svc, pod):
                self.queue.add(key_of(svc))

    def _slice_changed(self, s: JSON) -> None:
        if kube.labels(s).get(MANAGED_BY_LABEL) == MANAGED_BY:
            svc = kube.labels(s).get(SERVICE_NAME_LABEL)
            if svc:
                self.queue.add(f"{kube.namespace(s)}/{svc}")

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.get(ns, name)
        existing = [
            s
            for s in self.slices.by_index("service", key)
            if kube.labels(s).get(MANAGED_BY_LABEL) == MANAGED_BY
        ]
        if svc is None:
            self.pending.pop(key, None)
            return  # the garbage collector deletes slices owned by the Service
        names, since = self.pending.get(key, (set(), 0.0))
        if names - {kube.name(s) for s in existing} and self.ctx.clock() - since < 30:
            self.queue.add_after(key, 0.5)
            return
        self.pending.pop(key, None)
        spec = svc.get("spec") or {}
        if not spec.get("selector") or spec.get("type") == "ExternalName":
            return
        pods = [p for p in self.pods.list(namespace=ns) if service_selects(svc, p)]
        wanted = desired_slices(svc, pods)
        if not wanted:
            wanted = {(): []}  # upstream keeps one empty slice per Service
        by_ports: dict[tuple[Any, ...], JSON] = {}
        extra: list[JSON] = []
        for s in existing:
            k = ports_key(s)
            if k in wanted and k not in by_ports:
                by_ports[k] = s
            else:
                extra.append(s)
        labels = {**kube.labels(svc), SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY}
        if spec.get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        for k, endpoints in wanted.items():
            current = by_ports.get(k)
            if current is None:
                # Reuse a slice whose ports changed rather than churn names.
                current = extra.pop(0) if extra else None
            body: JSON = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "generateName": f"{name}-",
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [kube.owner_reference(svc)],
                },
                "addressType": "IPv4",
                "endpoints": endpoints[: MAX_ENDPOINTS * 10],
                "ports": slice_ports(k),
            }
            if current is None:
                created = await self.api.create(self.slices_rt, body, namespace=ns)
                names, _ = self.pending.setdefault(key, (set(), self.ctx.clock()))
                names.add(kube.name(created))
                continue
            if (
                (current.get("endpoints") or []) == body["endpoints"]
                and (current.get("ports") or []) == body["ports"]
                and kube.labels(current) == labels
            ):
                continue
            new = kube.deepcopy(current)
            new["metadata"]["labels"] = labels
            new["endpoints"] = body["endpoints"]
            new["ports"] = body["ports"]
            await self.api.update(self.slices_rt, new)
        for s in extra:
            with contextlib.suppress(errors.NotFound):
                await self.api.delete(self.slices_rt, kube.name(s), namespace=ns)
