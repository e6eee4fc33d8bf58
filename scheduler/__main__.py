"""`python -m scheduler`: the default scheduler.

Watches pods waiting for a node and the nodes, and binds each pod to the best
node (see scheduler.framework for how, scheduler.scheduler for the loop).
Leader election (on by default) keeps one active scheduler per cluster.
"""

from __future__ import annotations

import argparse
import socket

from apimachinery.scheme import lookup
from client.api import APIClient
from client.component import add_health_check, main
from client.events import EventRecorder
from client.informer import InformerFactory
from scheduler.scheduler import DEFAULT_SCHEDULER, NODES, PODS, Scheduler

PRIORITY_CLASSES = lookup("scheduling.k8s.io", "v1", "priorityclasses")


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler-name",
        default=DEFAULT_SCHEDULER,
        help="schedule the pods whose spec.schedulerName is this",
    )


async def build(api: APIClient, args: argparse.Namespace) -> None:
    factory = InformerFactory(api)
    pods = factory.informer(PODS)
    nodes = factory.informer(NODES)
    priority_classes = factory.informer(PRIORITY_CLASSES)
    recorder = EventRecorder(api, args.scheduler_name, socket.gethostname())
    scheduler = Scheduler(
        api,
        pods=pods,
        nodes=nodes,
        recorder=recorder,
        priority_classes=priority_classes,
        scheduler_name=args.scheduler_name,
    )
    add_health_check("informers-synced", factory.has_synced)
    await factory.start()
    await factory.wait_synced()
    try:
        await scheduler.run()
    finally:
        await recorder.close()


if __name__ == "__main__":
    main(
        "scheduler",
        build,
        description="Assigns pending pods to nodes (filters, scores, binding, preemption).",
        extra_args=add_args,
    )
