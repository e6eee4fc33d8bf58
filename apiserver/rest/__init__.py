"""The Kubernetes REST API on HTTPS (6443), for kubectl and every Kubernetes client.

`serve(registry, args, rules=...)` is what the apiserver process calls once its
Registry is ready: it makes sure the cluster CA, the serving certificate, the
admin token and `admin.kubeconfig` exist in `--cert-dir` (apiserver.pki), then
listens on `--secure-address` with TLS (client certificates signed by the CA
are accepted as credentials); requests are authorized against `rules`, the
RBAC objects of the apiserver's watch caches. It returns the coroutine function
that stops the listener.
"""

from __future__ import annotations

import argparse
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from apiserver import auth, pki
from apiserver.rest.app import RestContext, make_app
from apiserver.rest.types import RegistryLike

log = logging.getLogger("apiserver")


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port or 6443)


def ssl_context(files: pki.PKI) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(files.serving_cert), str(files.serving_key))
    ctx.load_verify_locations(cafile=str(files.ca_cert))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def serve(
    registry: RegistryLike, args: argparse.Namespace, *, rules: auth.RuleStore
) -> Callable[[], Awaitable[None]]:
    host, port = _split(args.secure_address)
    advertise = str(getattr(args, "advertise_address", "") or "")
    local_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    files = pki.ensure(
        Path(args.cert_dir),
        extra_names=[advertise, host],
        server_url=f"https://{local_host}:{port}",
    )
    ctx = RestContext(
        registry=registry,
        authenticator=auth.Authenticator(files.tokens),
        authorizer=auth.Authorizer(rules),
        server_address=f"{advertise or local_host}:{port}",
    )
    app = make_app(ctx)
    # Watches and exec streams are long-lived: a stopping apiserver gives them
    # two seconds, then closes them (clients resume elsewhere).
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context(files), reuse_address=True)
    await site.start()
    log.info(
        "serving the Kubernetes REST API on https://%s:%d (admin kubeconfig: %s)",
        host,
        port,
        files.admin_kubeconfig,
    )

    async def stop() -> None:
        await runner.cleanup()

    return stop
