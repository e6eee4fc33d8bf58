"""The Kubernetes REST API (HTTPS 6443): what kubectl and every Kubernetes
client speak, served over the same Registry as the gRPC API.

One handler takes every request: it authenticates the caller, parses the path
the way upstream's RequestInfoFactory does (`/api/v1/namespaces/<ns>/<resource>
/<name>/<subresource>`, `/apis/<group>/<version>/...`), authorizes the verb,
and calls the Registry. Errors leave as `Status` objects with their HTTP code;
`Accept: application/json;as=Table;g=meta.k8s.io;v=v1` gets a Table from
`apimachinery.printers`; `?watch=1` streams WatchEvent JSON lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import prometheus_client
import yaml
from aiohttp import web
from multidict import CIMultiDict

from apimachinery import errors, printers, scheme
from apimachinery import patch as patches
from apimachinery.scheme import ResourceType
from apiserver import auth, rbac
from apiserver.rest import discovery, openapi_handlers, protobuf, proxy, streams
from apiserver.rest.types import RegistryLike

log = logging.getLogger("apiserver")

JSON = dict[str, Any]
MAX_BODY_BYTES = 3 * 1024 * 1024  # upstream's request body limit
_PUBLIC = {"/healthz", "/livez", "/readyz", "/version"}


@dataclass
class RestContext:
    registry: RegistryLike
    authenticator: auth.Authenticator
    authorizer: auth.Authorizer
    server_address: str
    kubelet_port: int = 10250


CONTEXT_KEY = web.AppKey("context", RestContext)


@dataclass
class RequestInfo:
    """A resource request, parsed from its path and method."""

    verb: str
    group: str
    version: str
    resource: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    subpath: str = ""


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_response(obj: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    for warning in warnings or []:
        # One header per warning, as upstream; kubectl prints each as "Warning: ...".
        text = warning.replace("\\", "\\\\").replace('"', '\\"')
        headers.add("Warning", f'299 - "{text}"')
    return web.Response(
        body=_dumps(obj), status=status, content_type="application/json", headers=headers
    )


def status_response(err: errors.APIError) -> web.Response:
    headers = {}
    if err.retry_after_seconds:
        headers["Retry-After"] = str(err.retry_after_seconds)
    return web.Response(
        body=err.to_json().encode(),
        status=err.code,
        content_type="application/json",
        headers=headers,
    )


def success_status(details: JSON) -> JSON:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


# --- parsing -----------------------------------------------------------------------


def parse_path(method: str, path: str, query: Any) -> RequestInfo | None:
    """The resource request at `path`, or None for a non-resource path."""
    parts = [p for p in path.strip("/").split("/") if p != ""]
    if not parts or parts[0] not in ("api", "apis"):
        return None
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    watch = _truthy(query.get("watch", ""))
    if rest[0] == "watch":
        watch = True
        rest = rest[1:]
        if not rest:
            return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 2:
        if len(rest) == 2 or (len(rest) == 3 and rest[2] in ("status", "finalize")):
            info = RequestInfo("", group, version, "namespaces", name=rest[1])
            if len(rest) == 3:
                info.subresource = rest[2]
            info.verb = _verb(method, info, watch)
            return info
        namespace, rest = rest[1], rest[2:]
    info = RequestInfo("", group, version, rest[0], namespace=namespace)
    if len(rest) > 1:
        info.name = rest[1]
    if len(rest) > 2:
        info.subresource = rest[2]
    if len(rest) > 3:
        info.subpath = "/".join(rest[3:])
    info.verb = _verb(method, info, watch)
    return info


def _verb(method: str, info: RequestInfo, watch: bool) -> str:
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if info.name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if info.name else "deletecollection"
    return method.lower()


def _truthy(value: str) -> bool:
    return value.lower() in ("1", "true", "yes")


def _dry_run(query: Any) -> bool:
    values = query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise errors.BadRequest(message=f'unsupported dry run value "{v}"')
    return bool(values)


def _int_param(query: Any, name: str) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.BadRequest(message=f'invalid value for {name}: "{raw}"') from None


def _field_manager(request: web.Request) -> str:
    manager = request.query.get("fieldManager", "")
    if manager:
        if len(manager) > 128:
            raise errors.BadRequest(
                message="fieldManager: Too long: may not be more than 128 bytes"
            )
        return manager
    agent = request.headers.get("User-Agent", "")
    return agent.split("/", 1)[0][:128] if agent else "unknown"


def _field_validation(query: Any) -> str:
    value = query.get("fieldValidation", "") or "Strict"
    if value not in ("Ignore", "Warn", "Strict"):
        raise errors.BadRequest(
            message=f'fieldValidation parameter unsupported: "{value}"; '
            "expected one of Ignore, Warn, Strict"
        )
    return value


async def read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise errors.too_large(MAX_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.too_large(MAX_BODY_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_object(request: web.Request, body: bytes) -> JSON:
    ctype = request.content_type.lower()
    if ctype == "application/vnd.kubernetes.protobuf":
        return protobuf.decode(body)
    if "protobuf" in ctype or "cbor" in ctype:
        raise errors.UnsupportedMediaType(
            message=f"the body of the request was in an unknown format - accepted media types "
            f'include: application/json, application/yaml (got "{ctype}")'
        )
    try:
        obj = yaml.safe_load(body) if "yaml" in ctype else json.loads(body or b"null")
    except (ValueError, yaml.YAMLError) as e:
        raise errors.BadRequest(message=f"error decoding request body: {e}") from None
    if not isinstance(obj, dict):
        raise errors.BadRequest(
            message="the object provided is unrecognized (must be of type object)"
        )
    return obj


# --- Accept negotiation ---------------------------------------------------------------


def _accept_as(request: web.Request) -> str:
    """ "Table", "PartialObjectMetadata", "PartialObjectMetadataList" or "" (plain JSON)."""
    accept = request.headers.get("Accept", "")
    for media in accept.split(","):
        params = {}
        pieces = [p.strip() for p in media.split(";")]
        for p in pieces[1:]:
            k, _, v = p.partition("=")
            params[k.strip()] = v.strip()
        if pieces[0] not in ("application/json", "*/*", "application/*"):
            continue
        if params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            if params.get("as") in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
                return params["as"]
        elif "as" not in params:
            return ""
    return ""


def _as_table(rt: ResourceType, objects: list[JSON], request: web.Request, meta: JSON) -> JSON:
    include = request.query.get("includeObject", "Metadata")
    return printers.table(
        rt.group, rt.resource, objects, list_metadata=meta, include_object=include
    )


def _list_metadata(lst: JSON) -> JSON:
    meta = lst.get("metadata") or {}
    return {
        k: v for k, v in meta.items() if k in ("resourceVersion", "continue", "remainingItemCount")
    }


# --- the handler ------------------------------------------------------------------


def _authenticate(request: web.Request, ctx: RestContext) -> auth.User | None:
    peercert = None
    transport = request.transport
    if transport is not None:
        ssl_obj = transport.get_extra_info("ssl_object")
        if isinstance(ssl_obj, ssl.SSLObject):
            peercert = ssl_obj.getpeercert()
    return ctx.authenticator.authenticate(request.headers.get("Authorization", ""), peercert)


async def handle(request: web.Request) -> web.StreamResponse:
    ctx: RestContext = request.app[CONTEXT_KEY]
    started = time.monotonic()
    try:
        response = await _handle(request, ctx)
    except errors.APIError as e:
        response = status_response(e)
    except web.HTTPException:
        raise
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as e:
        log.exception("internal error serving %s %s", request.method, request.path)
        response = status_response(errors.InternalError(message=f"internal error: {e}"))
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s -> %s in %.1f ms",
            request.method,
            request.path_qs,
            response.status,
            (time.monotonic() - started) * 1000,
        )
    return response


def _non_resource_verb(method: str) -> str:
    """The verb of a non-resource request: the HTTP method, GET and HEAD as `get`."""
    return "get" if method in ("GET", "HEAD") else method.lower()


async def _forbid_unless_allowed(ctx: RestContext, user: auth.User, attrs: auth.Attributes) -> None:
    """403 with upstream's message unless the authorizer allows `attrs`."""
    allowed, reason = await ctx.authorizer.authorize(user, attrs)
    if allowed:
        return
    if not attrs.is_resource:
        raise errors.Forbidden(message=auth.forbidden_message(user, attrs, reason))
    raise errors.Forbidden(
        message=auth.forbidden_message(user, attrs, reason),
        name=attrs.name,
        group=attrs.group,
        kind=attrs.resource,
    )


