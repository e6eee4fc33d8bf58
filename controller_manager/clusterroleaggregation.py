"""The ClusterRole aggregation controller: an aggregated ClusterRole's rules
are the union of the rules of the ClusterRoles its `aggregationRule` selects,
as upstream's clusterrole-aggregation controller keeps them.

That is how `admin`, `edit` and `view` grow when someone creates a ClusterRole
labelled `rbac.authorization.k8s.io/aggregate-to-view: "true"` (the Kubernetes
docs' way to extend the default roles, for a custom resource for instance). Any
ClusterRole change may change any aggregate, so every change enqueues every
aggregated ClusterRole, as upstream does; there are few of them.
"""

from __future__ import annotations

from apimachinery import rbac
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller

CLUSTER_ROLES = kube.rt(rbac.GROUP, "clusterroles")


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation"
    component = "clusterrole-aggregation-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.roles = ctx.informers.informer(CLUSTER_ROLES)
        self.roles.add_handlers(
            on_add=self._changed,
            on_update=lambda old, new: self._changed(new),
            on_delete=self._changed,
        )

    def synced(self) -> bool:
        return self.roles.has_synced()

    def _changed(self, _role: JSON) -> None:
        for role in self.roles.list():
            if role.get("aggregationRule") is not None:
                self.queue.add(kube.name(role))

    async def sync(self, key: str) -> None:
        role = self.roles.get("", key)
        if role is None:
            return
        rules = rbac.aggregated_rules(role, self.roles.list())
        if rules is None or rules == (role.get("rules") or []):
            return
        updated = kube.deepcopy(role)
        updated["rules"] = rules
        await self.api.update(CLUSTER_ROLES, updated)
