"""`python -m kubelab.probe URL...`: the containers' health check.

Exits 0 when every URL answers 200 within two seconds, 1 otherwise (printing
why), so Docker's health status reflects the component's /healthz.
"""

from __future__ import annotations

import sys
import urllib.request


def healthy(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200, f"{url}: {response.status}"
    except OSError as e:
        return False, f"{url}: {e}"


def main(urls: list[str]) -> int:
    ok = True
    for url in urls:
        good, why = healthy(url)
        if not good:
            print(why)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
