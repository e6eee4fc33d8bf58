"""`python -m cluster_dns`: the cluster DNS server.

Serves the cluster domain from Service and Endpoints informers on
`--dns-address` (UDP and TCP), forwarding other names to `--upstream`; with
`--register-ip` it also keeps the `kube-dns` Service (ClusterIP
`--cluster-ip`, 10.96.0.10) pointing at itself, which is how the compose
topology wires it (the DNS container is not a pod).
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from client.component import main
from client.informer import InformerFactory
from cluster_dns.forward import Forwarder, parse_upstreams
from cluster_dns.registration import register
from cluster_dns.resolver import Resolver
from cluster_dns.server import DNSServer

log = logging.getLogger("cluster-dns")

SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")
REGISTER_EVERY_S = 30.0


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dns-address", default="0.0.0.0:53", help="UDP+TCP listen address")
    parser.add_argument("--cluster-domain", default="cluster.local")
    parser.add_argument(
        "--register-ip",
        default="",
        help="register this IP as the endpoint of the kube-dns Service (compose mode)",
    )
    parser.add_argument("--cluster-ip", default="10.96.0.10", help="kube-dns Service ClusterIP")
    parser.add_argument(
        "--upstream",
        default="/etc/resolv.conf",
        help="where names outside the cluster domain go: a resolv.conf path, "
        "ip[:port],... or 'none' (REFUSED)",
    )


async def build(api: APIClient, args: argparse.Namespace) -> None:
    factory = InformerFactory(api)
    services = factory.informer(SERVICES)
    endpoints = factory.informer(ENDPOINTS)
    resolver = Resolver(services=services, endpoints=endpoints, zone=args.cluster_domain)
    await factory.start()
    await factory.wait_synced()
    host, _, port = args.dns_address.rpartition(":")
    upstreams = parse_upstreams(args.upstream, exclude=(host, int(port)))
    if upstreams:
        where = ", ".join(f"{h}:{p}" for h, p in upstreams)
        log.info("names outside %s are forwarded to %s", args.cluster_domain, where)
    else:
        log.info("names outside %s are refused (no upstream server)", args.cluster_domain)
    server = DNSServer(resolver, Forwarder(upstreams))
    bound = await server.start(host or "0.0.0.0", int(port))
    try:
        while True:
            if args.register_ip:
                try:
                    await register(api, cluster_ip=args.cluster_ip, ip=args.register_ip, port=bound)
                except errors.APIError as e:
                    log.warning("could not register the kube-dns endpoint yet: %s", e)
            await asyncio.sleep(REGISTER_EVERY_S)
    finally:
        server.close()


if __name__ == "__main__":
    main(
        "cluster-dns",
        build,
        description="Cluster DNS: answers the cluster domain from Services and Endpoints.",
        extra_args=add_args,
        leader_elect_default=False,
    )