async def _handle(request: web.Request, ctx: RestContext) -> web.StreamResponse:
    path = request.path
    user = _authenticate(request, ctx)
    if user is None:
        # Anonymous requests: the public paths RBAC grants system:unauthenticated
        # (system:public-info-viewer), 401 for everything else.
        if path in _PUBLIC and request.method == "GET":
            attrs = auth.Attributes(verb="get", path=path)
            allowed, _ = await ctx.authorizer.authorize(auth.ANONYMOUS_USER, attrs)
            if allowed:
                return await _non_resource(request, ctx, path)
        raise errors.Unauthorized(message="Unauthorized")
    if request.headers.get("Impersonate-User") or request.headers.get("Impersonate-Group"):
        for wanted in auth.impersonation_requests(request.headers):
            await _forbid_unless_allowed(ctx, user, wanted)
        user = auth.impersonate(user, request.headers)
    auth.REQUEST_USER.set(user)

    info = parse_path(request.method, path, request.query)
    if info is None:
        attrs = auth.Attributes(verb=_non_resource_verb(request.method), path=path)
        await _forbid_unless_allowed(ctx, user, attrs)
        return await _non_resource(request, ctx, path)

    attrs = auth.Attributes(
        verb=info.verb,
        resource=info.resource,
        subresource=info.subresource,
        group=info.group,
        namespace=info.namespace,
        name=info.name,
    )
    await _forbid_unless_allowed(ctx, user, attrs)
    rt = scheme.lookup(info.group, info.version, info.resource)
    if info.subresource and info.subresource not in rt.subresources:
        raise errors.NotFound(message="the server could not find the requested resource")
    if rt.namespaced is False and info.namespace:
        raise errors.NotFound(message="the server could not find the requested resource")
    if rt.kind in ("SelfSubjectAccessReview", "SelfSubjectRulesReview", "SelfSubjectReview"):
        return await _self_review(request, ctx, rt, user)
    return await _resource(request, ctx, info, rt)


