"""Wiring: which controllers run, on which shared informers and queues.

`build(api, args)` is what `client.component.main` runs once this process
leads: one InformerFactory shared by every controller (one watch per
resource), one EventRecorder per event source, then each enabled controller's
workers until cancelled. `--controllers` takes upstream's syntax: `*` for all
controllers on by default, `name` to enable one, `-name` to disable one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from typing import Any

from client.api import APIClient
from client.events import EventRecorder
from client.informer import InformerFactory
from client.workqueue import WorkQueue
from controller_manager import kube
from controller_manager.base import Context, Controller, Options, Recorder
from controller_manager.clusterroleaggregation import ClusterRoleAggregationController
from controller_manager.cronjob import CronJobController
from controller_manager.daemonset import DaemonSetController
from controller_manager.deployment import DeploymentController
from controller_manager.endpoints import EndpointsController
from controller_manager.endpointslice import EndpointSliceController
from controller_manager.garbagecollector import GarbageCollector
from controller_manager.job import JobController
from controller_manager.namespace import NamespaceController
from controller_manager.nodelifecycle import NodeLifecycleController
from controller_manager.persistentvolume import PersistentVolumeController
from controller_manager.podgc import PodGCController
from controller_manager.replicaset import ReplicaSetController
from controller_manager.serviceaccount import ServiceAccountController
from controller_manager.statefulset import StatefulSetController
from controller_manager.tainteviction import TaintEvictionController

log = logging.getLogger("controller-manager")

LAB_NODE_MONITOR_GRACE_S = 6.0
LAB_TOLERATION_S = 3

CONTROLLERS: dict[str, Callable[[Context], Controller]] = {
    "replicaset": ReplicaSetController,
    "deployment": DeploymentController,
    "garbagecollector": GarbageCollector,
    "namespace": NamespaceController,
    "endpoint": EndpointsController,
    "endpointslice": EndpointSliceController,
    "nodelifecycle": NodeLifecycleController,
    "taint-eviction-controller": TaintEvictionController,
    "podgc": PodGCController,
    "serviceaccount": ServiceAccountController,
    "job": JobController,
    "daemonset": DaemonSetController,
    "statefulset": StatefulSetController,
    "cronjob": CronJobController,
    "persistentvolume-binder": PersistentVolumeController,
    "clusterrole-aggregation": ClusterRoleAggregationController,
}

# Controllers that need a resource the scheme may not serve.
_NEEDS = {
    "endpointslice": ("discovery.k8s.io", "endpointslices"),
    "serviceaccount": ("", "serviceaccounts"),
    "job": ("batch", "jobs"),
    "daemonset": ("apps", "daemonsets"),
    "statefulset": ("apps", "statefulsets"),
    "cronjob": ("batch", "cronjobs"),
    "persistentvolume-binder": ("", "persistentvolumes"),
    "clusterrole-aggregation": ("rbac.authorization.k8s.io", "clusterroles"),
}


def enabled_controllers(spec: str) -> list[str]:
    """The controllers a `--controllers` value turns on (upstream syntax)."""
    wanted: list[str] = []
    items = [s.strip() for s in spec.split(",") if s.strip()] or ["*"]
    star = "*" in items
    for name in CONTROLLERS:
        if f"-{name}" in items:
            continue
        if star or name in items:
            wanted.append(name)
    unknown = [s.lstrip("-") for s in items if s != "*" and s.lstrip("-") not in CONTROLLERS]
    if unknown:
        raise ValueError(
            f"unknown controllers: {', '.join(unknown)} (known: {', '.join(CONTROLLERS)})"
        )
    return [n for n in wanted if n not in _NEEDS or kube.has_resource(*_NEEDS[n])]


def _controllers_flag(value: str) -> str:
    try:
        enabled_controllers(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--controllers",
        type=_controllers_flag,
        default="*",
        help="controllers to run: '*' for all, 'name' to enable, '-name' to disable "
        f"({', '.join(CONTROLLERS)})",
    )
    # kubelab is a lab: its defaults make a node failure show within seconds
    # (upstream: 40s grace, 300s tolerations, i.e. about 6 minutes to move pods).
    parser.add_argument(
        "--node-monitor-grace-period",
        type=kube.parse_duration,
        default=LAB_NODE_MONITOR_GRACE_S,
        help="how long a node may go without heartbeat before it is NotReady "
        f"(default {LAB_NODE_MONITOR_GRACE_S:.0f}s; upstream 40s)",
    )
    parser.add_argument(
        "--node-monitor-period",
        type=kube.parse_duration,
        default=1.0,
        help="how often each node's heartbeat is checked",
    )
    parser.add_argument(
        "--default-not-ready-toleration-seconds",
        type=int,
        default=LAB_TOLERATION_S,
        help="tolerationSeconds for node.kubernetes.io/not-ready on pods without one "
        f"(default {LAB_TOLERATION_S}; upstream 300)",
    )
    parser.add_argument(
        "--default-unreachable-toleration-seconds",
        type=int,
        default=LAB_TOLERATION_S,
        help="tolerationSeconds for node.kubernetes.io/unreachable on pods without one "
        f"(default {LAB_TOLERATION_S}; upstream 300)",
    )
    parser.add_argument(
        "--terminated-pod-gc-threshold",
        type=int,
        default=12500,
        help="terminated pods kept before the oldest are deleted (0 = never)",
    )
    parser.add_argument("--concurrent-syncs", type=int, default=2, help="workers per controller")


def options_from(args: Any) -> Options:
    return Options(
        node_monitor_grace_period=float(args.node_monitor_grace_period),
        node_monitor_period=float(args.node_monitor_period),
        default_not_ready_toleration_seconds=int(args.default_not_ready_toleration_seconds),
        default_unreachable_toleration_seconds=int(args.default_unreachable_toleration_seconds),
        terminated_pod_gc_threshold=int(args.terminated_pod_gc_threshold),
        workers=int(args.concurrent_syncs),
    )


async def run(
    ctx: Context, names: list[str], *, start_informers: Callable[[], Any], wait_synced: Any
) -> None:
    controllers = [CONTROLLERS[n](ctx) for n in names]
    await start_informers()
    await wait_synced()
    log.info("caches synced; running controllers: %s", ", ".join(names))
    async with asyncio.TaskGroup() as tg:
        for c in controllers:
            tg.create_task(c.run(), name=f"controller-{c.name}")


async def build(api: APIClient, args: argparse.Namespace) -> None:
    """Run the enabled controllers against `api` until cancelled."""
    factory = InformerFactory(api)
    recorders: dict[str, EventRecorder] = {}

    def new_recorder(component: str) -> Recorder:
        if component not in recorders:
            recorders[component] = EventRecorder(api, component)
        return recorders[component]

    ctx = Context(
        api=api,
        informers=factory,
        new_recorder=new_recorder,
        new_queue=WorkQueue,
        options=options_from(args),
    )
    try:
        await run(
            ctx,
            enabled_controllers(args.controllers),
            start_informers=factory.start,
            wait_synced=factory.wait_synced,
        )
    finally:
        await factory.stop()
        for r in recorders.values():
            await r.close()
