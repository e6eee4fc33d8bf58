"""The `kube-dns` Service and its Endpoints, registered by the DNS server itself.

In the compose topology the DNS server is a container of its own, not a pod,
so nothing would otherwise give the `kube-dns` Service (kube-system, ClusterIP
10.96.0.10, ports `dns` 53/UDP and `dns-tcp` 53/TCP) an endpoint. The Service
has no selector (the endpoints controller leaves it alone, as upstream does
for selector-less Services) and the server writes its own address into the
Endpoints object at start and keeps it there.
"""

from __future__ import annotations

import logging
from typing import Any

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient

log = logging.getLogger("cluster-dns")

JSON = dict[str, Any]
SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")
NAMESPACE = "kube-system"
NAME = "kube-dns"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}


def desired_service(cluster_ip: str, port: int) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "clusterIP": cluster_ip,
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": port},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": port},
            ],
        },
    }


def desired_endpoints(ip: str, port: int) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "subsets": [
            {
                "addresses": [{"ip": ip}],
                "ports": [
                    {"name": "dns", "port": port, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": port, "protocol": "TCP"},
                ],
            }
        ],
    }


async def register(api: APIClient, *, cluster_ip: str, ip: str, port: int) -> None:
    """Make sure the kube-dns Service exists and its Endpoints name this server."""
    try:
        await api.get(SERVICES, NAME, namespace=NAMESPACE)
    except errors.NotFound:
        try:
            await api.create(SERVICES, desired_service(cluster_ip, port), namespace=NAMESPACE)
            log.info("created Service %s/%s at %s", NAMESPACE, NAME, cluster_ip)
        except errors.AlreadyExists:
            pass
    wanted = desired_endpoints(ip, port)
    try:
        current = await api.get(ENDPOINTS, NAME, namespace=NAMESPACE)
    except errors.NotFound:
        try:
            await api.create(ENDPOINTS, wanted, namespace=NAMESPACE)
            log.info("registered %s:%d as the endpoint of %s/%s", ip, port, NAMESPACE, NAME)
        except errors.AlreadyExists:
            pass
        return
    if current.get("subsets") != wanted["subsets"]:
        current["subsets"] = wanted["subsets"]
        await api.update(ENDPOINTS, current)
        log.info("registered %s:%d as the endpoint of %s/%s", ip, port, NAMESPACE, NAME)
