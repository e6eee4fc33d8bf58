"""The common `main` of every component process (scheduler, controller-manager,
kubelet, kube-proxy, cluster DNS, ingress).

Each component's `__main__` is one call:

    main("scheduler", build, description="...", extra_args=add_flags)

where `build(api, args)` is an async function that runs the component until
it is cancelled. `main` does the rest the same way for everyone: the common
flags (`--apiserver`, `--health-address`, `--leader-elect/--no-leader-elect`
and upstream's `--leader-elect-*` tuning, `-v`), logging, the health and
metrics endpoints, waiting for the apiserver, leader election on the Lease
named after the component in kube-system (identity `hostname_uuid`), and a
clean stop on SIGTERM or SIGINT (build is cancelled, the lease released).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from apimachinery.serving import HealthCheck
from client.api import APIClient

Build = Callable[[APIClient, argparse.Namespace], Awaitable[None]]
ExtraArgs = Callable[[argparse.ArgumentParser], None]

DEFAULT_APISERVER = "127.0.0.1:6444"
# Upstream's health ports where there is one.
DEFAULT_HEALTH_PORTS = {
    "apiserver": 6445,
    "scheduler": 10259,
    "kube-scheduler": 10259,
    "controller-manager": 10257,
    "kube-controller-manager": 10257,
    "kubelet": 10248,
    "kube-proxy": 10256,
    "cluster-dns": 10053,
    "ingress": 10254,
}

# Checks served on /healthz, /readyz and /livez; a component may add its own
# (from build) with `add_health_check`.
health_checks: dict[str, HealthCheck] = {}


def add_health_check(name: str, check: HealthCheck) -> None:
    """Serve `check` (True = healthy) under `name` on the health endpoints."""
    health_checks[name] = check


def parser(
    name: str,
    *,
    description: str,
    extra_args: ExtraArgs | None = None,
    leader_elect_default: bool = True,
) -> argparse.ArgumentParser:
    """The argument parser with the common flags (plus `extra_args`')."""
    raise NotImplementedError


def main(
    name: str,
    build: Build,
    *,
    description: str,
    extra_args: ExtraArgs | None = None,
    leader_elect_default: bool = True,
    argv: list[str] | None = None,
) -> None:
    """Run component `name` until SIGTERM/SIGINT; exits the process on failure."""
    raise NotImplementedError
