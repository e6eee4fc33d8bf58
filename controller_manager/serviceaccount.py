"""The service account controller: a `default` ServiceAccount in every
namespace, as upstream, so pods that name none find theirs."""

from __future__ import annotations

from apimachinery import errors
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller

DEFAULT = "default"


class ServiceAccountController(Controller):
    name = "serviceaccount"
    component = "service-account-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.sa_rt = kube.rt("", "serviceaccounts")
        self.namespaces = ctx.informers.informer(kube.NAMESPACES)
        self.accounts = ctx.informers.informer(self.sa_rt)
        self.namespaces.add_handlers(
            on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new)
        )
        self.accounts.add_handlers(on_delete=self._account_deleted)

    def synced(self) -> bool:
        return self.namespaces.has_synced() and self.accounts.has_synced()

    def _account_deleted(self, sa: JSON) -> None:
        if kube.name(sa) == DEFAULT:
            self.queue.add(kube.namespace(sa))

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get("", key)
        if ns is None or kube.deleting(ns):
            return
        if (ns.get("status") or {}).get("phase") == "Terminating":
            return
        if self.accounts.get(key, DEFAULT) is not None:
            return
        body = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": DEFAULT, "namespace": key},
        }
        try:
            await self.api.create(self.sa_rt, body, namespace=key)
        except errors.AlreadyExists:
            pass
        except errors.Forbidden:
            pass  # the namespace started terminating meanwhile
