# The README's commands. Everything installs itself on first use.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: install run demo onboard test test-all ui bench lint clean synth deploy image ui-cloud

# test: the suite; infra: the AWS stack and its scanners; cloud: what the image adds
$(STAMP): pyproject.toml infra/install.sh infra/scanners.txt
	bash infra/install.sh $(VENV) test,infra,cloud
	@touch $(STAMP)

install: $(STAMP)

# the local Dagster instance: no telemetry; runs that write the warehouse go one at a time
INSTANCE := $(DAGSTER_HOME)/dagster.yaml
$(INSTANCE): Makefile
	@mkdir -p $(DAGSTER_HOME)
	@printf 'telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n' > $@

## run: demo data (first time), every asset on the local lake, and a summary
run: install $(INSTANCE)
	$(PY) -m orchestration.cli run $(ARGS)

## demo: regenerate demo deliveries, e.g. `make demo ARGS="--preset tiny --faults"`
demo: install
	$(PY) -m orchestration.cli demo $(ARGS)

## onboard: propose a sources file for a folder of delivered files and dry-run it, e.g. `make onboard DIR=exports`
onboard: install
	@test -n "$(DIR)" || { echo 'usage: make onboard DIR=<folder of delivered files> [ARGS="--out FILE"]' >&2; exit 2; }
	$(PY) -m orchestration.cli onboard "$(DIR)" $(ARGS)

## test: the whole suite; slow end-to-end tests included
test: install $(INSTANCE)
	$(PY) -m pytest $(ARGS)

## test-fast: unit tests only
test-fast: install
	$(PY) -m pytest -m "not slow" $(ARGS)

## ui: the Dagster UI on the same lake and run history (http://127.0.0.1:3000)
ui: install $(INSTANCE)
	env --default-signal=INT,TERM $(VENV)/bin/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

## bench: ingestion, the marts build and the gates at the large preset, each against plain DuckDB
bench: install
	$(PY) -m benchmarks.ingest $(ARGS)
	$(PY) -m benchmarks.marts $(ARGS)
	$(PY) -m benchmarks.gates $(ARGS)

## lint: ruff's checks and formatting
lint: install
	$(VENV)/bin/ruff check orchestration expectations infra tests benchmarks
	$(VENV)/bin/ruff format --check orchestration expectations infra tests benchmarks

clean:
	rm -rf lake .dagster .bench

# ---- the AWS deployment (infra/README.md) ------------------------------------------------
CDK       := npx --yes aws-cdk@2.1148.1
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD)
CDK_ARGS  ?=
CDK_RUN   := cd infra && PYTHON=$(abspath $(PY)) $(CDK)

## synth: the stack as a CloudFormation template in infra/cdk.out, e.g. `make synth CDK_ARGS="-c suppliers=SUP001,SUP002"`
synth: install
	$(CDK_RUN) synth --quiet -c imageTag=$(IMAGE_TAG) $(CDK_ARGS)

## deploy: the stack into the account of the current AWS credentials, then the image it runs
deploy: install
	$(CDK_RUN) deploy -c imageTag=$(IMAGE_TAG) $(CDK_ARGS)
	$(MAKE) image IMAGE_TAG=$(IMAGE_TAG)

## image: build the code location's image and push it to the stack's repository (needs Docker)
image:
	bash infra/push-image.sh $(IMAGE_TAG)

## ui-cloud: the deployed stack's Dagster UI on http://127.0.0.1:3000 through ECS Exec, while it runs
ui-cloud:
	bash infra/ui.sh
