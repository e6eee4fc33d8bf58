"""The ingress controller's HTTP reverse proxy (aiohttp).

Every request is matched against the current `RouteTable` and sent straight
to a ready pod of the chosen Service (pod IP and target port, round robin: no
kube-proxy hop), with the usual `X-Forwarded-*` headers. Like ingress-nginx it
answers 404 when no rule matches (the default backend), 503 when the Service
has no ready endpoint, 502 when no endpoint could be reached.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

import aiohttp
import prometheus_client as prom
from aiohttp import web
from multidict import CIMultiDict

from ingress.routes import Backend, RouteTable

log = logging.getLogger("ingress")

REQUESTS = prom.Counter(
    "nginx_ingress_controller_requests",
    "HTTP requests, by ingress backend service and status",
    ["service", "status"],
)

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


def _page(status: int, reason: str) -> web.Response:
    body = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return web.Response(status=status, text=body, content_type="text/html")


# Resolves a backend to its ready `ip:port` endpoints.
Resolve = Callable[[Backend], list[str]]


class IngressProxy:
    def __init__(self, resolve: Resolve) -> None:
        self.table = RouteTable([])
        self.resolve = resolve
        self._counters: dict[Backend, itertools.count[int]] = {}
        self.session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _cleanup(self, _: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1024, limit_per_host=256),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=60),
                auto_decompress=False,
            )
        return self.session

    async def handle(self, request: web.Request) -> web.StreamResponse:
        backend = self.table.match(request.host or "", request.path)
        if backend is None:
            REQUESTS.labels("", "404").inc()
            return _page(404, "Not Found")
        label = f"{backend.namespace}/{backend.service}"
        addresses = self.resolve(backend)
        if not addresses:
            REQUESTS.labels(label, "503").inc()
            return _page(503, "Service Temporarily Unavailable")
        counter = self._counters.setdefault(backend, itertools.count())
        start = next(counter)
        body = await request.read()
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        )
        peer = request.remote or ""
        forwarded_for = request.headers.get("X-Forwarded-For")
        headers["Host"] = request.host
        headers["X-Forwarded-For"] = f"{forwarded_for}, {peer}" if forwarded_for else peer
        headers["X-Real-IP"] = peer
        headers["X-Forwarded-Host"] = request.host
        headers["X-Forwarded-Proto"] = request.scheme
        # Try each endpoint at most once, starting from the round-robin position.
        for i in range(min(len(addresses), 3)):
            address = addresses[(start + i) % len(addresses)]
            url = f"http://{address}{request.rel_url}"
            response: web.StreamResponse | None = None
            try:
                async with self._session().request(
                    request.method, url, headers=headers, data=body, allow_redirects=False
                ) as upstream:
                    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                    for key, value in upstream.headers.items():
                        if key.lower() not in HOP_BY_HOP:
                            response.headers.add(key, value)
                    await response.prepare(request)
                    async for chunk in upstream.content.iter_chunked(256 * 1024):
                        await response.write(chunk)
                    await response.write_eof()
                    REQUESTS.labels(label, str(upstream.status)).inc()
                    return response
            except (aiohttp.ClientError, TimeoutError) as e:
                if response is not None and response.prepared:
                    # The answer had begun: nothing better to do than cut it short.
                    log.info("endpoint %s of %s failed mid-response: %s", address, label, e)
                    raise
                if isinstance(e, TimeoutError):
                    REQUESTS.labels(label, "504").inc()
                    return _page(504, "Gateway Time-out")
                log.debug("endpoint %s of %s failed: %s", address, label, e)
                continue
        REQUESTS.labels(label, "502").inc()
        return _page(502, "Bad Gateway")
