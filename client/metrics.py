"""Prometheus metrics of the client machinery, named after the component.

A scheduler's workqueue reports `scheduler_workqueue_depth{name="scheduler"}`,
the controller-manager's `controller_manager_workqueue_depth{name="deployment"}`:
the same families upstream exposes (workqueue depth, adds, retries; informer
events), prefixed with the component's name so that the metrics of several
components scraped into one Prometheus never collide. `client.component.main`
sets the prefix before anything else runs; tests get the default `kubelab`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import prometheus_client

_prefix = "kubelab"
# Upstream's workqueue buckets: 1 us to 10 s, by factors of 10.
_DURATION_BUCKETS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)
_families: dict[str, _Families] = {}


@dataclass(frozen=True)
class _Families:
    workqueue_depth: prometheus_client.Gauge
    workqueue_adds: prometheus_client.Counter
    workqueue_retries: prometheus_client.Counter
    workqueue_queue_duration: prometheus_client.Histogram
    workqueue_work_duration: prometheus_client.Histogram
    informer_events: prometheus_client.Counter
    informer_relists: prometheus_client.Counter


def metric_prefix(component: str) -> str:
    """`controller-manager` -> `controller_manager`: a valid metric name prefix."""
    cleaned = re.sub(r"[^a-zA-Z0-9_]", "_", component).strip("_") or "kubelab"
    return cleaned if not cleaned[0].isdigit() else f"_{cleaned}"


def set_component(component: str) -> None:
    """Name the metrics created from now on after `component`."""
    global _prefix  # noqa: PLW0603
    _prefix = metric_prefix(component)


def families() -> _Families:
    """The metric families for the current prefix, registered once per process."""
    found = _families.get(_prefix)
    if found is None:
        p = _prefix
        found = _Families(
            workqueue_depth=prometheus_client.Gauge(
                f"{p}_workqueue_depth", "Current depth of the workqueue.", ["name"]
            ),
            workqueue_adds=prometheus_client.Counter(
                f"{p}_workqueue_adds", "Keys added to the workqueue.", ["name"]
            ),
            workqueue_retries=prometheus_client.Counter(
                f"{p}_workqueue_retries", "Keys requeued with backoff after a failure.", ["name"]
            ),
            workqueue_queue_duration=prometheus_client.Histogram(
                f"{p}_workqueue_queue_duration_seconds",
                "How long a key waits in the workqueue before a worker takes it.",
                ["name"],
                buckets=_DURATION_BUCKETS,
            ),
            workqueue_work_duration=prometheus_client.Histogram(
                f"{p}_workqueue_work_duration_seconds",
                "How long a worker holds a key (get to done).",
                ["name"],
                buckets=_DURATION_BUCKETS,
            ),
            informer_events=prometheus_client.Counter(
                f"{p}_informer_events",
                "Watch events received by informers.",
                ["resource", "type"],
            ),
            informer_relists=prometheus_client.Counter(
                f"{p}_informer_relists",
                "Full lists made by informers (the first one and every relist).",
                ["resource"],
            ),
        )
        _families[p] = found
    return found
