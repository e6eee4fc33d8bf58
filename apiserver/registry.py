"""The registry: Kubernetes' storage semantics for every resource.

One `Registry` per apiserver process serves both the gRPC API (components)
and the REST API (kubectl). It turns API verbs into Store operations with
upstream's rules:

- create: name from `generateName` (5 random characters, retried on a
  collision), uid, creationTimestamp, generation; AlreadyExists is decided by
  etcd's create-only transaction, never by a read first;
- update: the resourceVersion the client sent is a precondition (409 Conflict
  when the object moved on); an empty one means "whatever is stored now";
  the status subresource changes only the status and the main resource
  never does; generation moves when the spec changes; a no-op writes nothing;
- delete: preconditions, dry run, finalizers and deletionTimestamp, the
  propagation policy as the finalizers the garbage collector acts on, pods'
  graceful deletion, namespaces' Terminating phase;
- subresources: status, scale (autoscaling/v1 Scale), pods/binding,
  pods/eviction, namespaces/finalize;
- reads: from etcd (resourceVersion "") or from the watch cache ("0"), label
  and field selectors, limit/continue; watches from the watch cache.

Errors are `apimachinery.errors` exceptions, with upstream's wording.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import datetime
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from typing import Any

import prometheus_client

from apimachinery import errors, scheme, selectors
from apimachinery import patch as patching
from apimachinery.scheme import ResourceType
from apiserver.admission import AdmissionContext, AdmissionPlugin
from apiserver.store import Compacted, KeyValue, Store
from apiserver.watchcache import Delivery, Filter, WatchCache, decode

log = logging.getLogger("apiserver")

JSON = dict[str, Any]
Warnings = list[str]
Items = list[JSON]

MAX_OBJECT_BYTES = 3 * 1024 * 1024
DEFAULT_POD_GRACE_S = 30
WRITE_RETRIES = 16
GENERATE_NAME_RETRIES = 8
APPLY_PATCH = "application/apply-patch+yaml"

# Resources where an update of a missing object creates it (as upstream's
# AllowCreateOnUpdate).
CREATE_ON_UPDATE = {("", "endpoints"), ("", "events"), ("coordination.k8s.io", "leases")}
SERVER_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)

REQUESTS = prometheus_client.Counter(
    "apiserver_request_total",
    "API requests by verb, resource and code",
    ["verb", "resource", "code"],
)
LATENCY = prometheus_client.Histogram(
    "apiserver_request_duration_seconds",
    "API request latency by verb and resource",
    ["verb", "resource"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def now_rfc3339(offset_s: float = 0) -> str:
    t = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(base: str) -> str:
    """`base` + 5 characters, as upstream (`web-` -> `web-x7k2p`)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    base = base[: 63 - 5]
    return base + "".join(random.choices(alphabet, k=5))


def _status_success(code: int = 201) -> JSON:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


def encode(obj: JSON) -> bytes:
    """The object as stored in etcd: without its resourceVersion."""
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta or "selfLink" in meta:
        meta = {k: v for k, v in meta.items() if k not in ("resourceVersion", "selfLink")}
        obj = {**obj, "metadata": meta}
    return json.dumps(obj, separators=(",", ":")).encode()


def _without_rv(obj: JSON) -> JSON:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


def _without_managed_fields(obj: JSON) -> JSON:
    meta = obj.get("metadata") or {}
    if "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _parse_rv(value: str, what: str = "resourceVersion") -> int:
    try:
        rv = int(value)
    except ValueError:
        raise errors.BadRequest(message=f'invalid {what}: "{value}"') from None
    if rv < 0:
        raise errors.BadRequest(message=f'invalid {what}: "{value}"')
    return rv


def encode_continue(revision: int, start_key: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_key})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.BadRequest(
            message="continue key is not valid: incorrect encoded start"
        ) from None


def _gone_continue() -> errors.Gone:
    return errors.Gone(
        message="The provided continue parameter is too old to display a consistent list "
        "result. You can start a new list without the continue parameter, or use the "
        "continue token in this response to retrieve the remainder of the results. "
        "Continuing with the provided token results in an inconsistent list - objects that "
        "were created, modified, or deleted between the time the first chunk was returned "
        "and now may show up in the list."
    )


