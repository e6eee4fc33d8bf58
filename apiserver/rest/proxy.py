"""The `proxy` subresource of pods and services: HTTP to a pod, through the
apiserver, as in `kubectl proxy` then
`curl localhost:8001/api/v1/namespaces/default/services/web:80/proxy/`.

The apiserver sits on the cluster network, so it reaches pod IPs directly
(Kubernetes' flat network). A service is proxied to one of its ready endpoints
(from its Endpoints object, the port matched by name or number), a pod to its
IP and the port in the name (`web:8080`), a named container port, or the first
declared port. `https:` in the name (`https:web:443`) speaks TLS to the pod
without verifying it, as upstream's proxy does.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web

from apimachinery import errors
from apimachinery.scheme import ResourceType, lookup
from apiserver.rest.types import RegistryLike

log = logging.getLogger("apiserver")
JSON = dict[str, Any]

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
}


def split_name(name: str) -> tuple[str, str, str]:
    """(scheme, name, port) from `name`, `name:port` or `scheme:name:port`."""
    parts = name.split(":")
    if len(parts) == 3:
        return parts[0] or "http", parts[1], parts[2]
    if len(parts) == 2:
        return "http", parts[0], parts[1]
    return "http", name, ""


def pod_port(pod: JSON, port: str) -> int:
    if port.isdigit():
        return int(port)
    declared = [
        p for c in (pod.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []
    ]
    for p in declared:
        if port and p.get("name") == port:
            return int(p["containerPort"])
    if not port and declared:
        return int(declared[0]["containerPort"])
    if not port:
        return 80
    raise errors.BadRequest(message=f'no port named "{port}" in pod')


async def service_target(
    registry: RegistryLike, namespace: str, name: str, port: str
) -> tuple[str, int]:
    svc = await registry.get(lookup("", "v1", "services"), namespace, name)
    ports = (svc.get("spec") or {}).get("ports") or []
    chosen = None
    for p in ports:
        if (port and (p.get("name") == port or str(p.get("port")) == port)) or (
            not port and len(ports) == 1
        ):
            chosen = p
            break
    if chosen is None:
        raise errors.ServiceUnavailable(
            message=f'no service port "{port}" found for service "{name}"'
        )
    endpoints = await registry.get(lookup("", "v1", "endpoints"), namespace, name)
    for subset in endpoints.get("subsets") or []:
        for ep_port in subset.get("ports") or []:
            if len(ports) > 1 and ep_port.get("name") != chosen.get("name"):
                continue
            for address in subset.get("addresses") or []:
                return str(address["ip"]), int(ep_port["port"])
    raise errors.ServiceUnavailable(message=f'no endpoints available for service "{name}"')


async def serve(
    request: web.Request,
    registry: RegistryLike,
    *,
    rt: ResourceType,
    namespace: str,
    name: str,
    subpath: str,
) -> web.StreamResponse:
    scheme, target_name, port = split_name(name)
    if rt.resource == "pods":
        pod = await registry.get(rt, namespace, target_name)
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            raise errors.ServiceUnavailable(message=f'pod "{target_name}" has no IP address yet')
        host, target_port = str(ip), pod_port(pod, port)
    elif rt.resource == "services":
        host, target_port = await service_target(registry, namespace, target_name, port)
    else:
        raise errors.MethodNotAllowed(
            message=f"the proxy subresource of {rt.resource} is not supported"
        )
    raw = request.rel_url.raw_path
    marker = raw.find("/proxy", raw.find(target_name))
    if marker >= 0:
        subpath = raw[marker + len("/proxy") :].lstrip("/")
    url = f"{scheme}://{host}:{target_port}/{subpath}"
    if request.query_string:
        url += f"?{request.query_string}"
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
    body = await request.read() if request.can_read_body else None
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    response: web.StreamResponse | None = None
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session,
            session.request(
                request.method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                ssl=scheme != "https",
            ) as upstream,
        ):
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in _HOP_BY_HOP:
                    response.headers[k] = v
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(65536):
                await response.write(chunk)
            await response.write_eof()
            return response
    except aiohttp.ClientError as e:
        log.info("proxy to %s failed: %s", url, e)
        if response is not None and response.prepared:
            return response
        raise errors.ServiceUnavailable(message=f"error trying to reach service: {e}") from None
