"""The `/healthz`, `/readyz`, `/livez` and `/metrics` endpoints every component serves.

Each component registers named checks (a callable answering True when that part
is healthy); the endpoints answer 200 `ok` when all pass and 500 naming the
failing check otherwise, in upstream's `[+]name ok` / `[-]name failed` format
when `?verbose` is given. `/metrics` is the prometheus-client registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import prometheus_client
from aiohttp import web

HealthCheck = Callable[[], bool]


def _health_handler(checks: Mapping[str, HealthCheck]) -> Callable[[web.Request], object]:
    async def handler(request: web.Request) -> web.Response:
        results = []
        for name, check in checks.items():
            try:
                ok = bool(check())
            except Exception:
                ok = False
            results.append((name, ok))
        healthy = all(ok for _, ok in results)
        if "verbose" in request.query or not healthy:
            lines = [
                f"[{'+' if ok else '-'}]{name} {'ok' if ok else 'failed'}" for name, ok in results
            ]
            verdict = "check passed" if healthy else "check failed"
            body = "\n".join([*lines, f"{request.path.strip('/')} {verdict}", ""])
        else:
            body = "ok"
        return web.Response(text=body, status=200 if healthy else 500)

    return handler


async def _metrics(_: web.Request) -> web.Response:
    return web.Response(
        body=prometheus_client.generate_latest(),
        headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST},
    )


def health_app(checks: Mapping[str, HealthCheck]) -> web.Application:
    app = web.Application()
    handler = _health_handler(checks)
    for path in ("/healthz", "/readyz", "/livez"):
        app.router.add_get(path, handler)  # type: ignore[arg-type]
    app.router.add_get("/metrics", _metrics)
    return app


async def start_health_server(
    address: str, checks: Mapping[str, HealthCheck]
) -> tuple[web.AppRunner, int]:
    """Serve the health and metrics endpoints on `host:port` (port 0 picks one).

    Returns the runner (call `cleanup()` to stop) and the bound port.
    """
    host, _, port = address.rpartition(":")
    runner = web.AppRunner(health_app(checks), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host or "0.0.0.0", int(port))
    await site.start()
    server = site._server  # the asyncio server, to read the bound port
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else int(port)
    return runner, int(bound)