async def _non_resource(request: web.Request, ctx: RestContext, path: str) -> web.StreamResponse:
    if request.method not in {"GET", "HEAD"}:
        raise errors.MethodNotAllowed(message=f"the server does not allow this method on {path}")
    trimmed = path.rstrip("/") or "/"
    if trimmed == "/":
        return json_response(discovery.root_paths())
    if trimmed == "/version":
        return json_response(discovery.VERSION)
    if trimmed in ("/healthz", "/livez", "/readyz"):
        return web.Response(text="ok")
    if trimmed == "/metrics":
        return web.Response(
            body=prometheus_client.generate_latest(),
            headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST},
        )
    if trimmed == "/api":
        return json_response(discovery.api_versions(ctx.server_address))
    if trimmed == "/apis":
        return json_response(discovery.api_group_list())
    parts = trimmed.strip("/").split("/")
    if parts[0] == "api" and len(parts) == 2:
        doc = discovery.resource_list("", parts[1])
        if doc is not None:
            return json_response(doc)
    if parts[0] == "apis" and len(parts) == 2:
        group = discovery.api_group(parts[1])
        if group is not None:
            return json_response(group)
    if parts[0] == "apis" and len(parts) == 3:
        doc = discovery.resource_list(parts[1], parts[2])
        if doc is not None:
            return json_response(doc)
    if parts[0] == "openapi":
        return await openapi_handlers.serve(request, parts[1:])
    raise errors.NotFound(message="the server could not find the requested resource")


