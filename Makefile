# vertex-gateway: every target installs what it needs into .venv (Python) and node_modules (buf).
# Quick start: `make serve` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMPS := .make-stamps
export PYTHONPATH := $(CURDIR):$(CURDIR)/clients/python

.PHONY: serve test lint typecheck protos check-protos buf-lint buf-breaking lock clean install install-dev bench bench-embeddings bench-budget bench-compare bench-tools soak

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMPS)/runtime: requirements.lock | $(PY)
	$(PIP) install -q --require-hashes -r requirements.lock
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/dev: requirements-dev.lock | $(PY)
	$(PIP) install -q --require-hashes -r requirements-dev.lock
	@mkdir -p $(STAMPS) && touch $@ $(STAMPS)/runtime

$(STAMPS)/node: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

install: $(STAMPS)/runtime
install-dev: $(STAMPS)/dev $(STAMPS)/node $(STAMPS)/bench-tools

# The benchmark's fake upstream (nginx) and load generator (h2load), from Debian's packages.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(STAMPS)/bench-tools:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] && command -v h2load >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q nginx-light nghttp2-client; }
	@mkdir -p $(STAMPS) && touch $@
bench-tools: $(STAMPS)/bench-tools

# The benchmarks' interpreter: Debian's CPython 3.11, built with profile-guided and link-time
# optimisation like the python:3.11 images the gateway ships in (deploy/Dockerfile). pyenv's
# default build, often the `python3` on PATH, has neither and runs the gateway's Python about
# 17% slower, so measuring on it would misstate production. BENCH_PYTHON=... measures another.
BENCH_PYTHON ?= /usr/bin/python3.11
BENCH_TAG := $(subst /,_,$(BENCH_PYTHON))
BENCH_VENV := .bench/venv
BENCH_PY := $(BENCH_VENV)/bin/python
$(STAMPS)/bench-python$(BENCH_TAG): requirements.lock
	@[ -x $(BENCH_PYTHON) ] && $(BENCH_PYTHON) -c 'import ensurepip' 2>/dev/null || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3.11 python3.11-venv; }
	rm -rf $(BENCH_VENV) $(STAMPS)/bench-python*
	$(BENCH_PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --require-hashes -r requirements.lock
	@mkdir -p $(STAMPS) && touch $@

# LiteLLM's proxy, pinned, in a virtual environment of its own (the benchmark's peer), on the
# same interpreter as the gateway.
LITELLM_VERSION := 1.106.2
$(STAMPS)/litellm-$(LITELLM_VERSION)$(BENCH_TAG): | $(STAMPS)/bench-python$(BENCH_TAG)
	rm -rf .bench/litellm-venv $(STAMPS)/litellm*
	$(BENCH_PYTHON) -m venv .bench/litellm-venv
	.bench/litellm-venv/bin/pip install -q "litellm[proxy]==$(LITELLM_VERSION)" "google-auth==2.62.2"
	@mkdir -p $(STAMPS) && touch $@

## Side-by-side benchmark: floor, gateway, LiteLLM, upstream; writes bench/results/perf.{json,md}.
bench: install-dev $(STAMPS)/bench-python$(BENCH_TAG) $(STAMPS)/litellm-$(LITELLM_VERSION)$(BENCH_TAG)
	$(BENCH_PY) -m bench.perf.run $(ARGS)

## Ten minutes of mixed load with injected faults, watching RSS, descriptors and threads.
soak: install-dev
	$(PY) -m bench.soak.run $(ARGS)

## Embedding throughput, gateway vs the emulator called directly (bench/results/embeddings.md).
bench-embeddings: install-dev
	$(PY) -m bench.embeddings.run $(ARGS)

## Where a Chat call's CPU goes: the floor, the contract, one upstream POST, the gateway.
bench-budget: install-dev $(STAMPS)/bench-python$(BENCH_TAG)
	$(BENCH_PY) -m bench.perf.budget $(ARGS)

## The gateway's Chat, source trees side by side in alternating rounds: TREES="HEAD~1 ." by default.
TREES ?= HEAD~1 .
bench-compare: install-dev $(STAMPS)/bench-python$(BENCH_TAG)
	$(BENCH_PY) -m bench.perf.compare $(TREES) $(ARGS)

## Run the gateway (against the embedded emulator when no Google project is configured).
serve: $(STAMPS)/runtime
	$(PY) -m server $(ARGS)

## Regenerate the Python stubs from protos/ into clients/python/.
protos: $(STAMPS)/dev
	$(PY) scripts/gen_protos.py

## Fail when the committed stubs differ from what protos/ generates.
check-protos: $(STAMPS)/dev
	$(PY) scripts/gen_protos.py --check

buf-lint: $(STAMPS)/node
	./node_modules/.bin/buf lint

## Fail when protos/ breaks the contract of the previous commit (buf's FILE rules).
buf-breaking: $(STAMPS)/node
	@if git rev-parse -q --verify HEAD~1 >/dev/null; then \
	  ./node_modules/.bin/buf breaking --against '.git#ref=HEAD~1'; \
	else echo "buf breaking: no previous commit to compare with"; fi

lint: $(STAMPS)/dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMPS)/dev
	$(VENV)/bin/mypy server emulator clients/python

## The whole suite: lint, types, schema checks, stub staleness, tests.
test: install-dev
	$(MAKE) --no-print-directory buf-lint buf-breaking check-protos lint typecheck
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## Re-resolve the pinned lock files from pyproject.toml (needs network to PyPI).
lock: $(STAMPS)/dev
	$(VENV)/bin/pip install -q uv
	$(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -q -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements-dev.lock

clean:
	rm -rf $(VENV) $(STAMPS) node_modules .mypy_cache .ruff_cache .pytest_cache