def qos_class(pod: JSON) -> str:
    """BestEffort, Guaranteed or Burstable, as upstream computes it."""
    containers = [
        *((pod.get("spec") or {}).get("containers") or []),
        *((pod.get("spec") or {}).get("initContainers") or []),
    ]
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        requests = res.get("requests") or {}
        limits = res.get("limits") or {}
        if requests or limits:
            any_set = True
        for r in ("cpu", "memory"):
            limit = limits.get(r)
            if limit is None or str(requests.get(r, limit)) != str(limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def drop_service_type_dependent_fields(old: JSON, new: JSON) -> None:
    """Upstream's dropTypeDependentFields: a Service whose type changes loses
    the fields only the old type needed, unless the client changed them itself
    (so `kubectl edit` of `type: NodePort` to `ClusterIP` just works)."""
    old_spec = old.get("spec") or {}
    spec = new.get("spec") or {}
    old_type = old_spec.get("type", "ClusterIP")
    new_type = spec.get("type", "ClusterIP")
    if old_type == new_type:
        return

    def same(field: str) -> bool:
        return bool(spec.get(field) == old_spec.get(field))

    if old_type != "ExternalName" and new_type == "ExternalName":
        for field in ("clusterIP", "clusterIPs"):
            if same(field):
                spec.pop(field, None)
        if same("ipFamilies"):
            spec.pop("ipFamilies", None)
        if same("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if old_type in NODE_PORT_TYPES and new_type not in NODE_PORT_TYPES:
        old_ports = [p.get("nodePort") for p in old_spec.get("ports") or []]
        new_ports = [p.get("nodePort") for p in spec.get("ports") or []]
        if not any(new_ports) or new_ports == old_ports:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
        for field in ("externalTrafficPolicy", "healthCheckNodePort"):
            if same(field):
                spec.pop(field, None)
    if old_type == "LoadBalancer" and new_type != "LoadBalancer":
        for field in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if same(field):
                spec.pop(field, None)


def _has_status(rt: ResourceType) -> bool:
    return "status" in rt.subresources


class Registry:
    def __init__(
        self,
        store: Store,
        *,
        plugins: list[AdmissionPlugin] | None = None,
        max_object_bytes: int = MAX_OBJECT_BYTES,
    ) -> None:
        self.store = store
        self.plugins: list[AdmissionPlugin] = list(plugins or [])
        self.max_object_bytes = max_object_bytes
        self.caches: dict[tuple[str, str], WatchCache] = {}
        self.shutting_down = False

    # -- life cycle

    def start(self) -> None:
        for rt in scheme.all_resources():
            self.cache(rt)

    def cache(self, rt: ResourceType) -> WatchCache:
        key = (rt.group, rt.resource)
        cache = self.caches.get(key)
        if cache is None:
            cache = WatchCache(self.store, rt)
            self.caches[key] = cache
            cache.start()
        return cache

    def close_watches(self) -> None:
        """End every watch stream and refuse new ones (graceful shutdown: the
        clients resume from their last resourceVersion on another apiserver,
        or on this one once it is back)."""
        self.shutting_down = True
        for cache in self.caches.values():
            cache.close_watchers()

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.caches.values()))

    def synced(self) -> bool:
        return all(c.synced.is_set() for c in self.caches.values())

    async def wait_synced(self, within_s: float) -> None:
        async with asyncio.timeout(within_s):
            await asyncio.gather(*(c.synced.wait() for c in self.caches.values()))

    def compacted(self, revision: int) -> None:
        for c in self.caches.values():
            c.compacted(revision)

    # -- helpers

    @contextmanager
    def _measure(self, verb: str, rt: ResourceType) -> Iterator[None]:
        start = time.perf_counter()
        code = "200"
        try:
            yield
        except errors.APIError as e:
            code = str(e.code)
            raise
        except Exception:
            code = "500"
            raise
        finally:
            REQUESTS.labels(verb, rt.resource, code).inc()
            LATENCY.labels(verb, rt.resource).observe(time.perf_counter() - start)

    def _key(self, rt: ResourceType, namespace: str, name: str) -> str:
        return rt.etcd_key(namespace, name)

    def _namespace(self, rt: ResourceType, namespace: str, obj: JSON | None = None) -> str:
        if not rt.namespaced:
            return ""
        from_obj = ((obj or {}).get("metadata") or {}).get("namespace") or ""
        if namespace and from_obj and namespace != from_obj:
            raise errors.BadRequest(
                message="the namespace of the provided object does not match the namespace "
                "sent on the request"
            )
        return namespace or from_obj or "default"

    def _check_size(self, obj: Any) -> bytes:
        data = json.dumps(obj, separators=(",", ":")).encode()
        if len(data) > self.max_object_bytes:
            raise errors.too_large(self.max_object_bytes)
        return data

    def _check_kind(self, rt: ResourceType, obj: JSON) -> None:
        if not isinstance(obj, dict):
            raise errors.BadRequest(message="the body of the request was not a JSON object")
        api_version = obj.get("apiVersion") or rt.api_version
        kind = obj.get("kind") or rt.kind
        if (api_version, kind) != (rt.api_version, rt.kind):
            raise errors.BadRequest(
                message=f"the API version in the data ({api_version}) does not match the "
                f"expected API version ({rt.api_version})"
                if api_version != rt.api_version
                else f'no kind "{kind}" is registered for the resource {rt.qualified_resource}'
            )
        obj["apiVersion"] = api_version
        obj["kind"] = kind
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise errors.BadRequest(message="metadata must be an object")

    async def _admit(
        self,
        ctx: AdmissionContext,
        operation: str,
        rt: ResourceType,
        obj: JSON,
        old: JSON | None,
    ) -> JSON:
        for plugin in self.plugins:
            obj = await plugin.admit(ctx, operation, rt, obj, old)
        return obj

    def _decode(self, kv: KeyValue) -> JSON:
        return decode(kv, kv.mod_revision)

    async def lookup_namespace(self, name: str) -> JSON | None:
        """The namespace, from the watch cache, else from etcd (just created)."""
        rt = scheme.lookup("", "v1", "namespaces")
        cache = self.cache(rt)
        key = self._key(rt, "", name)
        if cache.synced.is_set():
            obj = cache.get(key)
            if obj is not None:
                return obj
        kv = await self.store.get(key)
        return self._decode(kv) if kv else None

    # -- create

    async def create(
        self,
        rt: ResourceType,
        namespace: str,
        obj: JSON,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str = "",
        field_validation: str = "Strict",
    ) -> tuple[JSON, Warnings]:
        with self._measure("create", rt):
            if subresource:
                return await self._create_subresource(rt, namespace, obj, subresource, dry_run)
            self._check_size(obj)
            obj = copy.deepcopy(obj)
            self._check_kind(rt, obj)
            if field_manager:
                obj = patching.track_update(
                    None, obj, manager=field_manager, api_version=rt.api_version
                )
            meta = obj["metadata"]
            ns = self._namespace(rt, namespace, obj)
            if rt.namespaced:
                meta["namespace"] = ns
            else:
                meta.pop("namespace", None)
            name = str(meta.get("name") or "")
            generated = False
            if not name:
                base = str(meta.get("generateName") or "")
                if not base:
                    raise errors.invalid(
                        rt.kind,
                        "",
                        [
                            errors.Cause(
                                "metadata.name",
                                "Required value: name or generateName is required",
                                "FieldValueRequired",
                            )
                        ],
                        group=rt.group,
                    )
                name = generate_name(base)
                generated = True
                meta["name"] = name
            for k in ("resourceVersion", "selfLink", "deletionTimestamp"):
                meta.pop(k, None)
            meta.pop("deletionGracePeriodSeconds", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if _has_status(rt) and rt.resource not in ("namespaces", "nodes"):
                meta["generation"] = 1
            self._prepare_create(rt, obj)
            ctx = AdmissionContext(
                self,
                namespace=ns,
                name=name,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            obj = await self._admit(ctx, "CREATE", rt, obj, None)
            if dry_run:
                # As upstream, a server dry run still answers 409 for a name in use.
                if not generated and await self.store.get(self._key(rt, ns, name)) is not None:
                    raise errors.already_exists(rt.resource, name, group=rt.group)
                return obj, ctx.warnings
            for _ in range(GENERATE_NAME_RETRIES):
                key = self._key(rt, ns, name)
                data = encode(obj)
                if len(data) > self.max_object_bytes:
                    raise errors.too_large(self.max_object_bytes)
                result = await self.store.create(key, data)
                if result.succeeded:
                    obj["metadata"]["resourceVersion"] = str(result.revision)
                    return obj, ctx.warnings
                if not generated:
                    break
                name = generate_name(str(meta.get("generateName")))
                obj["metadata"]["name"] = name
            raise errors.already_exists(rt.resource, name, group=rt.group)

    def _prepare_create(self, rt: ResourceType, obj: JSON) -> None:
        """Upstream's PrepareForCreate: status is the server's, not the client's."""
        if rt.group == "" and rt.resource == "pods":
            status = obj.get("status") or {}
            obj["status"] = {
                **{k: v for k, v in status.items() if k in ("conditions",)},
                "phase": "Pending",
                "qosClass": qos_class(obj),
            }
        elif rt.group == "" and rt.resource == "namespaces":
            spec = obj.setdefault("spec", {})
            spec.setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif rt.group == "" and rt.resource == "services":
            obj["status"] = {"loadBalancer": {}}
        elif rt.group == "" and rt.resource in ("persistentvolumeclaims", "persistentvolumes"):
            obj["status"] = {"phase": "Pending"}
        elif rt.group in ("apps", "batch", "networking.k8s.io") and _has_status(rt):
            obj["status"] = {}

    async def _create_subresource(
        self, rt: ResourceType, namespace: str, obj: JSON, subresource: str, dry_run: bool
    ) -> tuple[JSON, Warnings]:
        name = str((obj.get("metadata") or {}).get("name") or "")
        ns = self._namespace(rt, namespace, obj)
        if rt.group == "" and rt.resource == "pods" and subresource == "binding":
            target = (obj.get("target") or {}).get("name") or ""
            if not name or not target:
                raise errors.invalid(
                    "Binding",
                    name,
                    [
                        errors.Cause(
                            "target.name" if name else "metadata.name",
                            "Required value",
                            "FieldValueRequired",
                        )
                    ],
                )
            await self._bind(rt, ns, name, str(target), dry_run)
            return _status_success(), []
        if rt.group == "" and rt.resource == "pods" and subresource == "eviction":
            if not name:
                raise errors.invalid(
                    "Eviction",
                    name,
                    [errors.Cause("metadata.name", "Required value", "FieldValueRequired")],
                )
            options = dict(obj.get("deleteOptions") or {})
            if dry_run:
                options["dryRun"] = ["All"]
            await self.delete(rt, ns, name, options)
            return _status_success(), []
        raise errors.MethodNotAllowed(
            message=f"create is not supported on {rt.qualified_resource}/{subresource}"
        )

    async def _bind(
        self, rt: ResourceType, namespace: str, name: str, node: str, dry_run: bool
    ) -> None:
        key = self._key(rt, namespace, name)
        for _ in range(WRITE_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise errors.not_found("pods", name)
            pod = self._decode(kv)
            meta = pod["metadata"]
            spec = pod.setdefault("spec", {})
            if meta.get("deletionTimestamp"):
                raise errors.conflict(
                    "pods/binding",
                    name,
                    why=f"pod {name} is being deleted, cannot be assigned to a host",
                )
            if spec.get("nodeName"):
                raise errors.conflict(
                    "pods/binding",
                    name,
                    why=f'pod {name} is already assigned to node "{spec["nodeName"]}"',
                )
            spec["nodeName"] = node
            status = pod.setdefault("status", {})
            conditions = [
                c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"
            ]
            conditions.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": now_rfc3339(),
                }
            )
            status["conditions"] = conditions
            if dry_run:
                return
            result = await self.store.update(key, encode(pod), kv.mod_revision)
            if result.succeeded:
                return
        raise errors.conflict("pods/binding", name)

    # -- get and list

    async def get(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        resource_version: str = "",
        subresource: str = "",
    ) -> JSON:
        with self._measure("get", rt):
            obj = await self._get(rt, namespace, name, resource_version=resource_version)
            if subresource == "scale":
                return self._to_scale(rt, obj)
            if subresource not in ("", "status"):
                raise errors.MethodNotAllowed(
                    message=f"get is not supported on {rt.qualified_resource}/{subresource}"
                )
            return obj

    async def _get(
        self, rt: ResourceType, namespace: str, name: str, *, resource_version: str = ""
    ) -> JSON:
        ns = self._namespace(rt, namespace)
        key = self._key(rt, ns, name)
        if resource_version:
            rv = _parse_rv(resource_version)
            cache = self.cache(rt)
            if rv:
                await cache.wait_for_revision(rv)
            else:
                await cache.wait_synced(within_s=10)
            cached = cache.get(key)
            if cached is None:
                raise errors.not_found(rt.resource, name, group=rt.group)
            return copy.deepcopy(cached)
        kv = await self.store.get(key)
        if kv is None:
            raise errors.not_found(rt.resource, name, group=rt.group)
        return self._decode(kv)

    async def list(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
    ) -> JSON:
        with self._measure("list", rt):
            ns = namespace if rt.namespaced else ""
            flt = Filter(
                ns,
                selectors.parse_label_selector(label_selector),
                selectors.parse_field_selector(rt, field_selector),
            )
            meta: JSON = {}
            if resource_version == "0" and not continue_token:
                cache = self.cache(rt)
                await cache.wait_synced(within_s=10)
                items, revision = cache.list(flt)
                items = copy.deepcopy(items)
            else:
                items, revision, token = await self._list_etcd(
                    rt, ns, flt, limit=limit, continue_token=continue_token
                )
                if token:
                    meta["continue"] = token
            meta["resourceVersion"] = str(revision)
            for item in items:
                item.setdefault("apiVersion", rt.api_version)
                item.setdefault("kind", rt.kind)
            return {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": meta,
                "items": items,
            }

    async def _list_etcd(
        self, rt: ResourceType, namespace: str, flt: Filter, *, limit: int, continue_token: str
    ) -> tuple[Items, int, str]:
        prefix = rt.etcd_prefix(namespace)
        revision = 0
        start_key = ""
        if continue_token:
            revision, start_key = decode_continue(continue_token)
            if not start_key.startswith(prefix):
                raise errors.BadRequest(message="continue key is not valid: incorrect prefix")
        items: Items = []
        page_size = 0 if limit <= 0 else max(limit, 100 if not flt.everything else limit)
        while True:
            try:
                page, more, rev = await self.store.range(
                    prefix, start_key=start_key, limit=page_size, revision=revision
                )
            except Compacted:
                raise _gone_continue() from None
            if not revision:
                revision = rev
            for i, kv in enumerate(page):
                if len(kv.key) <= len(rt.etcd_prefix()):
                    continue  # the watch cache's fence key
                obj = self._decode(kv)
                if flt.everything or flt.matches(rt, obj):
                    items.append(obj)
                    if limit > 0 and len(items) >= limit:
                        if i + 1 < len(page) or more:
                            return items, revision, encode_continue(revision, kv.key + "\0")
                        return items, revision, ""
            if not more or not page:
                return items, revision, ""
            start_key = page[-1].key + "\0"

    # -- update

    async def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        obj: JSON,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str = "",
        field_validation: str = "Strict",
    ) -> tuple[JSON, Warnings]:
        with self._measure("update", rt):
            self._check_size(obj)
            if subresource == "scale":
                return await self._update_scale(rt, namespace, name, obj, dry_run), []
            allowed = ("", "status", "finalize") if rt.resource == "namespaces" else ("", "status")
            if subresource not in allowed or (subresource == "status" and not _has_status(rt)):
                raise errors.NotFound(
                    message="the server could not find the requested resource",
                    kind=rt.resource,
                )
            obj = copy.deepcopy(obj)
            self._check_kind(rt, obj)
            meta = obj["metadata"]
            if meta.get("name") and name and meta["name"] != name:
                raise errors.BadRequest(
                    message=f"the name of the object ({meta['name']}) does not match the name "
                    f"on the URL ({name})"
                )
            name = name or str(meta.get("name") or "")
            if not name:
                raise errors.BadRequest(message="name is required for an update")
            ns = self._namespace(rt, namespace, obj)
            precondition = str(meta.get("resourceVersion") or "")
            if precondition:
                _parse_rv(precondition)
            return await self._update(
                rt,
                ns,
                name,
                lambda old: self._merge_update(rt, old, obj, subresource),
                precondition=precondition,
                subresource=subresource,
                dry_run=dry_run,
                field_validation=field_validation,
                field_manager=field_manager,
                create_from=obj if not subresource else None,
            )

    async def _update(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        mutate: Any,
        *,
        precondition: str = "",
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "Strict",
        field_manager: str = "",
        create_from: JSON | None = None,
    ) -> tuple[JSON, Warnings]:
        """Read, apply `mutate(old) -> new`, admit, write if unchanged since the read.

        `field_manager` is credited with the fields the update changed
        (managedFields, operation Update)."""
        key = self._key(rt, ns, name)
        for _ in range(WRITE_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                if create_from is not None and (rt.group, rt.resource) in CREATE_ON_UPDATE:
                    fresh = copy.deepcopy(create_from)
                    fresh["metadata"].pop("resourceVersion", None)
                    fresh["metadata"]["name"] = name
                    return await self.create(
                        rt,
                        ns,
                        fresh,
                        dry_run=dry_run,
                        field_validation=field_validation,
                        field_manager=field_manager,
                    )
                raise errors.not_found(rt.resource, name, group=rt.group)
            if precondition and precondition != str(kv.mod_revision):
                raise errors.conflict(rt.resource, name, group=rt.group)
            old = self._decode(kv)
            new = mutate(copy.deepcopy(old))
            ctx = AdmissionContext(
                self,
                namespace=ns,
                name=name,
                subresource=subresource,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            new = await self._admit(ctx, "UPDATE", rt, new, old)
            new_meta = new["metadata"]
            new_meta["resourceVersion"] = str(kv.mod_revision)
            finalizers = new_meta.get("finalizers") or []
            spec_finalizers = (
                (new.get("spec") or {}).get("finalizers") or []
                if rt.resource == "namespaces" and rt.group == ""
                else []
            )
            if (
                new_meta.get("deletionTimestamp")
                and not finalizers
                and not spec_finalizers
                and not new_meta.get("deletionGracePeriodSeconds")
            ):
                # The last finalizer is gone: the object goes away now.
                if dry_run:
                    return new, ctx.warnings
                await self._admit(ctx, "DELETE", rt, new, new)
                result = await self.store.delete(key, kv.mod_revision)
                if result.succeeded:
                    new_meta["resourceVersion"] = str(result.revision)
                    log.info("%s %s deleted (no finalizers left)", rt.kind, _ref(ns, name))
                    return new, ctx.warnings
                if precondition:
                    raise errors.conflict(rt.resource, name, group=rt.group)
                continue
            if _without_managed_fields(new) == _without_managed_fields(old):
                return old, ctx.warnings  # nothing changed: nothing to write
            if field_manager and subresource in ("", "status"):
                new = patching.track_update(
                    old, new, manager=field_manager, api_version=rt.api_version
                )
                new_meta = new["metadata"]
            if dry_run:
                return new, ctx.warnings
            data = encode(new)
            if len(data) > self.max_object_bytes:
                raise errors.too_large(self.max_object_bytes)
            result = await self.store.update(key, data, kv.mod_revision)
            if result.succeeded:
                new_meta["resourceVersion"] = str(result.revision)
                return new, ctx.warnings
            if precondition:
                raise errors.conflict(rt.resource, name, group=rt.group)
        raise errors.conflict(rt.resource, name, group=rt.group)

    def _merge_update(self, rt: ResourceType, old: JSON, obj: JSON, subresource: str) -> JSON:
        """The object to store: what the client may change, from `obj`; the rest
        from `old` (upstream's PrepareForUpdate)."""
        if subresource == "status":
            new = old
            if "status" in obj:
                new["status"] = copy.deepcopy(obj["status"])
            else:
                new.pop("status", None)
            return new
        if subresource == "finalize":
            new = old
            new.setdefault("spec", {})["finalizers"] = list(
                (obj.get("spec") or {}).get("finalizers") or []
            )
            return new
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        old_meta = old.get("metadata") or {}
        for k in SERVER_METADATA:
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        meta["name"] = old_meta.get("name")
        if "managedFields" not in meta and "managedFields" in old_meta:
            meta["managedFields"] = old_meta["managedFields"]
        if "namespace" in old_meta:
            meta["namespace"] = old_meta["namespace"]
        if _has_status(rt):
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if rt.group == "" and rt.resource == "services":
            drop_service_type_dependent_fields(old, new)
        if rt.group == "" and rt.resource == "namespaces":
            new.setdefault("spec", {})["finalizers"] = (old.get("spec") or {}).get("finalizers", [])
            if not new["spec"]["finalizers"] and "finalizers" not in (old.get("spec") or {}):
                new["spec"].pop("finalizers")
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise errors.invalid(
                    rt.kind,
                    str(old_meta.get("name")),
                    [
                        errors.Cause(
                            "metadata.finalizers",
                            "Forbidden: no new finalizers can be added if the object is being "
                            f"deleted, found new finalizers {sorted(added)}",
                            "FieldValueForbidden",
                        )
                    ],
                    group=rt.group,
                )
        if "generation" in old_meta and new.get("spec") != old.get("spec"):
            meta["generation"] = int(old_meta["generation"]) + 1
        return new

    # -- scale

    def _to_scale(self, rt: ResourceType, obj: JSON) -> JSON:
        if "scale" not in rt.subresources:
            raise errors.NotFound(
                message="the server could not find the requested resource", kind=rt.resource
            )
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        selector = ""
        if spec.get("selector") is not None:
            selector = str(selectors.label_selector_from_dict(spec.get("selector")))
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": int(spec.get("replicas", 1))},
            "status": {
                "replicas": int((obj.get("status") or {}).get("replicas") or 0),
                "selector": selector,
            },
        }

    async def _update_scale(
        self, rt: ResourceType, namespace: str, name: str, scale: JSON, dry_run: bool
    ) -> JSON:
        if "scale" not in rt.subresources:
            raise errors.NotFound(
                message="the server could not find the requested resource", kind=rt.resource
            )
        meta = scale.get("metadata") or {}
        name = name or str(meta.get("name") or "")
        ns = self._namespace(rt, namespace, scale)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(
                "Scale",
                name,
                [
                    errors.Cause(
                        "spec.replicas",
                        f"Invalid value: {json.dumps(replicas)}: must be greater than or "
                        "equal to 0",
                    )
                ],
                group="autoscaling",
            )

        def mutate(old: JSON) -> JSON:
            old.setdefault("spec", {})["replicas"] = replicas
            meta_ = old["metadata"]
            if "generation" in meta_:
                meta_["generation"] = int(meta_["generation"]) + 1
            return old

        obj, _ = await self._update(
            rt,
            ns,
            name,
            mutate,
            precondition=str(meta.get("resourceVersion") or ""),
            subresource="scale",
            dry_run=dry_run,
        )
        return self._to_scale(rt, obj)

    # -- patch

    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        patch: bytes,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str = "",
        field_validation: str = "Strict",
        force: bool = False,
    ) -> tuple[JSON, Warnings]:
        if len(patch) > self.max_object_bytes:
            raise errors.too_large(self.max_object_bytes)
        ns = self._namespace(rt, namespace)
        last: errors.APIError | None = None
        for _ in range(5):
            try:
                current = await self.get(rt, ns, name, subresource=subresource)
            except errors.NotFound:
                if patch_type != APPLY_PATCH or subresource:
                    raise
                empty: JSON = {
                    "apiVersion": rt.api_version,
                    "kind": rt.kind,
                    "metadata": {"name": name, **({"namespace": ns} if rt.namespaced else {})},
                }
                created = patching.apply_patch(
                    rt, empty, patch_type, patch, field_manager=field_manager, force=force
                )
                try:
                    return await self.create(
                        rt,
                        ns,
                        created,
                        dry_run=dry_run,
                        field_validation=field_validation,
                    )
                except errors.AlreadyExists as e:
                    last = e
                    continue
            current_rv = str(current.get("metadata", {}).get("resourceVersion", ""))
            patched = patching.apply_patch(
                rt, current, patch_type, patch, field_manager=field_manager, force=force
            )
            patched_meta = patched.setdefault("metadata", {})
            explicit_rv = str(patched_meta.get("resourceVersion") or "")
            if not explicit_rv:
                patched_meta["resourceVersion"] = current_rv
            try:
                return await self.update(
                    rt,
                    ns,
                    name,
                    patched,
                    subresource=subresource,
                    dry_run=dry_run,
                    field_validation=field_validation,
                )  # apply_patch has credited the field manager already
            except errors.Conflict as e:
                if explicit_rv and explicit_rv != current_rv:
                    raise
                last = e
        assert last is not None
        raise last

    # -- delete

    async def delete(
        self, rt: ResourceType, namespace: str, name: str, options: JSON | None = None
    ) -> JSON:
        with self._measure("delete", rt):
            return await self._delete(rt, namespace, name, options or {})

    async def _delete(self, rt: ResourceType, namespace: str, name: str, opts: JSON) -> JSON:
        ns = self._namespace(rt, namespace)
        key = self._key(rt, ns, name)
        policy = opts.get("propagationPolicy")
        if policy not in (None, "", "Orphan", "Background", "Foreground"):
            raise errors.invalid(
                "DeleteOptions",
                "",
                [
                    errors.Cause(
                        "propagationPolicy",
                        f'Unsupported value: "{policy}": supported values: "Foreground", '
                        '"Background", "Orphan", "nil"',
                        "FieldValueNotSupported",
                    )
                ],
            )
        if opts.get("orphanDependents") is True and not policy:
            policy = "Orphan"
        dry_run = bool(opts.get("dryRun"))
        preconditions = opts.get("preconditions") or {}
        ctx = AdmissionContext(self, namespace=ns, name=name, dry_run=dry_run)
        for _ in range(WRITE_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise errors.not_found(rt.resource, name, group=rt.group)
            obj = self._decode(kv)
            meta = obj["metadata"]
            want_uid = preconditions.get("uid")
            if want_uid and want_uid != meta.get("uid"):
                raise errors.conflict(
                    rt.resource,
                    name,
                    group=rt.group,
                    why=f"Precondition failed: UID in precondition: {want_uid}, "
                    f"UID in object meta: {meta.get('uid')}",
                )
            want_rv = preconditions.get("resourceVersion")
            if want_rv and str(want_rv) != meta.get("resourceVersion"):
                raise errors.conflict(
                    rt.resource,
                    name,
                    group=rt.group,
                    why=f"Precondition failed: ResourceVersion in precondition: {want_rv}, "
                    f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                )
            new = self._deletion_update(rt, obj, opts, policy)
            if new is None or rt.resource == "namespaces":
                # DELETE admission when the object goes away (allocations are
                # released then), and for namespaces (some may not be deleted).
                await self._admit(ctx, "DELETE", rt, obj, obj)
            if dry_run:
                return obj
            if new is None:
                result = await self.store.delete(key, kv.mod_revision)
                if result.succeeded:
                    meta["resourceVersion"] = str(result.revision)
                    log.info("%s %s deleted", rt.kind, _ref(ns, name))
                    return obj
                continue
            if new == obj:
                return obj
            result = await self.store.update(key, encode(new), kv.mod_revision)
            if result.succeeded:
                new["metadata"]["resourceVersion"] = str(result.revision)
                return new
        raise errors.conflict(rt.resource, name, group=rt.group)

    def _deletion_update(
        self, rt: ResourceType, obj: JSON, opts: JSON, policy: str | None
    ) -> JSON | None:
        """The object marked for deletion, or None when it goes away now."""
        new = copy.deepcopy(obj)
        meta = new["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if rt.group == "" and rt.resource == "namespaces":
            spec_finalizers = (new.get("spec") or {}).get("finalizers") or []
            if meta.get("deletionTimestamp"):
                return None if not spec_finalizers and not finalizers else new
            meta["deletionTimestamp"] = now_rfc3339()
            meta["deletionGracePeriodSeconds"] = 0
            new.setdefault("status", {})["phase"] = "Terminating"
            if "kubernetes" not in spec_finalizers:
                new.setdefault("spec", {})["finalizers"] = [*spec_finalizers, "kubernetes"]
            return new
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        elif policy == "Background":
            finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
        grace = 0
        if rt.group == "" and rt.resource == "pods":
            spec = new.get("spec") or {}
            phase = (new.get("status") or {}).get("phase")
            requested = opts.get("gracePeriodSeconds")
            if requested is None:
                requested = spec.get("terminationGracePeriodSeconds", DEFAULT_POD_GRACE_S)
            grace = max(0, int(requested))
            if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
                grace = 0
        if meta.get("deletionTimestamp"):
            current = meta.get("deletionGracePeriodSeconds")
            if current is not None and grace < int(current):
                meta["deletionGracePeriodSeconds"] = grace
                meta["deletionTimestamp"] = now_rfc3339(grace)
            if finalizers:
                meta["finalizers"] = finalizers
            if not finalizers and not meta.get("deletionGracePeriodSeconds"):
                return None
            return new
        if not finalizers and grace == 0:
            return None
        meta["deletionTimestamp"] = now_rfc3339(grace)
        meta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            meta["finalizers"] = finalizers
        if "generation" in meta:
            meta["generation"] = int(meta["generation"]) + 1
        return new

    async def delete_collection(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        options: JSON | None = None,
    ) -> JSON:
        listed = await self.list(
            rt, namespace, label_selector=label_selector, field_selector=field_selector
        )
        deleted: Items = []
        for item in listed["items"]:
            meta = item.get("metadata") or {}
            try:
                deleted.append(
                    await self.delete(rt, str(meta.get("namespace") or ""), meta["name"], options)
                )
            except errors.NotFound:
                continue
        return {**listed, "items": deleted}

    # -- watch

    async def watch(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        allow_bookmarks: bool = False,
    ) -> AsyncGenerator[tuple[str, JSON], None]:
        """(type, object) events; objects are the caller's to change."""
        events = self.watch_events(
            rt,
            namespace,
            resource_version=resource_version,
            label_selector=label_selector,
            field_selector=field_selector,
            allow_bookmarks=allow_bookmarks,
        )
        # aclosing: a consumer that stops early unregisters the watcher at once.
        async with contextlib.aclosing(events):
            async for etype, obj, _ in events:
                yield etype, copy.deepcopy(obj)

    async def watch_events(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        allow_bookmarks: bool = False,
    ) -> AsyncGenerator[Delivery, None]:
        """Events as the watch cache delivers them, shared between watchers
        (never change them): (type, object, cache event with its encoded JSON
        or None)."""
        if self.shutting_down:
            raise errors.ServiceUnavailable(
                message="the apiserver is shutting down", retry_after_seconds=1
            )
        REQUESTS.labels("watch", rt.resource, "200").inc()
        flt = Filter(
            namespace if rt.namespaced else "",
            selectors.parse_label_selector(label_selector),
            selectors.parse_field_selector(rt, field_selector),
        )
        rv = None if resource_version in ("", "0") else _parse_rv(resource_version)
        deliveries = self.cache(rt).watch(flt, rv, bookmarks=allow_bookmarks)
        async with contextlib.aclosing(deliveries):
            async for item in deliveries:
                yield item

    # -- bootstrap

    async def bootstrap(
        self, *, kubernetes_service_ip: str, advertise_address: str, secure_port: int = 6443
    ) -> None:
        """The namespaces and the `kubernetes` Service every cluster has."""
        namespaces = scheme.lookup("", "v1", "namespaces")
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            try:
                await self.create(
                    namespaces,
                    "",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                )
                log.info("created namespace %s", name)
            except errors.AlreadyExists:
                pass
        services = scheme.lookup("", "v1", "services")
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": kubernetes_service_ip,
                "clusterIPs": [kubernetes_service_ip],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ports": [
                    {"name": "https", "port": 443, "protocol": "TCP", "targetPort": secure_port}
                ],
            },
        }
        try:
            await self.create(services, "default", service)
            log.info("created service default/kubernetes (%s)", kubernetes_service_ip)
        except errors.AlreadyExists:
            pass
        endpoints = scheme.lookup("", "v1", "endpoints")
        subsets = [
            {
                "addresses": [{"ip": advertise_address}],
                "ports": [{"name": "https", "port": secure_port, "protocol": "TCP"}],
            }
        ]
        try:
            current = await self.get(endpoints, "default", "kubernetes")
            if current.get("subsets") != subsets:
                current["subsets"] = subsets
                await self.update(endpoints, "default", "kubernetes", current)
        except errors.NotFound:
            await self.create(
                endpoints,
                "default",
                {
                    "apiVersion": "v1",
                    "kind": "Endpoints",
                    "metadata": {
                        "name": "kubernetes",
                        "namespace": "default",
                        "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
                    },
                    "subsets": subsets,
                },
            )
        await self._bootstrap_endpoint_slice(advertise_address, secure_port)
        log.info("endpoints default/kubernetes -> %s:%d", advertise_address, secure_port)

    async def _bootstrap_endpoint_slice(self, address: str, port: int) -> None:
        try:
            slices = scheme.lookup("discovery.k8s.io", "v1", "endpointslices")
        except errors.NotFound:
            return
        desired = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kubernetes"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }
        try:
            current = await self.get(slices, "default", "kubernetes")
        except errors.NotFound:
            await self.create(slices, "default", desired)
            return
        if (current.get("endpoints"), current.get("ports")) != (
            desired["endpoints"],
            desired["ports"],
        ):
            current["endpoints"] = desired["endpoints"]
            current["ports"] = desired["ports"]
            await self.update(slices, "default", "kubernetes", current)

    async def expire_events(self, ttl_s: float) -> int:
        """Delete Events older than `ttl_s` (upstream's --event-ttl, 1 h): the
        number deleted."""
        events = scheme.lookup("", "v1", "events")
        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=ttl_s)
        expired = 0
        listed = await self.list(events, "", resource_version="0")
        for ev in listed["items"]:
            meta = ev.get("metadata") or {}
            stamp = (
                ev.get("lastTimestamp")
                or (ev.get("series") or {}).get("lastObservedTime")
                or ev.get("eventTime")
                or meta.get("creationTimestamp")
            )
            try:
                when = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            except ValueError:
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=datetime.UTC)
            if when >= cutoff:
                continue
            try:
                await self.delete(events, str(meta.get("namespace") or ""), str(meta["name"]))
                expired += 1
            except errors.NotFound:
                pass
        return expired


def _ref(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name
