"""Admission benchmark: how long `apimachinery.validation.admit` takes per object.

Admission (strict decoding, defaults, validation) runs on every write the
apiserver accepts, so its cost adds to every create and update. This measures
it in-process, without etcd or the network, for the seed tutorials' objects
(a Pod, the Redis Deployment, a NodePort Service) and for a large pod spec,
on create and on update.

Writes bench/results/admission.json and bench/results/admission.md.
Run: `.venv/bin/python bench/admission.py [--rounds N]`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apimachinery import scheme, validation  # noqa: E402

SEEDS = ROOT / "tests" / "seeds"
RESULTS = ROOT / "bench" / "results"


def _big_pod() -> dict[str, Any]:
    containers = [
        {
            "name": f"c{i}",
            "image": f"web:v{i}",
            "env": [{"name": f"E{j}", "value": str(j)} for j in range(20)],
            "ports": [{"containerPort": 8000 + i, "name": f"p{i}"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8000 + i}},
            "volumeMounts": [{"name": "data", "mountPath": f"/data{i}"}],
        }
        for i in range(5)
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "big", "labels": {f"l{i}": "v" for i in range(10)}},
        "spec": {"containers": containers, "volumes": [{"name": "data", "emptyDir": {}}]},
    }


def _cases() -> dict[str, dict[str, Any]]:
    def seed(name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load((SEEDS / name).read_text())
        return loaded

    return {
        "pod (seed)": seed("001_pod_monnginx.yaml"),
        "deployment (seed)": seed("001_deployment_redis.yaml"),
        "service (seed)": seed("001_service_mon-serveur-web.yaml"),
        "pod, 5 containers x 20 env": _big_pod(),
    }


def _measure(fn: Any, rounds: int) -> dict[str, float]:
    for _ in range(50):
        fn()
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e6)
    samples.sort()
    return {
        "p50_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[int(len(samples) * 0.99) - 1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
        "rounds": args.rounds,
        "cases": {},
    }
    for name, obj in _cases().items():
        rt = scheme.for_kind(obj["apiVersion"], obj["kind"])
        stored, _ = validation.admit(rt, obj, operation="CREATE")
        stored["metadata"].update(uid="u", resourceVersion="1")
        changed = copy.deepcopy(stored)
        changed["metadata"].setdefault("labels", {})["bench"] = "1"
        results["cases"][name] = {
            "create": _measure(
                lambda rt=rt, obj=obj: validation.admit(rt, obj, operation="CREATE"),
                args.rounds,
            ),
            "update": _measure(
                lambda rt=rt, new=changed, old=stored: validation.admit(
                    rt, new, operation="UPDATE", old=old
                ),
                args.rounds,
            ),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "admission.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Admission latency (in-process, microseconds)",
        "",
        f"{results['machine']}, {results['cpus']} CPUs, load average at start "
        f"{results['load_average_at_start']} (p99 mostly reflects other processes "
        f"on a loaded machine), {args.rounds} rounds per figure.",
        "",
        "| object | create p50 | create p99 | update p50 | update p99 |",
        "|---|---|---|---|---|",
    ]
    for name, r in results["cases"].items():
        lines.append(
            f"| {name} | {r['create']['p50_us']} | {r['create']['p99_us']} | "
            f"{r['update']['p50_us']} | {r['update']['p99_us']} |"
        )
    (RESULTS / "admission.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
