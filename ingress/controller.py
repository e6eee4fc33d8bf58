"""The ingress controller's control loop: IngressClass, routing table, status.

At start it makes sure the `kubelab` IngressClass exists and is the default
class. Then every change to an Ingress, Service or Endpoints rebuilds the
routing table the proxy reads, and every Ingress of our class gets
`status.loadBalancer.ingress: [{ip: <publish address>}]`, so `kubectl get
ingress` shows an ADDRESS.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from ingress.proxy import IngressProxy
from ingress.routes import (
    CLASS_NAME,
    CONTROLLER,
    DEFAULT_CLASS_ANNOTATION,
    Backend,
    RouteTable,
    backend_addresses,
    is_ours,
)

log = logging.getLogger("ingress")

JSON = dict[str, Any]
INGRESSES = lookup("networking.k8s.io", "v1", "ingresses")
INGRESS_CLASSES = lookup("networking.k8s.io", "v1", "ingressclasses")
SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")


class Cache(Protocol):
    def list(self, namespace: str | None = None) -> list[JSON]: ...

    def get_by_key(self, key: str) -> JSON | None: ...


def ingress_class() -> JSON:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": CLASS_NAME,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
        },
        "spec": {"controller": CONTROLLER},
    }


async def ensure_ingress_class(api: APIClient) -> None:
    try:
        await api.create(INGRESS_CLASSES, ingress_class())
        log.info("created IngressClass %s (the default class)", CLASS_NAME)
    except errors.AlreadyExists:
        pass


def wanted_status(address: str) -> JSON:
    entry = {"ip": address} if address[:1].isdigit() else {"hostname": address}
    return {"loadBalancer": {"ingress": [entry]}}


class IngressController:
    def __init__(
        self,
        api: APIClient,
        proxy: IngressProxy,
        *,
        ingresses: Cache,
        classes: Cache,
        services: Cache,
        endpoints: Cache,
        publish_address: str = "127.0.0.1",
    ) -> None:
        self.api = api
        self.proxy = proxy
        self.ingresses = ingresses
        self.classes = classes
        self.services = services
        self.endpoints = endpoints
        self.publish_address = publish_address
        self._wake = asyncio.Event()
        proxy.resolve = self.resolve

    def changed(self, *_: Any) -> None:
        self._wake.set()

    def resolve(self, backend: Backend) -> list[str]:
        key = f"{backend.namespace}/{backend.service}"
        return backend_addresses(
            self.services.get_by_key(key), self.endpoints.get_by_key(key), backend
        )

    def _default_class(self) -> bool:
        ours = self.classes.get_by_key(CLASS_NAME)
        annotations = ((ours or {}).get("metadata") or {}).get("annotations") or {}
        return bool(annotations.get(DEFAULT_CLASS_ANNOTATION) == "true")

    async def sync(self) -> None:
        """Rebuild the routing table; publish the address on our Ingresses."""
        default = self._default_class()
        mine = [i for i in self.ingresses.list() if is_ours(i, default)]
        self.proxy.table = RouteTable(mine)
        status = wanted_status(self.publish_address)
        for ing in mine:
            if (ing.get("status") or {}).get("loadBalancer") == status["loadBalancer"]:
                continue
            meta = ing["metadata"]
            try:
                await self.api.patch(
                    INGRESSES,
                    meta["name"],
                    {"status": status},
                    namespace=meta.get("namespace", ""),
                    subresource="status",
                )
                log.info(
                    "ingress %s/%s is served at %s",
                    meta.get("namespace"),
                    meta["name"],
                    self.publish_address,
                )
            except errors.NotFound:
                continue

    async def run(self) -> None:
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.sync()
            except errors.APIError as e:
                log.warning("ingress sync failed (will retry): %s", e)
                await asyncio.sleep(1)
                self._wake.set()