async def _self_review(
    request: web.Request, ctx: RestContext, rt: ResourceType, user: auth.User
) -> web.Response:
    """SelfSubjectReview (who am I), SelfSubjectAccessReview (may I) and
    SelfSubjectRulesReview (what may I do in a namespace), answered by the same
    authorizer that guards every request."""
    if request.method != "POST":
        raise errors.MethodNotAllowed(message=f"{rt.resource} only support create")
    body = decode_object(request, await read_body(request))
    body.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    if rt.kind == "SelfSubjectReview":
        body["status"] = {"userInfo": user.to_user_info()}
        return json_response(body, status=201)
    if rt.kind == "SelfSubjectRulesReview":
        return json_response(await _rules_review(ctx, user, body), status=201)
    spec = body.get("spec") or {}
    ra = spec.get("resourceAttributes")
    nra = spec.get("nonResourceAttributes")
    if ra:
        attrs = auth.Attributes(
            verb=str(ra.get("verb", "")),
            resource=str(ra.get("resource", "")),
            subresource=str(ra.get("subresource", "")),
            group=str(ra.get("group", "")),
            namespace=str(ra.get("namespace", "")),
            name=str(ra.get("name", "")),
        )
    elif nra:
        attrs = auth.Attributes(verb=str(nra.get("verb", "")), path=str(nra.get("path", "")))
    else:
        raise errors.invalid(
            "SelfSubjectAccessReview",
            "",
            [
                errors.Cause(
                    field="spec.resourceAttributes",
                    message="Required value: exactly one of nonResourceAttributes or "
                    "resourceAttributes must be specified",
                    reason="FieldValueRequired",
                )
            ],
            group="authorization.k8s.io",
        )
    allowed, reason = await ctx.authorizer.authorize(user, attrs)
    body["status"] = {"allowed": allowed}
    if reason:
        body["status"]["reason"] = reason
    if not allowed:
        body["status"]["denied"] = False
    return json_response(body, status=201)


async def _rules_review(ctx: RestContext, user: auth.User, body: JSON) -> JSON:
    """The rules RBAC gives the user in spec.namespace (`kubectl auth can-i --list`),
    split as upstream into resource and non-resource rules."""
    namespace = str((body.get("spec") or {}).get("namespace") or "")
    if not namespace:
        raise errors.BadRequest(message="no namespace on request")
    rules, problems = await ctx.authorizer.rules_for(user, namespace)
    resource_rules: list[JSON] = []
    non_resource_rules: list[JSON] = []
    for rule in rules:
        if rule.get("resources"):
            resource_rules.append(
                {k: list(rule.get(k) or []) for k in ("verbs", "apiGroups", "resources")}
                | (
                    {"resourceNames": list(rule["resourceNames"])}
                    if rule.get("resourceNames")
                    else {}
                )
            )
        if rule.get("nonResourceURLs"):
            non_resource_rules.append(
                {
                    "verbs": list(rule.get("verbs") or []),
                    "nonResourceURLs": list(rule["nonResourceURLs"]),
                }
            )
    status: JSON = {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": False,
    }
    if problems:
        status["evaluationError"] = rbac.aggregate(problems)
    return {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {},
        "status": status,
    }


