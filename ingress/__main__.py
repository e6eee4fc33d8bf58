"""`python -m ingress`: the ingress controller (IngressClass `kubelab`).

An HTTP reverse proxy on `--http-address` (port 80 in its container, published
on the host as 127.0.0.1:8080 by compose) routing by host and path to the
Services' ready pods.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os

from aiohttp import web

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from client.component import main
from client.informer import InformerFactory
from ingress.controller import (
    ENDPOINTS,
    INGRESS_CLASSES,
    INGRESSES,
    SERVICES,
    IngressController,
    ensure_ingress_class,
)
from ingress.loadbalancer import DockerBalancerRuntime, LoadBalancerController
from ingress.proxy import IngressProxy

log = logging.getLogger("ingress")
NODES = lookup("", "v1", "nodes")


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--http-address", default="0.0.0.0:80")
    parser.add_argument(
        "--publish-status-address",
        default="127.0.0.1",
        help="the address written to status.loadBalancer of the Ingresses",
    )
    parser.add_argument(
        "--load-balancers",
        action="store_true",
        help="also run the LoadBalancer controller (one forwarding container per "
        "LoadBalancer Service, ports published on 127.0.0.1; needs the Docker socket)",
    )
    parser.add_argument(
        "--lb-image", default=os.environ.get("KUBELAB_IMAGE", "kubelab/kubelab:dev")
    )
    parser.add_argument("--lb-network", default=os.environ.get("KUBELAB_NETWORK", "kubelab"))
    parser.add_argument("--cluster", default=os.environ.get("KUBELAB_CLUSTER", "kubelab"))


async def build(api: APIClient, args: argparse.Namespace) -> None:
    while True:
        try:
            await ensure_ingress_class(api)
            break
        except errors.APIError as e:
            log.warning("could not create the IngressClass yet: %s", e)
            await asyncio.sleep(2)
    factory = InformerFactory(api)
    informers = {
        rt.resource: factory.informer(rt)
        for rt in (INGRESSES, INGRESS_CLASSES, SERVICES, ENDPOINTS)
    }
    proxy = IngressProxy(lambda _backend: [])
    controller = IngressController(
        api,
        proxy,
        ingresses=informers["ingresses"],
        classes=informers["ingressclasses"],
        services=informers["services"],
        endpoints=informers["endpoints"],
        publish_address=args.publish_status_address,
    )
    for name in ("ingresses", "ingressclasses"):
        informers[name].add_handlers(
            on_add=controller.changed, on_update=controller.changed, on_delete=controller.changed
        )
    balancers: LoadBalancerController | None = None
    if args.load_balancers:
        nodes = factory.informer(NODES)
        balancers = LoadBalancerController(
            api,
            DockerBalancerRuntime(
                cluster=args.cluster, network=args.lb_network, image=args.lb_image
            ),
            services=informers["services"],
            nodes=nodes,
            address=args.publish_status_address,
        )
        for informer in (informers["services"], nodes):
            informer.add_handlers(
                on_add=balancers.changed, on_update=balancers.changed, on_delete=balancers.changed
            )
    await factory.start()
    await factory.wait_synced()
    runner = web.AppRunner(proxy.app(), access_log=None)
    await runner.setup()
    host, _, port = args.http_address.rpartition(":")
    await web.TCPSite(runner, host or "0.0.0.0", int(port), backlog=1024).start()
    log.info("serving HTTP on %s", args.http_address)
    lb_task = asyncio.create_task(balancers.run()) if balancers is not None else None
    try:
        await controller.run()
    finally:
        if lb_task is not None:
            lb_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lb_task
        await runner.cleanup()


if __name__ == "__main__":
    main(
        "ingress",
        build,
        description="Ingress controller: HTTP routing by host and path to Services.",
        extra_args=add_args,
        leader_elect_default=False,
    )
