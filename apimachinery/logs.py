"""Logging set-up shared by every component.

Logs are for people: one line per thing that happened, in words, with the
component's name, e.g. `12:00:01 apiserver  compacted etcd up to revision 812`.
"""

from __future__ import annotations

import logging
import os


def setup(component: str, *, verbose: bool = False) -> logging.Logger:
    level = logging.DEBUG if verbose or os.environ.get("KUBELAB_DEBUG") else logging.INFO
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {component:<18} %(levelname).1s %(message)s",
        datefmt="%H:%M:%S",
    )
    # grpc and aiohttp are chatty at INFO about things a user need not see.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return logging.getLogger(component)