async def _resource(
    request: web.Request, ctx: RestContext, info: RequestInfo, rt: ResourceType
) -> web.StreamResponse:
    verb = info.verb
    if info.subresource in ("log", "exec", "attach", "portforward"):
        return await streams.serve(
            request,
            ctx.registry,
            rt=rt,
            namespace=info.namespace,
            name=info.name,
            subresource=info.subresource,
            kubelet_port=ctx.kubelet_port,
        )
    if info.subresource == "proxy":
        return await proxy.serve(
            request,
            ctx.registry,
            rt=rt,
            namespace=info.namespace,
            name=info.name,
            subpath=info.subpath,
        )
    if not info.subresource and verb not in rt.verbs:
        raise errors.MethodNotAllowed(
            message="the server does not allow this method on the requested resource"
        )
    handler = _VERBS.get(verb)
    if handler is None:
        raise errors.MethodNotAllowed(
            message="the server does not allow this method on the requested resource"
        )
    return await handler(request, ctx.registry, info, rt)


async def _get(
    request: web.Request, registry: RegistryLike, info: RequestInfo, rt: ResourceType
) -> web.StreamResponse:
    obj = await registry.get(
        rt,
        info.namespace,
        info.name,
        resource_version=request.query.get("resourceVersion", ""),
        subresource=info.subresource,
    )
    as_ = _accept_as(request)
    if as_ == "Table" and not info.subresource:
        rv = (obj.get("metadata") or {}).get("resourceVersion", "")
        return json_response(_as_table(rt, [obj], request, {"resourceVersion": rv}))
    if as_ == "PartialObjectMetadata":
        return json_response(printers.partial_metadata(obj))
    return json_response(obj)


async def _list(
    request: web.Request, registry: RegistryLike, info: RequestInfo, rt: ResourceType
) -> web.StreamResponse:
    q = request.query
    lst = await registry.list(
        rt,
        info.namespace,
        label_selector=q.get("labelSelector", ""),
        field_selector=q.get("fieldSelector", ""),
        limit=_int_param(q, "limit") or 0,
        continue_token=q.get("continue", ""),
        resource_version=q.get("resourceVersion", ""),
    )
    as_ = _accept_as(request)
    items = lst.get("items") or []
    if as_ == "Table":
        return json_response(_as_table(rt, items, request, _list_metadata(lst)))
    if as_ in ("PartialObjectMetadataList", "PartialObjectMetadata"):
        return json_response(
            {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": _list_metadata(lst),
                "items": [printers.partial_metadata(i) for i in items],
            }
        )
    return json_response(lst)


async def _watch(
    request: web.Request, registry: RegistryLike, info: RequestInfo, rt: ResourceType
) -> web.StreamResponse:
    q = request.query
    field_selector = q.get("fieldSelector", "")
    if info.name:
        by_name = f"metadata.name={info.name}"
        field_selector = f"{field_selector},{by_name}" if field_selector else by_name
    timeout = _int_param(q, "timeoutSeconds")
    as_ = _accept_as(request)
    stream = registry.watch(
        rt,
        info.namespace,
        resource_version=q.get("resourceVersion", ""),
        label_selector=q.get("labelSelector", ""),
        field_selector=field_selector,
        allow_bookmarks=_truthy(q.get("allowWatchBookmarks", "")),
    )
    iterator = stream.__aiter__()
    pending: asyncio.Future[tuple[str, JSON]] = asyncio.ensure_future(iterator.__anext__())
    try:
        # A watch that fails at once (bad selector, unknown namespace...) gets a
        # plain Status; later failures arrive as an ERROR event, as upstream.
        await asyncio.wait({pending}, timeout=0.1)
        if pending.done() and isinstance(pending.exception(), errors.APIError):
            exc = pending.exception()
            assert isinstance(exc, errors.APIError)
            return status_response(exc)
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        headers_sent = False

        def encode(type_: str, obj: JSON) -> bytes:
            nonlocal headers_sent
            if as_ == "Table" and type_ not in ("ERROR", "BOOKMARK"):
                meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
                obj = printers.table(
                    rt.group,
                    rt.resource,
                    [obj],
                    list_metadata=meta,
                    include_object=q.get("includeObject", "Metadata"),
                    no_headers=headers_sent,
                )
                headers_sent = True
            return _dumps({"type": type_, "object": obj}) + b"\n"

        deadline = time.monotonic() + timeout if timeout else None
        try:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                done, _ = await asyncio.wait({pending}, timeout=remaining)
                if not done:
                    break
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    break
                await response.write(encode(*event))
                pending = asyncio.ensure_future(iterator.__anext__())
        except errors.APIError as e:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await response.write(_dumps({"type": "ERROR", "object": e.to_status()}) + b"\n")
        except (ConnectionError, RuntimeError):
            return response
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response
    finally:
        if not pending.done():
            pending.cancel()
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


