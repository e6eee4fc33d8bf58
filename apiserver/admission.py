"""Admission: the ordered plugins every create, update and delete passes through.

Each plugin is `async def admit(ctx, operation, rt, obj, old) -> obj`; it may
change the object (defaults, allocations) or refuse it by raising an API
error. `ctx` names the request (subresource, dry run, field validation) and
gives read access to the registry. The registry runs the plugins in the order
of `PLUGINS`, after it has filled in the server-owned metadata (name from
generateName, uid, creationTimestamp) and before the object is written.

To add a plugin, write it in your own module and add one line (a factory
taking the `PluginConfig`) to `PLUGINS` below.

Built in here:
- `NamespaceLifecycle`: objects are refused in a namespace that does not exist
  (404 `namespaces "x" not found`) or is being terminated (403), and the
  namespaces the cluster needs cannot be deleted (403);
- `Validation`: `apimachinery.validation.admit` (strict decoding, defaults,
  validation; 400 and 422).
Elsewhere: ClusterIP/NodePort allocation (apiserver/service_alloc.py) and RBAC
escalation prevention (apiserver/rbac_admission.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from apimachinery import errors, validation
from apimachinery.scheme import ResourceType
from apimachinery.taints import with_default_tolerations
from apiserver import service_alloc

JSON = dict[str, Any]
Operation = Literal["CREATE", "UPDATE", "DELETE"]

# Namespaces that cannot be deleted (upstream's immortal namespaces).
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")


@dataclass
class AdmissionContext:
    """What a plugin may know about the request, and the registry to read from."""

    registry: Any  # apiserver.registry.Registry (Any: no import cycle)
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    dry_run: bool = False
    field_validation: str = "Strict"
    warnings: list[str] = field(default_factory=list)


class AdmissionPlugin(Protocol):
    async def admit(
        self, ctx: AdmissionContext, operation: str, rt: ResourceType, obj: JSON, old: JSON | None
    ) -> JSON: ...


@dataclass(frozen=True)
class PluginConfig:
    """What a plugin factory gets at apiserver start."""

    etcd: Any  # the apiserver's apiserver.store.Store (its etcd door)
    service_cluster_ip_range: str = "10.96.0.0/12"
    node_port_range: tuple[int, int] = (30000, 32767)
    # DefaultTolerationSeconds (upstream 300 s; the lab's default is short).
    default_not_ready_toleration_seconds: int = 300
    default_unreachable_toleration_seconds: int = 300


class NamespaceLifecycle:
    async def admit(
        self, ctx: AdmissionContext, operation: str, rt: ResourceType, obj: JSON, old: JSON | None
    ) -> JSON:
        if rt.group == "" and rt.resource == "namespaces":
            if operation == "DELETE" and ctx.name in IMMORTAL_NAMESPACES:
                raise errors.Forbidden(
                    message=f'namespaces "{ctx.name}" is forbidden: '
                    "this namespace may not be deleted",
                    name=ctx.name,
                    kind="namespaces",
                )
            return obj
        if operation != "CREATE" or not rt.namespaced or ctx.subresource:
            return obj
        namespace = ctx.namespace
        ns = await ctx.registry.lookup_namespace(namespace)
        if ns is None:
            raise errors.not_found("namespaces", namespace)
        terminating = (ns.get("status") or {}).get("phase") == "Terminating" or (
            ns.get("metadata") or {}
        ).get("deletionTimestamp")
        if terminating and rt.resource != "events":
            raise errors.Forbidden(
                message=f'{rt.qualified_resource} "{ctx.name}" is forbidden: unable to create '
                f"new content in namespace {namespace} because it is being terminated",
                name=ctx.name,
                group=rt.group,
                kind=rt.resource,
            )
        return obj


class Validation:
    """Defaults and validation from apimachinery (strict decoding, 400/422)."""

    async def admit(
        self, ctx: AdmissionContext, operation: str, rt: ResourceType, obj: JSON, old: JSON | None
    ) -> JSON:
        if operation not in ("CREATE", "UPDATE") or ctx.subresource not in ("", "status"):
            return obj
        admitted, warnings = validation.admit(
            rt,
            obj,
            operation=operation,  # type: ignore[arg-type]
            old=old,
            subresource=ctx.subresource,
            field_validation=ctx.field_validation or "Strict",
        )
        ctx.warnings.extend(warnings)
        return admitted


@dataclass(frozen=True)
class DefaultTolerationSeconds:
    """Upstream's DefaultTolerationSeconds: a new pod that does not tolerate the
    not-ready and unreachable NoExecute taints gets tolerations for them, so a
    node that goes away has its pods evicted after that many seconds."""

    not_ready_s: int
    unreachable_s: int

    async def admit(
        self, ctx: AdmissionContext, operation: str, rt: ResourceType, obj: JSON, old: JSON | None
    ) -> JSON:
        if operation != "CREATE" or ctx.subresource or (rt.group, rt.resource) != ("", "pods"):
            return obj
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec["tolerations"] = with_default_tolerations(
                spec.get("tolerations") or [], self.not_ready_s, self.unreachable_s
            )
        return obj


PluginFactory = Callable[[PluginConfig], AdmissionPlugin]


def _rbac_escalation(config: PluginConfig) -> AdmissionPlugin:
    # Imported here: the plugin reads RBAC from the registry, which imports us.
    from apiserver import rbac_admission

    return rbac_admission.plugin(config)


# The plugins, in order. One line per plugin.
PLUGINS: list[PluginFactory] = [
    lambda config: NamespaceLifecycle(),
    lambda config: DefaultTolerationSeconds(
        config.default_not_ready_toleration_seconds, config.default_unreachable_toleration_seconds
    ),
    lambda config: Validation(),
    service_alloc.plugin,  # ClusterIPs and NodePorts of Services
    _rbac_escalation,  # nobody grants through RBAC what they do not hold
]


def build_plugins(config: PluginConfig) -> list[AdmissionPlugin]:
    return [factory(config) for factory in PLUGINS]
