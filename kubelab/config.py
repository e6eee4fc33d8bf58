"""Where kubelab keeps things and the fixed facts of the compose topology.

One place for the paths (`$KUBELAB_HOME`, the kubeconfig, the repository's
build files) and the address plan, so the CLI, the image builder and the
compose file agree. The compose file repeats these numbers; a unit test keeps
them in step.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build"
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROJECT = "kubelab"
NETWORK = "kubelab"
COMPOSE_LOCK = Path("/tmp/kubelab-compose.lock")

SUBNET = "10.96.0.0/11"
GATEWAY = "10.112.0.1"
IP_RANGE = "10.112.0.0/12"
SERVICE_CIDR = "10.96.0.0/12"
DNS_IP = "10.96.0.10"
APISERVER_IP = "10.127.255.11"

KUBELAB_IMAGE = "kubelab/kubelab:dev"
REST_PORT = 6443
GRPC_PORT = 6444
HEALTH_PORT = 6445
INGRESS_HOST_PORT = 8080

CONTROL_PLANE_NODE = "kubelab-control-plane"
CONTEXT = "kubelab"


def home() -> Path:
    """`$KUBELAB_HOME`, default ~/.kubelab: logs, local-mode data, build cache."""
    return Path(os.environ.get("KUBELAB_HOME") or Path.home() / ".kubelab")


def kubeconfig_path() -> Path:
    """The kubeconfig kubelab merges its context into: first of $KUBECONFIG, else ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def worker_names(workers: int) -> list[str]:
    """kind's naming: kubelab-worker, kubelab-worker2, kubelab-worker3..."""
    return ["kubelab-worker" + ("" if i == 1 else str(i)) for i in range(1, workers + 1)]
