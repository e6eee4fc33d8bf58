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
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from client.api import APIClient

log = logging.getLogger("client.leaderelection")

LeaderCallback = Callable[[], Awaitable[None]]


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
    ) -> None:
        self.api = api
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel

    async def run(self, on_started_leading: LeaderCallback) -> None:
        """Campaign until this candidate leads, then run `on_started_leading()`
        while renewing the lease.

        Returns when leadership is lost (the callback is cancelled first) or
        when the callback returns (the lease is then released). Cancelling
        `run` cancels the callback and, with release_on_cancel, releases the
        lease so another candidate takes over at once.
        """
        raise NotImplementedError

    def is_leader(self) -> bool:
        """Whether this candidate holds the lease and renewed it within renew_deadline."""
        raise NotImplementedError

    def healthy(self) -> bool:
        """A health check: False when we think we lead but renewals are overdue."""
        raise NotImplementedError
