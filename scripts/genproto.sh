#!/usr/bin/env bash
# Regenerates the gRPC code in genproto/ from proto/*.proto. The generated
# package is never edited by hand; CI runs this and fails if the result differs
# from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
rm -f genproto/*_pb2*.py genproto/*_pb2*.pyi
"$PY" -m grpc_tools.protoc -Igenproto=proto \
    --python_out=. --grpc_python_out=. --pyi_out=. proto/*.proto
