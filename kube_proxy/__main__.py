"""`python -m kube_proxy --node-name N --node-ip IP`: the per-node service proxy.

Run in a node whose service CIDR is local (`ip route add local 10.96.0.0/12
dev lo`); it listens on every Service's `clusterIP:port` and on every NodePort
of `--node-ip`, and forwards each connection to a ready endpoint.
"""

from __future__ import annotations

import argparse
import socket

from apimachinery.scheme import lookup
from client.api import APIClient
from client.component import add_health_check, main
from client.informer import InformerFactory
from kube_proxy.sync import KubeProxy

SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")


def _default_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--node-name", default="", help="this node's name (default: hostname)")
    parser.add_argument("--node-ip", default="", help="the node's IP, where NodePorts listen")
    parser.add_argument(
        "--no-node-ports", action="store_true", help="do not listen on NodePorts (tests)"
    )


async def build(api: APIClient, args: argparse.Namespace) -> None:
    factory = InformerFactory(api)
    services = factory.informer(SERVICES)
    endpoints = factory.informer(ENDPOINTS)
    proxy = KubeProxy(
        services=services,
        endpoints=endpoints,
        node_name=args.node_name or socket.gethostname(),
        node_ip=args.node_ip or _default_ip(),
        bind_node_ports=not args.no_node_ports,
    )
    for informer in (services, endpoints):
        informer.add_handlers(
            on_add=proxy.changed, on_update=proxy.changed, on_delete=proxy.changed
        )
    # Healthy once the first sync applied the informers' state (upstream's
    # /healthz answers the same question).
    add_health_check("proxier-synced", lambda: proxy.synced_once)
    await factory.start()
    await factory.wait_synced()
    await proxy.run()


if __name__ == "__main__":
    main(
        "kube-proxy",
        build,
        description="Userspace service proxy: ClusterIPs and NodePorts to endpoints.",
        extra_args=add_args,
        leader_elect_default=False,
    )
