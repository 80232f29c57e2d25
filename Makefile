# task-api — `make demo` runs the main job end to end, `make test` runs the whole suite.
# Both install and start everything they need (Debian packages, the venv, Docker, the registry, the test bed).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3.11
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help
help:  ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: deps
deps:  ## Install the Debian packages (docker.io, containerd, registry, ...) when missing.
	hack/install-deps.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,operator]'
	@touch $@

.PHONY: install
install: deps $(VENV)/.installed  ## Install packages and the venv.

.PHONY: lint
lint: $(VENV)/.installed  ## ruff and the import layers.
	$(VENV)/bin/ruff check task_api tests bench examples
	$(VENV)/bin/ruff format --check task_api tests bench
	$(VENV)/bin/lint-imports

.PHONY: format
format: $(VENV)/.installed
	$(VENV)/bin/ruff format task_api tests bench
	$(VENV)/bin/ruff check --fix task_api tests bench examples

.PHONY: typecheck
typecheck: $(VENV)/.installed  ## mypy --strict.
	$(VENV)/bin/mypy

.PHONY: docker-up
docker-up: deps  ## Start the Docker engine when it is not running.
	hack/docker-up.sh

.PHONY: unit
unit: $(VENV)/.installed  ## Pure tests only: no Docker, no registry, no cluster.
	$(VENV)/bin/pytest -m 'not docker and not registry and not cluster and not airflow' -q

.PHONY: test
test: install lint typecheck docker-up  ## The whole suite (brings the test bed up).
	$(VENV)/bin/pytest -q