def _check_identity(obj: JSON, info: RequestInfo, rt: ResourceType, *, need_name: bool) -> None:
    """Fill in/verify apiVersion, kind, namespace and name against the URL."""
    if info.subresource in ("binding", "eviction", "scale"):
        meta = obj.setdefault("metadata", {})
        if rt.namespaced and not meta.get("namespace"):
            meta["namespace"] = info.namespace
        return
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if (kind and kind != rt.kind) or (api_version and api_version != rt.api_version):
        raise errors.BadRequest(
            message=f"the API version in the data ({api_version}) does not match the expected "
            f"API version ({rt.api_version})"
            if api_version != rt.api_version
            else f'the kind in the data ("{kind}") does not match the expected kind ({rt.kind})'
        )
    obj["apiVersion"] = rt.api_version
    obj["kind"] = rt.kind
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise errors.BadRequest(message="metadata must be an object")
    if rt.namespaced:
        ns = meta.get("namespace")
        if ns and info.namespace and ns != info.namespace:
            raise errors.BadRequest(
                message="the namespace of the provided object does not match the namespace "
                "sent on the request"
            )
        if info.namespace:
            meta["namespace"] = info.namespace
    else:
        meta.pop("namespace", None)
    if need_name and meta.get("name") != info.name:
        raise errors.BadRequest(
            message=f"the name of the object ({meta.get('name', '')}) does not match the name "
            f"on the URL ({info.name})"
        )


async def _create(
    request: web.Request, registry: RegistryLike, info: RequestInfo, rt: ResourceType
) -> web.StreamResponse:
    if info.name and not info.subresource:
        raise errors.MethodNotAllowed(
            message="the server does not allow this method on the requested resource"
        )
    if rt.namespaced and not info.namespace:
        raise errors.MethodNotAllowed(
            message="the server does not allow this method on the requested resource"
        )
    obj = decode_object(request, await read_body(request))
    _check_identity(obj, info, rt, need_name=False)
    if info.subresource and info.name:
        obj.setdefault("metadata", {}).setdefault("name", info.name)
    created, warnings = await registry.create(
        rt,
        info.namespace,
        obj,
        subresource=info.subresource,
        dry_run=_dry_run(request.query),
        field_manager=_field_manager(request),
        field_validation=_field_validation(request.query),
    )
    if info.subresource in ("binding", "eviction"):
        return json_response(success_status({}) | {"code": 201}, status=201, warnings=warnings)
    return json_response(created, status=201, warnings=warnings)


async def _update(
    request: web.Request, registry: RegistryLike, info: RequestInfo, rt: ResourceType
) -> web.StreamResponse:
    obj = decode_object(request, await read_body(request))
    _check_identity(obj, info, rt, need_name=not info.subresource or info.subresource == "status")
    updated, warnings = await registry.update(
        rt,
        info.namespace,
        info.name,
        obj,
        subresource=info.subresource,
        dry_run=_dry_run(request.query),
        field_manager=_field_manager(request),
        field_validation=_field_validation(request.query),
    )
    return json_response(updated, warnings=warnings)


