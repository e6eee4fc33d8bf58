"""RBAC escalation prevention: nobody grants through RBAC what they do not hold.

As upstream's RBAC storage does for every create and update of a Role,
ClusterRole, RoleBinding or ClusterRoleBinding made by a user:

- a Role or ClusterRole whose rules change is accepted if the user may
  `escalate` it, or holds every rule it grants (in its namespace; cluster-wide
  for a ClusterRole) and it has no aggregationRule;
- a binding is accepted if the user may `bind` the role it refers to, or holds
  every rule of that role (where the binding applies).

Otherwise 403, in upstream's words: `roles.rbac.authorization.k8s.io "x" is
forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant
RBAC permissions not currently held: {APIGroups:[""], Resources:["nodes"],
Verbs:["get"]}`. `system:masters` skips the check, and so do the writes that
carry no user (the components' gRPC calls, the apiserver's bootstrap policy):
upstream gives those identities escalate and bind.
"""

from __future__ import annotations

from typing import Any

from apimachinery import errors
from apimachinery.scheme import ResourceType
from apiserver import auth, rbac
from apiserver.admission import AdmissionContext, PluginConfig
from apiserver.rbac_rules import CachedRules

JSON = dict[str, Any]


class EscalationPrevention:
    async def admit(
        self, ctx: AdmissionContext, operation: str, rt: ResourceType, obj: JSON, old: JSON | None
    ) -> JSON:
        if rt.group != rbac.GROUP or operation not in ("CREATE", "UPDATE") or ctx.subresource:
            return obj
        user = auth.REQUEST_USER.get()
        if user is None or user.is_admin:
            return obj
        namespace = ctx.namespace if rt.namespaced else ""
        rules = CachedRules(ctx.registry)
        authorizer = auth.Authorizer(rules)
        if rt.kind in ("Role", "ClusterRole"):
            if old is not None and obj.get("rules") == old.get("rules"):
                return obj
            escalate = auth.Attributes(
                "escalate", rt.resource, group=rbac.GROUP, namespace=namespace, name=ctx.name
            )
            if (await authorizer.authorize(user, escalate))[0]:
                return obj
            if obj.get("aggregationRule") is not None or (old or {}).get("aggregationRule"):
                # Its rules come from other roles: only a cluster admin may say which.
                raise self._forbidden(
                    rt, ctx.name, "must have cluster-admin privileges to use the aggregationRule"
                )
            granted = [r for r in obj.get("rules") or [] if isinstance(r, dict)]
        else:
            ref = obj.get("roleRef") or {}
            if old is not None and (obj.get("roleRef"), obj.get("subjects")) == (
                old.get("roleRef"),
                old.get("subjects"),
            ):
                return obj
            role_resource = "roles" if ref.get("kind") == "Role" else "clusterroles"
            bind = auth.Attributes(
                "bind",
                role_resource,
                group=rbac.GROUP,
                namespace=namespace,
                name=str(ref.get("name") or ""),
            )
            if (await authorizer.authorize(user, bind))[0]:
                return obj
            granted, error = rbac.role_reference_rules(rules, ref, namespace)
            if error is not None:
                raise self._forbidden(rt, ctx.name, error)
        held, problems = await authorizer.rules_for(user, namespace)
        missing = rbac.missing_rules(held, granted)
        if missing:
            raise self._forbidden(rt, ctx.name, rbac.escalation_message(user, missing, problems))
        return obj

    @staticmethod
    def _forbidden(rt: ResourceType, name: str, why: str) -> errors.Forbidden:
        return errors.Forbidden(
            message=f'{rt.qualified_resource} "{name}" is forbidden: {why}',
            name=name,
            group=rt.group,
            kind=rt.resource,
        )


def plugin(config: PluginConfig) -> EscalationPrevention:
    del config  # nothing to configure
    return EscalationPrevention()
