"""The RBAC objects the authorizer reads: this apiserver's own watch caches.

Every apiserver keeps a watch cache of roles, cluster roles and their bindings
(apiserver/watchcache.py), so authorizing a request costs no etcd round trip
and every apiserver of a cluster sees every change. A cache lags etcd by the
time its watch event takes to arrive; `catch_up` closes that gap on demand:
the authorizer calls it before it denies a request, so a binding created a
moment ago, through this apiserver or another, always counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from apimachinery import scheme

if TYPE_CHECKING:  # the registry's admission plugins use this module too
    from apiserver.registry import Registry

JSON = dict[str, Any]

_GROUP = "rbac.authorization.k8s.io"


class CachedRules:
    """`rbac.RuleSource` over a Registry's watch caches."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.roles = scheme.lookup(_GROUP, "v1", "roles")
        self.cluster_roles = scheme.lookup(_GROUP, "v1", "clusterroles")
        self.bindings = scheme.lookup(_GROUP, "v1", "rolebindings")
        self.cluster_bindings = scheme.lookup(_GROUP, "v1", "clusterrolebindings")

    def cluster_role_bindings(self) -> Iterable[JSON]:
        objects = self.registry.cache(self.cluster_bindings).objects
        return [ev.object for _, ev in sorted(objects.items())]

    def role_bindings(self, namespace: str) -> Iterable[JSON]:
        prefix = self.bindings.etcd_prefix(namespace)
        objects = self.registry.cache(self.bindings).objects
        return [ev.object for key, ev in sorted(objects.items()) if key.startswith(prefix)]

    def cluster_role(self, name: str) -> JSON | None:
        return self.registry.cache(self.cluster_roles).get(self.cluster_roles.etcd_key("", name))

    def role(self, namespace: str, name: str) -> JSON | None:
        return self.registry.cache(self.roles).get(self.roles.etcd_key(namespace, name))

    async def catch_up(self) -> None:
        """Until the four caches reflect etcd as it is now (raises the caches'
        Timeout/ServiceUnavailable when etcd or the watch is stuck)."""
        revision = await self.registry.store.current_revision()
        rts = (self.roles, self.cluster_roles, self.bindings, self.cluster_bindings)
        await asyncio.gather(*(self.registry.cache(rt).wait_for_revision(revision) for rt in rts))
