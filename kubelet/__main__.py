"""`python -m kubelet --node-name N --node-ip IP --pod-network NET`: one node's agent.

Registers the Node, heartbeats its Lease, runs the pods bound to it as Docker
containers on the pod network (the host's Docker Engine, through its socket
or DOCKER_HOST), and serves logs/exec/attach/port-forward on gRPC port 10250.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket

from apimachinery.scheme import lookup
from client.api import APIClient
from client.component import add_health_check, main
from client.events import EventRecorder
from client.informer import Informer
from kubelet import pods as podlib
from kubelet import specs
from kubelet.kubelet import Kubelet, KubeletConfig, image_pulls_enabled
from kubelet.runtime import DockerRuntime
from kubelet.server import KubeletService, serve

PODS = lookup("", "v1", "pods")


def _env(name: str, default: str) -> str:
    """Defaults from the compose topology's environment (KUBELAB_NETWORK...)."""
    return os.environ.get(name) or default


def _has_flag(parser: argparse.ArgumentParser, flag: str) -> bool:
    return any(flag in a.option_strings for a in parser._actions)


def _parse_taint(text: str) -> dict[str, str]:
    """`key=value:Effect` or `key:Effect`, as kubelet's --register-with-taints."""
    kv, _, effect = text.rpartition(":")
    key, _, value = kv.partition("=")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def add_args(parser: argparse.ArgumentParser) -> None:
    if not _has_flag(parser, "--node-name"):
        parser.add_argument("--node-name", default="", help="the Node's name (default: hostname)")
    parser.add_argument("--node-ip", default="", help="the node's InternalIP")
    parser.add_argument(
        "--pod-network",
        default=_env("KUBELAB_NETWORK", "kubelab"),
        help="the Docker network pods join (default kubelab)",
    )
    parser.add_argument(
        "--cluster-name",
        default=_env("KUBELAB_CLUSTER", "kubelab"),
        help="io.kubelab.cluster label",
    )
    parser.add_argument("--cpu", default="4", help="the node's cpu capacity (default 4)")
    parser.add_argument("--memory", default="8Gi", help="the node's memory capacity (default 8Gi)")
    parser.add_argument("--max-pods", type=int, default=110, help="pods capacity (default 110)")
    parser.add_argument(
        "--node-labels", default="", help="extra Node labels, `k=v,k2=v2` (as upstream's flag)"
    )
    parser.add_argument(
        "--register-with-taints",
        default="",
        help="Node taints at registration, `key=value:Effect,...`",
    )
    parser.add_argument(
        "--container-labels", default="", help="extra labels on every container, `k=v,...`"
    )
    parser.add_argument("--cluster-dns", default=_env("KUBELAB_CLUSTER_DNS", "10.96.0.10"))
    parser.add_argument("--cluster-domain", default=_env("KUBELAB_CLUSTER_DOMAIN", "cluster.local"))
    parser.add_argument("--service-cidr", default=_env("KUBELAB_SERVICE_CIDR", "10.96.0.0/12"))
    parser.add_argument(
        "--pod-infra-container-image",
        default=_env("KUBELAB_PAUSE_IMAGE", "kubelab/pause:3.9"),
        help="the sandbox image",
    )
    parser.add_argument(
        "--port", default="0.0.0.0:10250", help="gRPC address for logs/exec/port-forward"
    )
    parser.add_argument(
        "--crashloop-backoff", type=float, default=10.0, help="first restart back-off (s)"
    )
    parser.add_argument(
        "--crashloop-backoff-max", type=float, default=300.0, help="maximum back-off (s)"
    )
    parser.add_argument(
        "--host-network-mode",
        default=_env("KUBELAB_HOST_NETWORK_MODE", ""),
        help="Docker network mode of hostNetwork pods (default: this node container's "
        "namespace when the kubelet runs in one, else host)",
    )
    parser.add_argument(
        "--sync-frequency",
        type=float,
        default=20.0,
        help="seconds between full resyncs of every pod (default 20)",
    )
    parser.add_argument("--lease-interval", type=float, default=2.0, help="seconds")
    parser.add_argument("--status-interval", type=float, default=10.0, help="seconds")


def _pairs(text: str) -> dict[str, str]:
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if key and sep:
            out[key.strip()] = value.strip()
    return out


def _host_network_mode() -> str:
    """The node's network namespace: this container's when the kubelet runs in a node
    container (compose names it after its hostname), else the host's."""
    if os.path.exists("/.dockerenv"):
        return f"container:{socket.gethostname()}"
    return "host"


def _default_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


async def build(api: APIClient, args: argparse.Namespace) -> None:
    node_name = args.node_name or socket.gethostname()
    node_ip = args.node_ip or _default_ip()
    labels = _pairs(args.node_labels)
    taints = [_parse_taint(t) for t in args.register_with_taints.split(",") if t]
    port_host, _, port = args.port.rpartition(":")
    config = KubeletConfig(
        cpu=args.cpu,
        memory=args.memory,
        max_pods=args.max_pods,
        labels=labels,
        taints=taints,
        lease_interval_s=args.lease_interval,
        status_interval_s=args.status_interval,
        resync_interval_s=args.sync_frequency,
        backoff=podlib.BackoffPolicy(args.crashloop_backoff, args.crashloop_backoff_max),
        image_pulls=image_pulls_enabled(),
        port=int(port),
    )
    ctx = specs.NodeContext(
        node_name=node_name,
        node_ip=node_ip,
        network=args.pod_network,
        cluster=args.cluster_name,
        cluster_dns=args.cluster_dns,
        cluster_domain=args.cluster_domain,
        service_cidr=args.service_cidr,
        pause_image=args.pod_infra_container_image,
        extra_labels=_pairs(args.container_labels),
        host_network_mode=args.host_network_mode or _host_network_mode(),
    )
    runtime = DockerRuntime(node_name=node_name, network=args.pod_network)
    pods = Informer(api, PODS, field_selector=f"spec.nodeName={node_name}")
    recorder = EventRecorder(api, "kubelet", node_name)
    kubelet = Kubelet(api, runtime, ctx, pods=pods, recorder=recorder, config=config)
    add_health_check("node-registered", lambda: kubelet.node_ready)
    add_health_check("pods-synced", pods.has_synced)
    server, _ = await serve(KubeletService(kubelet, runtime), f"{port_host or '0.0.0.0'}:{port}")
    informer_task = asyncio.create_task(pods.run(), name="pod informer")
    try:
        await kubelet.run()
    finally:
        informer_task.cancel()
        await server.stop(grace=1)
        await recorder.close()
        runtime.close()


if __name__ == "__main__":
    main(
        "kubelet",
        build,
        description="Node agent: runs the pods bound to this node as Docker containers.",
        extra_args=add_args,
        leader_elect_default=False,
    )
