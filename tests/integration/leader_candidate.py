"""A leader election candidate as its own process, for tests that pause it
(SIGSTOP) as a frozen VM would be paused.

It campaigns for a Lease and prints what happens, one word per line:
`leading`, `stopped-leading`. Each line `write` on stdin asks it to create a
ConfigMap, which it does only while `is_leader()` holds (printing `wrote NAME`)
and otherwise refuses (printing `refused`).

    python -m tests.integration.leader_candidate --apiserver 127.0.0.1:6444 \
        --lease NAME --identity ID --namespace NS
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from apimachinery.scheme import lookup
from client.api import APIClient
from client.leaderelection import LeaderElector

CONFIGMAPS = lookup("", "v1", "configmaps")


def say(line: str) -> None:
    print(line, flush=True)


async def main(args: argparse.Namespace) -> None:
    api = APIClient(args.apiserver, timeout=5)
    await api.wait_ready()
    elector = LeaderElector(
        api,
        name=args.lease,
        namespace=args.namespace,
        identity=args.identity,
        lease_duration=args.lease_duration,
        renew_deadline=args.renew_deadline,
        retry_period=args.retry_period,
        release_on_cancel=False,
    )

    async def lead() -> None:
        say("leading")
        try:
            await asyncio.Event().wait()
        finally:
            say("stopped-leading")

    async def commands() -> None:
        loop = asyncio.get_running_loop()
        count = 0
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() != "write":
                continue
            if not elector.is_leader():
                say("refused")
                continue
            count += 1
            name = f"{args.identity}-write-{count}"
            await api.create(
                CONFIGMAPS,
                {"metadata": {"name": name, "namespace": args.namespace}, "data": {}},
            )
            say(f"wrote {name}")

    reader = asyncio.create_task(commands())
    while True:
        await elector.run(lead)
        if reader.done():
            return


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--apiserver", required=True)
    p.add_argument("--lease", required=True)
    p.add_argument("--namespace", default="kube-system")
    p.add_argument("--identity", required=True)
    p.add_argument("--lease-duration", type=float, default=4.0)
    p.add_argument("--renew-deadline", type=float, default=2.0)
    p.add_argument("--retry-period", type=float, default=0.5)
    asyncio.run(main(p.parse_args()))
