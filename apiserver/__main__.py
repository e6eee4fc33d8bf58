"""`python -m apiserver`: see apiserver/server.py for the flags."""

from apiserver.server import main

main()
