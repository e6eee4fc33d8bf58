"""`python -m kubelab.launch MODULE ARGS...`: start a component, or wait for it.

The compose topology names every component before all of them are written.
When `MODULE/__main__.py` exists this replaces itself with `python -m MODULE
ARGS...` (same PID, so signals reach the component); otherwise it says so and
idles until stopped, so the rest of the cluster still starts and
`kubelab status` shows that component as not running.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time


def implemented(module: str) -> bool:
    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ImportError:
        return False


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m kubelab.launch MODULE [ARGS...]")
    module, args = argv[0], argv[1:]
    if implemented(module):
        os.execv(sys.executable, [sys.executable, "-m", module, *args])
    print(
        f"kubelab: component {module!r} is not implemented yet (no {module}/__main__.py); "
        "idling until stopped",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
