"""A minimal component on `client.component.main`, for tests of the common
frame: when it leads (or at once with --no-leader-elect) it creates the
ConfigMap `sample-<tag>` in default and queues one key in a workqueue, then
waits to be stopped.

    python -m tests.integration.sample_component --apiserver HOST:PORT --tag one
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from client.component import main
from client.workqueue import WorkQueue

CONFIGMAPS = lookup("", "v1", "configmaps")


async def build(api: APIClient, args: argparse.Namespace) -> None:
    queue: WorkQueue[str] = WorkQueue("sample")
    queue.add("default/sample")
    with contextlib.suppress(errors.AlreadyExists):
        await api.create(
            CONFIGMAPS,
            {"metadata": {"name": f"sample-{args.tag}", "namespace": "default"}, "data": {}},
        )
    await asyncio.Event().wait()


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tag", required=True)


if __name__ == "__main__":
    main("sample-component", build, description="a test component", extra_args=add_flags)
