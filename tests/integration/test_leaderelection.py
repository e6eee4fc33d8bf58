"""Leader election on a real Lease: of two candidates exactly one leads; when
the leader dies the other takes over once the lease expires; a leader cut off
from the apiserver steps down (its work cancelled) before anyone else starts;
a paused leader that lost the lease refuses to write when it wakes up.

Durations are short (6 s lease, 4 s renew deadline, 1 s retry period) so the
tests run fast; every wait is a generous poll, never a timing assertion.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from apimachinery import errors
from apimachinery.scheme import lookup
from client.api import APIClient
from client.leaderelection import LeaderElector
from tests.polling import eventually
from tests.processes import ROOT, ApiserverProcess

pytestmark = pytest.mark.etcd

LEASES = lookup("coordination.k8s.io", "v1", "leases")
CONFIGMAPS = lookup("", "v1", "configmaps")
# Short for fast tests, but with a renew deadline that tolerates a loaded
# machine stalling the event loop for a few seconds.
TIMING = {"lease_duration": 6.0, "renew_deadline": 4.0, "retry_period": 1.0}


class Terms:
    """The log of who started and stopped leading, in order."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []

    def work(self, who: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def lead() -> None:
            self.log.append(("started", who))
            try:
                await asyncio.Event().wait()
            finally:
                self.log.append(("stopped", who))

        return lead

    def leaders(self) -> set[str]:
        current: set[str] = set()
        for what, who in self.log:
            if what == "started":
                current.add(who)
            else:
                current.discard(who)
        return current

    def never_two_at_once(self) -> bool:
        current: set[str] = set()
        for what, who in self.log:
            if what == "started":
                current.add(who)
                if len(current) > 1:
                    return False
            else:
                current.discard(who)
        return True


def elector(api: APIClient, identity: str, lease: str, **kw: Any) -> LeaderElector:
    return LeaderElector(api, name=lease, identity=identity, **{**TIMING, **kw})


async def stop(*tasks: asyncio.Task[None]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_one_leader_then_takeover_after_the_leader_dies(
    apiserver: ApiserverProcess,
) -> None:
    terms = Terms()
    async with APIClient(apiserver.address) as api1, APIClient(apiserver.address) as api2:
        e1 = elector(api1, "one", "takeover", release_on_cancel=False)
        e2 = elector(api2, "two", "takeover", release_on_cancel=False)
        tasks = {
            "one": asyncio.create_task(e1.run(terms.work("one"))),
            "two": asyncio.create_task(e2.run(terms.work("two"))),
        }
        try:
            await eventually(lambda: len(terms.leaders()) == 1, what="a leader")
            (leader,) = terms.leaders()
            other = "two" if leader == "one" else "one"
            lease = await api1.get(LEASES, "takeover", namespace="kube-system")
            spec = lease["spec"]
            assert spec["holderIdentity"] == leader
            assert spec["leaseDurationSeconds"] == 6
            assert spec["leaseTransitions"] == 0
            assert spec["acquireTime"] and spec["renewTime"]

            async def renewed() -> bool:
                current = await api1.get(LEASES, "takeover", namespace="kube-system")
                return bool(current["spec"]["renewTime"] != spec["renewTime"])

            await eventually(renewed, what="a renewal")
            assert terms.leaders() == {leader}
            leading = e1 if leader == "one" else e2
            await eventually(leading.is_leader, what="is_leader() on the leader")
            assert not (e2 if leader == "one" else e1).is_leader()

            # The leader dies without releasing the lease: its renewals stop.
            await stop(tasks[leader])
            await eventually(lambda: terms.leaders() == {other}, what="the takeover")
            lease = await api1.get(LEASES, "takeover", namespace="kube-system")
            assert lease["spec"]["holderIdentity"] == other
            assert lease["spec"]["leaseTransitions"] == 1
            assert terms.never_two_at_once()
        finally:
            await stop(*tasks.values())


async def test_released_lease_is_taken_over(apiserver: ApiserverProcess) -> None:
    terms = Terms()
    async with APIClient(apiserver.address) as api:
        first = asyncio.create_task(elector(api, "first", "release").run(terms.work("first")))
        await eventually(lambda: terms.leaders() == {"first"}, what="the first leader")
        second = asyncio.create_task(elector(api, "second", "release").run(terms.work("second")))
        try:
            await stop(first)  # a clean stop releases the lease
            lease = await api.get(LEASES, "release", namespace="kube-system")
            assert lease["spec"]["holderIdentity"] in ("", "second")
            await eventually(lambda: terms.leaders() == {"second"}, what="the takeover")
            assert terms.never_two_at_once()
        finally:
            await stop(first, second)


class Partition:
    """A loopback TCP relay to the apiserver; `cut()` drops its connections and
    refuses new ones, as a network partition would."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self.target = (host, int(port))
        self.writers: set[asyncio.StreamWriter] = set()
        self.is_cut = False
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def cut(self) -> None:
        self.is_cut = True
        if self.server is not None:
            self.server.close()
        for w in self.writers:
            w.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


async def test_partitioned_leader_steps_down_before_anyone_takes_over(
    apiserver: ApiserverProcess,
) -> None:
    terms = Terms()
    partition = Partition(apiserver.address)
    address = await partition.start()
    async with APIClient(address, timeout=1) as cut_off, APIClient(apiserver.address) as api:
        e1 = elector(cut_off, "cut-off", "partition", release_on_cancel=False)
        t1 = asyncio.create_task(e1.run(terms.work("cut-off")))
        await eventually(lambda: terms.leaders() == {"cut-off"}, what="the first leader")
        t2 = asyncio.create_task(
            elector(api, "connected", "partition").run(terms.work("connected"))
        )
        try:
            partition.cut()
            await eventually(lambda: terms.leaders() == {"connected"}, what="the takeover")
            assert t1.done(), "the cut-off leader's run() returns after stepping down"
            assert not e1.is_leader()
            assert terms.log.index(("stopped", "cut-off")) < terms.log.index(
                ("started", "connected")
            )
            assert terms.never_two_at_once()
        finally:
            await stop(t1, t2)


class Candidate:
    """tests/integration/leader_candidate.py as a process we can pause."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, apiserver: str, lease: str, identity: str, namespace: str) -> Candidate:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.leader_candidate",
            "--apiserver",
            apiserver,
            "--lease",
            lease,
            "--identity",
            identity,
            "--namespace",
            namespace,
            "--lease-duration",
            str(TIMING["lease_duration"]),
            "--renew-deadline",
            str(TIMING["renew_deadline"]),
            "--retry-period",
            str(TIMING["retry_period"]),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode().strip())

    async def command(self, text: str) -> str:
        """Send a command and return the answer line it produces."""
        assert self.proc.stdin is not None
        answers = len([x for x in self.lines if x.startswith(("wrote", "refused"))])
        self.proc.stdin.write(f"{text}\n".encode())
        await self.proc.stdin.drain()

        def answered() -> bool:
            return len([x for x in self.lines if x.startswith(("wrote", "refused"))]) > answers

        await eventually(answered, what=f"an answer to {text!r}")
        return [x for x in self.lines if x.startswith(("wrote", "refused"))][-1]

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
                self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def test_paused_leader_that_lost_the_lease_writes_nothing(
    apiserver: ApiserverProcess, api: APIClient
) -> None:
    ns = "default"
    terms = Terms()
    paused = await Candidate.start(apiserver.address, "paused", "sleeper", ns)
    other: asyncio.Task[None] | None = None
    try:
        await eventually(lambda: "leading" in paused.lines, what="the candidate leading")
        assert await paused.command("write") == "wrote sleeper-write-1"

        paused.proc.send_signal(signal.SIGSTOP)  # frozen between two writes
        e2 = elector(api, "awake", "paused", namespace=ns)
        other = asyncio.create_task(e2.run(terms.work("awake")))
        await eventually(lambda: terms.leaders() == {"awake"}, what="the takeover")
        paused.proc.send_signal(signal.SIGCONT)

        assert await paused.command("write") == "refused"
        await eventually(lambda: "stopped-leading" in paused.lines, what="the step-down")
        assert terms.leaders() == {"awake"}
        with pytest.raises(errors.NotFound):
            await api.get(CONFIGMAPS, "sleeper-write-2", namespace=ns)
        lease = await api.get(LEASES, "paused", namespace=ns)
        assert lease["spec"]["holderIdentity"] == "awake"
    finally:
        await paused.kill()
        if other is not None:
            await stop(other)
