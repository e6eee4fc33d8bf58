"""`kubelab`: the lab CLI around the cluster.

    kubelab up [--nodes N] [--local] [--rebuild]   build what is missing, start, wait
    kubelab down [--local]                         remove everything the cluster made
    kubelab status                                 components and nodes
    kubelab kubeconfig [--print|--merge]           the admin kubeconfig
    kubelab images [--rebuild]                     build the images (no registry)
    kubelab node stop|start|partition|connect NAME lab failures on one node

Each command says what it does in words and exits non-zero with a reason when
it cannot; long steps show a progress display.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import yaml
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from kubelab import cluster, config, images, kubeconfig, local

console = Console(stderr=True)
out = Console()


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    )


def _step(progress: Progress, what: str, check: Callable[[], bool], deadline: float) -> None:
    task = progress.add_task(what)
    cluster.wait_for(what, check, deadline)
    progress.update(task, description=f"[green]✓[/] {what}", total=1, completed=1)


def _unhealthy_components() -> list[str]:
    bad = []
    for name in cluster.cluster_containers():
        state = cluster.container_state(name)
        if state.state != "running" or state.health not in ("healthy", "none"):
            bad.append(f"{name} ({state.state}, {state.health})")
    return bad


def cmd_up(args: argparse.Namespace) -> int:
    if args.local:
        return local.up(console, rebuild=args.rebuild, timeout=args.timeout)
    started = time.monotonic()
    deadline = started + args.timeout
    console.print("[bold]Images[/] (built locally from Debian packages; nothing is pulled)")
    built = images.build_all(rebuild=args.rebuild, console=console)
    if built:
        console.print(f"built {len(built)} images in {sum(built.values()):.0f} s")
    workers = args.nodes
    expected = cluster.node_names(workers)
    with _progress() as progress:
        task = progress.add_task(f"starting containers (compose project {config.PROJECT})")
        cluster.up(workers)
        progress.update(task, description="[green]✓[/] containers started", total=1, completed=1)
        _step(progress, "apiserver ready", cluster.apiserver_ready, deadline)
        task = progress.add_task("kubeconfig")
        path = kubeconfig.merge_admin(_wait_value(cluster.admin_kubeconfig_text, deadline))
        progress.update(
            task,
            description=f"[green]✓[/] kubeconfig: context kubelab in {path}",
            total=1,
            completed=1,
        )

        def nodes_ready() -> bool:
            ready = {n["metadata"]["name"] for n in cluster.nodes() if cluster.node_ready(n)}
            return set(expected) <= ready

        _step(progress, f"{len(expected)} nodes Ready", nodes_ready, deadline)
        try:
            _step(progress, "components healthy", lambda: not _unhealthy_components(), deadline)
        except cluster.ClusterError:
            console.print("[red]not healthy:[/] " + ", ".join(_unhealthy_components()))
            console.print("see `docker logs <container>`")
            return 1
    console.print(f"[bold green]kubelab is up[/] in {time.monotonic() - started:.0f} s")
    _print_status()
    console.print(
        "kubectl uses context [bold]kubelab[/] "
        f"({config.kubeconfig_path()}): try `kubectl get nodes`"
    )
    return 0


def _wait_value(fetch: Callable[[], str], deadline: float) -> str:
    while True:
        try:
            return fetch()
        except cluster.ClusterError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def cmd_down(args: argparse.Namespace) -> int:
    if local.running() or args.local:
        local.down(console)
        if args.local:
            console.print("[bold]kubelab (local) is down[/]")
            return 0
    with console.status("removing the cluster's containers, networks and volumes"):
        removed = cluster.down()
    path = config.kubeconfig_path()
    existing = kubeconfig.load(path)
    if existing and any(c.get("name") == config.CONTEXT for c in existing.get("contexts") or []):
        kubeconfig.write(path, kubeconfig.remove(existing))
    console.print(
        "[bold]kubelab is down[/]" + (f" (removed {', '.join(removed)})" if removed else "")
    )
    return 0


def _print_status() -> None:
    table = Table(title="components")
    for column in ("container", "state", "health", "address"):
        table.add_column(column)
    names = cluster.cluster_containers()
    for name in names:
        s = cluster.container_state(name)
        color = "green" if s.state == "running" and s.health in ("healthy", "none") else "red"
        table.add_row(name, f"[{color}]{s.state}[/]", s.health, s.ip)
    out.print(table)
    node_list = cluster.nodes() if cluster.apiserver_ready() else []
    if node_list:
        nodes_table = Table(title="nodes")
        for column in ("name", "status", "roles", "address"):
            nodes_table.add_column(column)
        for node in node_list:
            labels = node["metadata"].get("labels") or {}
            roles = ",".join(
                k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")
            )
            addresses = (node.get("status") or {}).get("addresses") or []
            ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "")
            ready = "[green]Ready[/]" if cluster.node_ready(node) else "[red]NotReady[/]"
            unschedulable = (node.get("spec") or {}).get("unschedulable")
            status = ready + (",SchedulingDisabled" if unschedulable else "")
            nodes_table.add_row(node["metadata"]["name"], status, roles or "<none>", ip)
        out.print(nodes_table)
    elif names:
        reachable = cluster.apiserver_ready()
        out.print("nodes: none registered yet" if reachable else "nodes: apiserver not reachable")


def cmd_status(args: argparse.Namespace) -> int:
    if local.running():
        local.status(out)
    if not cluster.cluster_containers():
        if not local.running():
            out.print("kubelab is not running (start it with `kubelab up`)")
        return 0 if local.running() else 1
    _print_status()
    return 0


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    text = local.admin_kubeconfig_text() if local.running() else cluster.admin_kubeconfig_text()
    if args.print:
        admin = yaml.safe_load(text)
        ours = kubeconfig.for_context(admin, server=f"https://127.0.0.1:{config.REST_PORT}")
        out.print(yaml.safe_dump(ours, sort_keys=False), end="", highlight=False)
        return 0
    path = kubeconfig.merge_admin(text)
    console.print(f"context [bold]kubelab[/] merged into {path} and made current")
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    started = time.monotonic()
    built = images.build_all(rebuild=args.rebuild, console=console)
    console.print(
        f"{len(built)} images built, {len(images.SPECS) + 1 - len(built)} up to date "
        f"({time.monotonic() - started:.0f} s)"
    )
    return 0


def cmd_node(args: argparse.Namespace) -> int:
    name = args.name
    if args.action == "stop":
        stopped = cluster.node_stop(name)
        console.print(f"node {name} stopped (and {stopped} of its pod containers)")
    elif args.action == "start":
        cluster.node_start(name)
        console.print(f"node {name} started; its kubelet reconciles its pods")
    elif args.action == "partition":
        cluster.node_partition(name)
        console.print(f"node {name} cut off the {config.NETWORK} network")
    elif args.action == "connect":
        cluster.node_connect(name)
        console.print(f"node {name} reconnected to the {config.NETWORK} network")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubelab", description="A small, real Kubernetes lab.")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build what is missing, start the cluster and wait for it")
    up.add_argument("--nodes", type=int, default=2, help="worker nodes (default 2)")
    up.add_argument("--local", action="store_true", help="host processes, for development")
    up.add_argument("--rebuild", action="store_true", help="rebuild every image")
    up.add_argument("--timeout", type=float, default=300, help="seconds to wait (default 300)")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="remove containers, pods, networks and volumes")
    down.add_argument("--local", action="store_true", help="only the local-mode processes")
    down.set_defaults(func=cmd_down)
    sub.add_parser("status", help="components and nodes").set_defaults(func=cmd_status)
    kc = sub.add_parser("kubeconfig", help="print or merge the admin kubeconfig")
    group = kc.add_mutually_exclusive_group()
    group.add_argument("--print", action="store_true", help="print it (context kubelab)")
    group.add_argument("--merge", action="store_true", help="merge it (the default)")
    kc.set_defaults(func=cmd_kubeconfig)
    im = sub.add_parser("images", help="build the images (nothing is pulled)")
    im.add_argument("--rebuild", action="store_true")
    im.set_defaults(func=cmd_images)
    node = sub.add_parser("node", help="lab failures: stop, start, partition, connect a node")
    node.add_argument("action", choices=["stop", "start", "partition", "connect"])
    node.add_argument("name")
    node.set_defaults(func=cmd_node)
    return p


def main(argv: list[str] | None = None) -> None:
    args: Any = parser().parse_args(argv)
    try:
        code = args.func(args)
    except (cluster.ClusterError, images.BuildError) as e:
        console.print(f"[red]kubelab {args.command}:[/] {e}")
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
