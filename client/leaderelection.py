"""Leader election on a coordination.k8s.io/v1 Lease, as client-go does it.

Several replicas of the scheduler or the controller-manager may run; one
leads. Each candidate reads the Lease `<name>` in `kube-system`: if it is
free, or its holder has not renewed within leaseDurationSeconds (measured on
the candidate's own clock from when it last saw the record change, so clocks
need not agree), the candidate writes itself as holderIdentity, with the
resourceVersion it read as a precondition: of two candidates racing, the
apiserver accepts one and answers 409 Conflict to the other. The leader then
renews renewTime every retry_period; if it cannot renew for renew_deadline, it
steps down and its work is cancelled, before the lease can expire and someone
else take over. Defaults are upstream's: 15 s lease, 10 s renew deadline,
2 s retry period.

A leader paused long enough (SIGSTOP, a frozen VM) may wake up after another
candidate took over, and its work may run a step before the renew loop
notices. Work that must never overlap checks `is_leader()` before writing: it
is False as soon as the last successful renewal is older than renew_deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from apimachinery import errors, meta
from apimachinery.scheme import lookup
from client.api import APIClient
from client.events import NORMAL, EventRecorder

log = logging.getLogger("client.leaderelection")

LeaderCallback = Callable[[], Coroutine[Any, Any, None]]

LEASES = lookup("coordination.k8s.io", "v1", "leases")
JITTER = 1.2


class LeaderElector:
    """One candidate in the election for the Lease `namespace/name`."""

    def __init__(
        self,
        api: APIClient,
        *,
        name: str,
        namespace: str = "kube-system",
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        release_on_cancel: bool = True,
        recorder: EventRecorder | None = None,
    ) -> None:
        """`recorder`, when given, records upstream's `LeaderElection` Event
        ("<identity> became leader") on the Lease at each acquisition."""
        if not lease_duration > renew_deadline > retry_period * JITTER > 0:
            raise ValueError(
                "leader election needs lease_duration > renew_deadline > retry_period * 1.2 > 0"
            )
        self.api = api
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self.recorder = recorder
        self._lease: dict[str, Any] | None = None  # as last written by us
        self._leading = False
        self._last_renew = -math.inf  # monotonic time of the last successful write
        self._observed_spec: dict[str, Any] | None = None
        self._observed_time = -math.inf  # monotonic time we saw the record change
        self._reported_holder = ""

    @property
    def lease(self) -> str:
        return f"{self.namespace}/{self.name}"

    # --- the election ----------------------------------------------------------------

    async def run(self, on_started_leading: LeaderCallback) -> None:
        """Campaign until this candidate leads, then run `on_started_leading()`
        while renewing the lease.

        Returns when leadership is lost (the callback is cancelled first) or
        when the callback returns; raises what the callback raised. Cancelling
        `run` cancels the callback. In every case but a lost lease, the lease
        is then released when release_on_cancel is set, so that another
        candidate takes over at once instead of waiting for it to expire.
        """
        await self.acquire()
        work = asyncio.create_task(on_started_leading(), name=f"leading {self.lease}")
        renew = asyncio.create_task(self._renew_loop(), name=f"renewing {self.lease}")
        lost = False
        try:
            await asyncio.wait({work, renew}, return_when=asyncio.FIRST_COMPLETED)
            lost = renew.done()
        finally:
            for task in (work, renew):
                task.cancel()
            await asyncio.gather(work, renew, return_exceptions=True)
            if not lost and self._leading and self.release_on_cancel:
                await self.release()
            self._leading = False
        if lost:
            log.warning(
                "%s lost the lease %s (could not renew it within %.0fs): stopped leading",
                self.identity,
                self.lease,
                self.renew_deadline,
            )
            return
        failure = None if work.cancelled() else work.exception()
        if failure is not None:
            raise failure

    async def acquire(self) -> None:
        """Return once this candidate holds the lease (tries every retry_period)."""
        log.info("%s is trying to acquire the lease %s", self.identity, self.lease)
        while True:
            if await self.try_acquire_or_renew():
                self._leading = True
                log.info("%s acquired the lease %s: now leading", self.identity, self.lease)
                if self.recorder is not None and self._lease is not None:
                    self.recorder.event(
                        self._lease, NORMAL, "LeaderElection", f"{self.identity} became leader"
                    )
                return
            await asyncio.sleep(self.retry_period * random.uniform(1.0, JITTER))

    async def _renew_loop(self) -> None:
        """Renew every retry_period; return when renewing failed for renew_deadline."""
        while True:
            await asyncio.sleep(self.retry_period)
            deadline = self._last_renew + self.renew_deadline
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._leading = False
                    return
                try:
                    async with asyncio.timeout(remaining):
                        renewed = await self.try_acquire_or_renew()
                except TimeoutError:
                    renewed = False
                if renewed:
                    break
                remaining = deadline - time.monotonic()
                await asyncio.sleep(max(0.0, min(self.retry_period, remaining)))

    async def try_acquire_or_renew(self) -> bool:
        """One step of the election: take the lease if it is free or expired,
        renew it if it is ours. True when this candidate holds it afterwards."""
        started = time.monotonic()
        now = meta.now_rfc3339_micro()
        try:
            lease = await self.api.get(LEASES, self.name, namespace=self.namespace)
        except errors.NotFound:
            return await self._create(started, now)
        except errors.APIError as e:
            log.debug("could not read the lease %s: %s", self.lease, e)
            return False
        spec = dict(lease.get("spec") or {})
        if spec != self._observed_spec:
            self._observed_spec = spec
            self._observed_time = started
        holder = str(spec.get("holderIdentity") or "")
        if holder and holder != self.identity:
            if self._observed_time + self.lease_duration > started:
                if holder != self._reported_holder:
                    log.info("the lease %s is held by %s", self.lease, holder)
                    self._reported_holder = holder
                return False
            log.info(
                "the lease %s held by %s expired (not renewed for %.0fs): taking it",
                self.lease,
                holder,
                self.lease_duration,
            )
        new_spec = dict(spec)
        new_spec["holderIdentity"] = self.identity
        new_spec["leaseDurationSeconds"] = math.ceil(self.lease_duration)
        new_spec["renewTime"] = now
        if holder != self.identity:
            new_spec["acquireTime"] = now
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        lease["spec"] = new_spec
        try:
            updated = await self.api.update(LEASES, lease)
        except errors.APIError as e:
            # 409: someone else wrote the lease since we read it.
            log.debug("could not write the lease %s: %s", self.lease, e)
            return False
        self._observed(updated, started)
        return True

    async def _create(self, started: float, now: str) -> bool:
        lease = {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": math.ceil(self.lease_duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }
        try:
            created = await self.api.create(LEASES, lease, namespace=self.namespace)
        except errors.APIError as e:
            log.debug("could not create the lease %s: %s", self.lease, e)
            return False
        self._observed(created, started)
        return True

    def _observed(self, lease: dict[str, Any], started: float) -> None:
        self._lease = lease
        self._observed_spec = dict(lease.get("spec") or {})
        self._observed_time = started
        self._last_renew = started
        self._reported_holder = self.identity

    async def release(self) -> None:
        """Give the lease up (holder cleared, 1 s duration) if we still hold it,
        so that another candidate takes over without waiting for it to expire."""
        with contextlib.suppress(errors.APIError, TimeoutError):
            async with asyncio.timeout(max(1.0, self.retry_period)):
                lease = await self.api.get(LEASES, self.name, namespace=self.namespace)
                spec = dict(lease.get("spec") or {})
                if spec.get("holderIdentity") != self.identity:
                    return
                now = meta.now_rfc3339_micro()
                spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=now)
                lease["spec"] = spec
                await self.api.update(LEASES, lease)
                log.info("%s released the lease %s", self.identity, self.lease)
        self._leading = False

    # --- state -------------------------------------------------------------------------

    def is_leader(self) -> bool:
        """Whether this candidate holds the lease and renewed it within renew_deadline."""
        return self._leading and time.monotonic() - self._last_renew < self.renew_deadline

    def healthy(self) -> bool:
        """A health check: False when we think we lead but renewals are overdue."""
        return not self._leading or time.monotonic() - self._last_renew < self.lease_duration