async def _patch(
    request: web.Request, registry: RegistryLike, info: RequestInfo, rt: ResourceType
) -> web.StreamResponse:
    body = await read_body(request)
    ctype = request.content_type.lower()
    if ctype not in patches.PATCH_TYPES:
        raise errors.UnsupportedMediaType(
            message=f"the body of the request was in an unknown format - accepted media types "
            f"include: {', '.join(patches.PATCH_TYPES)}"
        )
    force = _truthy(request.query.get("force", ""))
    if force and ctype != patches.APPLY_PATCH:
        raise errors.BadRequest(message="force may not be specified for non-apply patch")
    patched, warnings = await registry.patch(
        rt,
        info.namespace,
        info.name,
        ctype,
        body,
        subresource=info.subresource,
        dry_run=_dry_run(request.query),
        field_manager=_field_manager(request)
        if ctype != patches.APPLY_PATCH
        else _apply_manager(request),
        field_validation=_field_validation(request.query),
        force=force,
    )
    return json_response(patched, warnings=warnings)


def _apply_manager(request: web.Request) -> str:
    manager = request.query.get("fieldManager", "")
    if not manager:
        raise errors.BadRequest(
            message="PATCH, application/apply-patch+yaml requires fieldManager to be set"
        )
    return manager


async def _delete_options(request: web.Request) -> JSON:
    body = await read_body(request)
    options: JSON = {}
    if body.strip():
        options = decode_object(request, body)
    q = request.query
    grace = _int_param(q, "gracePeriodSeconds")
    if grace is not None:
        options["gracePeriodSeconds"] = grace
    if q.get("propagationPolicy"):
        policy = q["propagationPolicy"]
        if policy not in ("Orphan", "Background", "Foreground"):
            raise errors.BadRequest(
                message=f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                '"Foreground", "Background", "Orphan"'
            )
        options["propagationPolicy"] = policy
    if q.get("orphanDependents"):
        options["orphanDependents"] = _truthy(q["orphanDependents"])
    if _dry_run(q):
        options["dryRun"] = ["All"]
    return options


async def _delete(
    request: web.Request, registry: RegistryLike, info: RequestInfo, rt: ResourceType
) -> web.StreamResponse:
    options = await _delete_options(request)
    obj = await registry.delete(rt, info.namespace, info.name, options or None)
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp") and (meta.get("finalizers") or rt.resource == "pods"):
        return json_response(obj)
    details = {"name": info.name, "kind": rt.resource, "uid": meta.get("uid", "")}
    if rt.group:
        details["group"] = rt.group
    return json_response(success_status(details))


async def _delete_collection(
    request: web.Request, registry: RegistryLike, info: RequestInfo, rt: ResourceType
) -> web.StreamResponse:
    options = await _delete_options(request)
    q = request.query
    lst = await registry.delete_collection(
        rt,
        info.namespace,
        label_selector=q.get("labelSelector", ""),
        field_selector=q.get("fieldSelector", ""),
        options=options or None,
    )
    return json_response(lst)


Handler = Callable[
    [web.Request, RegistryLike, RequestInfo, ResourceType], Awaitable[web.StreamResponse]
]
_VERBS: dict[str, Handler] = {
    "get": _get,
    "list": _list,
    "watch": _watch,
    "create": _create,
    "update": _update,
    "patch": _patch,
    "delete": _delete,
    "deletecollection": _delete_collection,
}


def _wants_pretty(request: web.Request) -> bool:
    if "pretty" in request.query:
        return _truthy(request.query["pretty"])
    agent = request.headers.get("User-Agent", "")
    return agent.startswith(("curl/", "Wget/")) or agent.startswith("Mozilla/")


@web.middleware
async def _pretty(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Indented JSON for people (curl, browsers, ?pretty=true), as upstream does."""
    response = await handler(request)
    if (
        isinstance(response, web.Response)
        and response.content_type == "application/json"
        and isinstance(response.body, bytes)
        and _wants_pretty(request)
    ):
        with contextlib.suppress(ValueError):
            response.body = json.dumps(json.loads(response.body), indent=2).encode() + b"\n"
    return response


def make_app(ctx: RestContext) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES * 2, middlewares=[_pretty])
    app[CONTEXT_KEY] = ctx
    app.router.add_route("*", "/{tail:.*}", handle)
    return app
