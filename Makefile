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

# Airflow 3 pins many packages, so it gets a venv of its own; the airflow tests run DAGs with its python.
AIRFLOW_VENV ?= .venv-airflow

$(AIRFLOW_VENV)/.installed: pyproject.toml
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install -q --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install -q -e '.[airflow,airflow-kubernetes]'
	@touch $@

.PHONY: airflow-venv
airflow-venv: $(AIRFLOW_VENV)/.installed  ## The Airflow 3 venv (.venv-airflow): task-api[airflow] and the Kubernetes provider.

.PHONY: lint
lint: $(VENV)/.installed  ## ruff and the import layers.
	$(VENV)/bin/ruff check task_api task_api_operator task_api_operators tests bench examples
	$(VENV)/bin/ruff format --check task_api task_api_operator task_api_operators tests bench
	$(VENV)/bin/lint-imports

.PHONY: format
format: $(VENV)/.installed
	$(VENV)/bin/ruff format task_api task_api_operator task_api_operators tests bench
	$(VENV)/bin/ruff check --fix task_api task_api_operator task_api_operators tests bench examples

.PHONY: typecheck
typecheck: $(VENV)/.installed  ## mypy --strict.
	$(VENV)/bin/mypy

.PHONY: schemas
schemas: $(VENV)/.installed  ## Regenerate the published JSON Schemas in schemas/ from the models.
	$(PY) -m task_api.cli schema pc > schemas/processing-container.schema.json
	$(PY) -m task_api.cli schema task > schemas/task.schema.json

.PHONY: docker-up
docker-up: deps  ## Start the Docker engine when it is not running.
	hack/docker-up.sh

.PHONY: image
image: install docker-up  ## Build the operator image task-api-operator:dev (base from debootstrap, cached).
	hack/image/build.sh

.PHONY: image-push
image-push: image  ## Push the operator image to the test bed registry as 127.0.0.1:5000/task-api/operator:dev.
	hack/image/push.sh

.PHONY: deploy-testbed
deploy-testbed: image-push  ## Deploy the operator into the test bed (manifests/overlays/testbed).
	hack/deploy-testbed.sh

.PHONY: undeploy-testbed
undeploy-testbed:  ## Remove the operator from the test bed.
	hack/deploy-testbed.sh --delete

.PHONY: build-binaries
build-binaries:  ## Build Kubernetes and etcd from upstream Go modules into ~/.cache/task-api (cached by version).
	hack/build-binaries.sh

.PHONY: testbed-up
testbed-up: deps  ## Bring the Kubernetes test bed up (no-op when healthy; FRESH=1 for a new cluster; KWOK_NODES=N on a fleet bed).
	hack/testbed/up.sh $(if $(FRESH),--fresh) $(if $(KWOK_NODES),--nodes $(KWOK_NODES))

.PHONY: testbed-down
testbed-down:  ## Stop the test bed and remove everything it left on the machine (PURGE=1: its state too).
	hack/testbed/down.sh $(if $(PURGE),--purge)

.PHONY: testbed-status
testbed-status:  ## Show the test bed's components; exit status 0 only when all are healthy.
	hack/testbed/status.sh

.PHONY: bench-testbed
bench-testbed: install  ## Warm testbed-up time to Node Ready vs. etcd alone (a separate bench bed; the shared one is untouched).
	$(PY) bench/testbed_up.py

.PHONY: bench-inspect
bench-inspect: install docker-up  ## Inspect a 1 GiB image's processing-container.json vs. docker pull of it.
	$(PY) bench/inspect_vs_pull.py

.PHONY: bench-scan
bench-scan: install  ## Input-size scan vs. du -sb on 200k files (tree cached under ~/.cache/task-api/bench).
	$(PY) bench/scan_vs_du.py

.PHONY: bench-run
bench-run: install docker-up  ## task-api run --watch vs. the equivalent docker run (examples/01-hello-world).
	$(PY) bench/run_overhead.py

.PHONY: bench-airflow
bench-airflow: install airflow-venv docker-up testbed-up deploy-testbed  ## Three-task Airflow DAG vs. its pods' run times; vs. KubernetesPodOperator.
	$(PY) bench/airflow_pipeline.py 3
	$(PY) bench/airflow_kpo.py 3

.PHONY: bench-legacy
bench-legacy: $(VENV)/.installed  ## Legacy staging (copy, link) vs. cp -a of the same 100-element batch.
	$(PY) bench/legacy_stage.py

.PHONY: unit
unit: $(VENV)/.installed  ## Pure tests only: no Docker, no registry, no cluster.
	$(VENV)/bin/pytest -m 'not docker and not registry and not cluster and not airflow' -q

.PHONY: crds
crds: $(VENV)/.installed  ## Regenerate crds/ from the models (a test fails when they drift).
	$(PY) hack/gen_crds.py crds

.PHONY: demo
demo: install docker-up testbed-up deploy-testbed  ## The main job end to end: operator, examples, kubectl get taskruns.
	hack/demo.sh

# Burst sizes of bench-scale (docs/scaling.md); e.g. SCALE_SIZES=2000 for a shorter run.
SCALE_SIZES ?= 2000 10000

.PHONY: bench-scale
bench-scale: install docker-up  ## F1-F5 on a simulated fleet (kwok, 100 nodes): bursts, steady load, API cost, memory, restart.
	$(PY) -m bench.scale --sizes $(SCALE_SIZES)

.PHONY: profile-scale
profile-scale: install docker-up  ## py-spy samples of the operator under a burst of 2000 on the fleet (build/scale/).
	$(PY) -m bench.scale_burst 2000 --profile build/scale

.PHONY: bench-operator
bench-operator: install testbed-up deploy-testbed  ## P1-P3: burst vs direct pods, latency at 5/s, RSS over 2000 runs.
	$(PY) -m bench.operator_burst 300
	$(PY) -m bench.operator_burst 300 --cordon
	$(PY) -m bench.operator_latency 5 60
	$(PY) -m bench.operator_memory 2000 250

.PHONY: bench-memory
bench-memory: install docker-up testbed-up deploy-testbed  ## Node agent: peak accuracy vs known allocations, its CPU/memory; cost of run --watch's peak sampling.
	$(PY) -m bench.memory_agent --repeat 3 --pods 10 --window 60
	$(PY) -m bench.monitor_cost --repeat 7

# The chaos suite (tests/chaos, docs/reliability.md) at full size; `make test` runs it at the "ci" size (the default
# of TASK_API_CHAOS_SCALE). It restarts the test bed's API server, etcd and registry for seconds at a time.
.PHONY: chaos
chaos: install airflow-venv docker-up testbed-up  ## Fault-injection scenarios at full size; results in build/chaos/.
	rm -rf build/chaos/evidence
	TASK_API_CHAOS_SCALE=$${TASK_API_CHAOS_SCALE:-full} $(VENV)/bin/pytest -q -s tests/chaos
	$(PY) -m tests.chaos.results

.PHONY: test
test: install airflow-venv lint typecheck docker-up testbed-up  ## The whole suite (brings the test bed up).
	$(VENV)/bin/pytest -q
