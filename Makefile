# kubelab: `make up` starts a cluster, `make test` runs the tests (see README.md).
# Everything runs from the project's venv (.venv), made by `make dev`.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pytest exits 5 when a level has no test; that is not a failure here.
PYTEST = $(PY) -m pytest -q -rfE

.PHONY: dev up down status images check test test-unit test-e2e bench clean

dev: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

up: dev
	$(VENV)/bin/kubelab up

down: dev
	$(VENV)/bin/kubelab down

status: dev
	$(VENV)/bin/kubelab status

images: dev
	$(VENV)/bin/kubelab images

check: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	@# Generated code must match proto/: regenerate into a copy and compare.
	@tmp=$$(mktemp -d) && cp -r scripts proto genproto $$tmp/ && \
	  PYTHON=$(CURDIR)/$(PY) bash $$tmp/scripts/genproto.sh && \
	  if diff -r -x __pycache__ $$tmp/genproto genproto; then rm -rf $$tmp; \
	  else rm -rf $$tmp; echo "genproto/ is stale: run scripts/genproto.sh" >&2; exit 1; fi

# CI=true (as .ci/run sets it) turns a missing prerequisite into a failure.
test: test-unit test-e2e

test-unit: dev
	$(PYTEST) tests/unit tests/integration || test $$? -eq 5

# Images are built first, outside pytest: on a fresh machine that takes minutes
# (debootstrap), more than one test's timeout. The session's `kubelab up` then
# only starts containers; its first test may wait for it, hence the longer limit.
test-e2e: dev images
	$(PYTEST) -o timeout=900 tests/e2e || test $$? -eq 5

bench: dev
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache
