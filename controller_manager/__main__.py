"""`python -m controller_manager`: the controller-manager process."""

from __future__ import annotations

from client import component
from controller_manager.app import add_arguments, build

if __name__ == "__main__":
    component.main(
        "controller-manager",
        build,
        description="Runs kubelab's controllers (ReplicaSet, Deployment, garbage collector, "
        "namespace, endpoints, node lifecycle, taint eviction, pod GC).",
        extra_args=add_arguments,
    )
