# The README's commands. Everything installs itself on first use.
VENV   := .venv
PY     := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: install run demo simulate onboard trace test test-fast ui bi bench lint clean synth deploy image ui-cloud

# One venv; each command installs the extras it needs on first use, on top of what is there,
# and a stamp per extras set says that set is in (infra/install.sh):
#   BASE   the local loop alone: run, demo, onboard, ui, bench
#   INFRA  + the AWS stack as code and its template scanners: synth, deploy
#   DEV    + the test suite and its tools, and the cloud instance's Postgres: test, lint
#   BENCH  + the forecast's statistical peers (statsforecast) and Spark: bench
BASE  := $(VENV)/.installed-base
INFRA := $(VENV)/.installed-infra
DEV   := $(VENV)/.installed-test,infra,cloud
BENCH := $(VENV)/.installed-bench,spark

$(VENV)/.installed-%: pyproject.toml infra/install.sh
	bash infra/install.sh $(VENV) $*
	@touch $@
$(INFRA) $(DEV): $(BASE) infra/scanners.txt
$(BENCH): $(BASE)

install: $(BASE)

# the local Dagster instance: no telemetry; runs that write the warehouse go one at a time
INSTANCE := $(DAGSTER_HOME)/dagster.yaml
$(INSTANCE): Makefile
	@mkdir -p $(DAGSTER_HOME)
	@printf 'telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n' > $@

## run: demo data (first time), every asset on the local lake, and a summary
run: $(BASE) $(INSTANCE)
	$(PY) -m orchestration.cli run $(ARGS)

## demo: regenerate demo deliveries, e.g. `make demo ARGS="--preset tiny --faults"`
demo: $(BASE)
	$(PY) -m orchestration.cli demo $(ARGS)

## simulate: the closed loop on a demo world: suppliers following the feed vs min/max vs an oracle, e.g. `make simulate ARGS="--weeks 4"`
simulate: $(BASE) $(INSTANCE)
	$(PY) -m orchestration.cli simulate $(ARGS)

## onboard: propose a sources file for a folder of delivered files and dry-run it, e.g. `make onboard DIR=exports`
onboard: $(BASE)
	@test -n "$(DIR)" || { echo 'usage: make onboard DIR=<folder of delivered files> [ARGS="--out FILE"]' >&2; exit 2; }
	$(PY) -m orchestration.cli onboard "$(DIR)" $(ARGS)

## trace: where a number came from, down to the delivered files and rows, e.g. `make trace ARGS="lots F001-L1-20261103-01"`
trace: $(BASE)
	@test -n "$(ARGS)" || { echo 'usage: make trace ARGS="<mart or feed> <key>" (e.g. supplier_replenishment SUP001/SKU0001)' >&2; exit 2; }
	$(PY) -m orchestration.cli trace $(ARGS)

## test: the whole suite; slow end-to-end tests included
test: $(DEV) $(INSTANCE)
	$(PY) -m pytest $(ARGS)

## test-fast: unit tests only
test-fast: $(DEV)
	$(PY) -m pytest -m "not slow" $(ARGS)

## ui: the Dagster UI on the same lake and run history (http://127.0.0.1:3000), the gates' Data Docs beside it (:3001)
ui: $(BASE) $(INSTANCE)
	$(PY) -m orchestration.ui

# Apache Superset lives in .venv-bi (bi/install.sh): its pins are not the project's.
# `make bi` serves WAREHOUSE, else the warehouse of LAKE_ROOT, else of lake/; BI_STATE keeps
# Superset's metadata database, secret key and log (gitignored).
BI_VENV      := .venv-bi
BI_STAMP     := $(BI_VENV)/.installed-stamp
BI_WAREHOUSE  = $(or $(WAREHOUSE),$(or $(LAKE_ROOT),$(CURDIR)/lake)/warehouse.duckdb)
BI_STATE     ?= $(CURDIR)/.state/superset
BI_PORT      ?= 8088

$(BI_STAMP): bi/requirements.txt bi/install.sh
	bash bi/install.sh $(BI_VENV)
	@touch $@

## bi: the planners' dashboard in Apache Superset on the lake's warehouse (http://127.0.0.1:8088, admin / admin)
bi: $(BI_STAMP)
	@case "$(BI_WAREHOUSE)" in *://*) ;; *) test -n "$(WAREHOUSE)" || test -f "$(BI_WAREHOUSE)" || \
	  { echo "bi: no warehouse at $(BI_WAREHOUSE) yet: building the lake first (make run)"; $(MAKE) run; } ;; esac
	$(BI_VENV)/bin/python bi/superset/serve.py --warehouse "$(BI_WAREHOUSE)" --state "$(BI_STATE)" --port $(BI_PORT)

## bench: ingestion, the marts build and the gates at the large preset, each against plain DuckDB; the supplier feeds at 30, 500 and 5,000 suppliers (SUPPLIER_ARGS="--counts 30,500"); with HISTORY=1, 100M order lines over 3 years and a new day at 3 years against 1; the forecast against statsforecast on every demo variant (small preset; FORECAST_ARGS="--preset tiny"); the marts on Spark next to DuckDB (small preset; SPARK_ARGS="--preset tiny")
bench: $(BENCH)
	$(PY) -m benchmarks.ingest $(ARGS)
	$(PY) -m benchmarks.marts $(ARGS)
	$(PY) -m benchmarks.gates $(ARGS)
	$(PY) -m benchmarks.suppliers $(SUPPLIER_ARGS)
	@if [ -n "$(HISTORY)" ]; then $(PY) -m benchmarks.history $(HISTORY_ARGS); \
	  else echo "bench: 100M order lines over 3 years (hours): make bench HISTORY=1"; fi
	$(PY) -m benchmarks.forecast $(FORECAST_ARGS)
	$(PY) -m benchmarks.spark $(SPARK_ARGS)

## lint: ruff's checks and formatting
lint: $(DEV)
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
synth: $(INFRA)
	$(CDK_RUN) synth --quiet -c imageTag=$(IMAGE_TAG) $(CDK_ARGS)

## deploy: the stack into the account of the current AWS credentials, then the image it runs
deploy: $(INFRA)
	$(CDK_RUN) deploy -c imageTag=$(IMAGE_TAG) $(CDK_ARGS)
	$(MAKE) image IMAGE_TAG=$(IMAGE_TAG)

## image: build the code location's image and push it to the stack's repository (needs Docker)
image:
	bash infra/push-image.sh $(IMAGE_TAG)

## ui-cloud: the deployed stack's Dagster UI on http://127.0.0.1:3000 through ECS Exec, while it runs
ui-cloud:
	bash infra/ui.sh
