"""The endpoints controller: an Endpoints object per Service with a selector,
listing the IPs and ports of the pods it selects.

Ready pods go to `addresses`, the others to `notReadyAddresses` (all to
`addresses` with `publishNotReadyAddresses`); each address names its pod
(`targetRef`) and node. A Service port's targetPort is resolved per pod: a
number as is, a name through the pod's container ports. Pods whose ports
resolve alike share a subset, as upstream's RepackSubsets does. Services
without a selector are left alone: their Endpoints are written by hand.
kube-proxy and the cluster DNS read what is written here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from apimachinery import errors, selectors
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller, key_of, split_key

HEADLESS_LABEL = "service.kubernetes.io/headless"


def resolve_target_port(service_port: Mapping[str, Any], pod: Mapping[str, Any]) -> int | None:
    """The pod port a Service port sends to (None when a named port is missing)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == protocol:
                return int(p["containerPort"])
    return None


def pod_in_endpoints(pod: Mapping[str, Any]) -> bool:
    if not (pod.get("status") or {}).get("podIP"):
        return False
    if kube.deleting(pod):
        return False
    return not kube.pod_is_terminated(pod)


def address_of(pod: Mapping[str, Any], service_name: str) -> JSON:
    addr: JSON = {
        "ip": pod["status"]["podIP"],
        "targetRef": {
            "kind": "Pod",
            "namespace": kube.namespace(pod),
            "name": kube.name(pod),
            "uid": kube.uid(pod),
        },
    }
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == service_name:
        addr["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        addr["nodeName"] = spec["nodeName"]
    return addr


def compute_subsets(service: Mapping[str, Any], pods: list[JSON]) -> list[JSON]:
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    service_ports = list(spec.get("ports") or [])
    headless = spec.get("clusterIP") == "None"
    # ports tuple -> (ready addresses, not-ready addresses)
    groups: dict[tuple[tuple[str, int, str], ...], tuple[list[JSON], list[JSON]]] = {}
    for pod in pods:
        if not pod_in_endpoints(pod):
            continue
        ports: list[tuple[str, int, str]] = []
        for sp in service_ports:
            number = resolve_target_port(sp, pod)
            if number is not None:
                ports.append((str(sp.get("name") or ""), number, str(sp.get("protocol", "TCP"))))
        if not ports and not (headless and not service_ports):
            continue
        ready, not_ready = groups.setdefault(tuple(sorted(ports)), ([], []))
        addr = address_of(pod, kube.name(service))
        (ready if publish_not_ready or kube.pod_is_ready(pod) else not_ready).append(addr)
    subsets: list[JSON] = []
    for ports_key, (ready, not_ready) in sorted(groups.items()):
        subset: JSON = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: (a["ip"], a["targetRef"]["name"]))
        if not_ready:
            subset["notReadyAddresses"] = sorted(
                not_ready, key=lambda a: (a["ip"], a["targetRef"]["name"])
            )
        if ports_key:
            subset["ports"] = [
                {**({"name": n} if n else {}), "port": p, "protocol": proto}
                for n, p, proto in ports_key
            ]
        subsets.append(subset)
    return subsets


def service_selects(service: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    selector = (service.get("spec") or {}).get("selector")
    if not selector:
        return False
    return selectors.selector_from_set(selector).matches(kube.labels(pod))


class EndpointsController(Controller):
    name = "endpoints"
    component = "endpoint-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.services = ctx.informers.informer(kube.SERVICES)
        self.pods = ctx.informers.informer(kube.PODS)
        self.endpoints = ctx.informers.informer(kube.ENDPOINTS)
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
        self.endpoints.add_handlers(on_delete=self.enqueue)

    def synced(self) -> bool:
        return all(i.has_synced() for i in (self.services, self.pods, self.endpoints))

    def _pod_changed_both(self, old: JSON, new: JSON) -> None:
        self._pod_changed(old)
        self._pod_changed(new)

    def _pod_changed(self, pod: JSON) -> None:
        for svc in self.services.list(namespace=kube.namespace(pod)):
            if service_selects(svc, pod):
                self.queue.add(key_of(svc))

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.get(ns, name)
        if svc is None:
            if self.endpoints.get(ns, name) is not None:
                with contextlib.suppress(errors.NotFound):
                    await self.api.delete(kube.ENDPOINTS, name, namespace=ns)
            return
        spec = svc.get("spec") or {}
        if not spec.get("selector") or spec.get("type") == "ExternalName":
            return
        pods = [p for p in self.pods.list(namespace=ns) if service_selects(svc, p)]
        subsets = compute_subsets(svc, pods)
        labels = kube.labels(svc)
        if spec.get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        current = self.endpoints.get(ns, name)
        if current is None:
            obj: JSON = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
            }
            if subsets:
                obj["subsets"] = subsets
            try:
                await self.api.create(kube.ENDPOINTS, obj, namespace=ns)
            except errors.AlreadyExists:
                # The cache is behind; the next pass updates it.
                self.queue.add_after(key, 0.5)
            return
        if (current.get("subsets") or []) == subsets and kube.labels(current) == labels:
            return
        new = kube.deepcopy(current)
        new["metadata"]["labels"] = labels
        if subsets:
            new["subsets"] = subsets
        else:
            new.pop("subsets", None)
        await self.api.update(kube.ENDPOINTS, new)
