"""Events: what happened to an object, in the words `kubectl describe` shows.

`EventRecorder.event(obj, "Normal", "Scheduled", "Successfully assigned ...")`
writes a core/v1 Event about `obj` (involvedObject, reason, message, type,
source.component/host, firstTimestamp/lastTimestamp, count). As upstream's
event correlator, a repeat of the same (object, type, reason, message) within
10 minutes updates the existing Event's count and lastTimestamp instead of
creating another one. Recording never blocks and never raises: events are
queued and written by a background task; if the apiserver is unreachable they
are dropped with a debug log (events are best effort in Kubernetes too).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from client.api import APIClient

log = logging.getLogger("client.events")

NORMAL = "Normal"
WARNING = "Warning"


class EventRecorder:
    """Records Events on behalf of `component` (e.g. "default-scheduler") on `host`."""

    def __init__(self, api: APIClient, component: str, host: str = "") -> None:
        self.api = api
        self.component = component
        self.host = host

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an event about `obj` (an object with apiVersion, kind, metadata).

        Fire and forget: returns at once, never raises.
        """
        raise NotImplementedError

    async def flush(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the events recorded so far are written (or dropped)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Write what is queued (briefly), then stop the background task."""
        raise NotImplementedError
