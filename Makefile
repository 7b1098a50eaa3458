# Verbs of the project. `make report` and `make test` are all a newcomer needs; both bootstrap the environment.
# Inside an activated conda env (environment.yml) we use it; otherwise a local .venv made with pip.
SHELL := /bin/bash
ifneq ($(and $(CONDA_PREFIX),$(filter-out base,$(CONDA_DEFAULT_ENV))),)
BIN := $(CONDA_PREFIX)/bin
STAMP := $(CONDA_PREFIX)/.brain-mri-installed
else
BIN := .venv/bin
STAMP := .venv/.installed
endif
PY := $(BIN)/python
CLI := $(BIN)/brain-mri

SMOKE ?= 0
RETRAIN ?= 0
DATA_DIR ?=
REPORT_FLAGS := $(if $(filter 1 true yes,$(SMOKE)),--smoke) $(if $(filter 1 true yes,$(RETRAIN)),--retrain) \
                $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(INPLACE),--inplace)

.PHONY: help install data audit split train evaluate report test test-fast bench dashboard clean
help:
	@echo "make report    run the notebooks end to end with papermill into reports/ (SMOKE=1, RETRAIN=1, DATA_DIR=...)"
	@echo "make test      run the test suite (real-data tests need BRAIN_MRI_DATA)"
	@echo "make test-fast unit tests only: no notebook kernels, servers, browser, training or real data (< 2 min)"
	@echo "make data      download the dataset with kagglehub into data/raw/"
	@echo "make audit | split | train | evaluate | bench | dashboard"

$(STAMP): pyproject.toml
	@if [ "$(BIN)" = ".venv/bin" ] && [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

data: $(STAMP)
	$(CLI) fetch --all

audit: $(STAMP)
	$(CLI) audit $(DATA_DIR)

split: $(STAMP)
	$(CLI) split $(DATA_DIR)

train: $(STAMP)
	$(CLI) train $(if $(DATA_DIR),--data-dir $(DATA_DIR))

evaluate: $(STAMP)
	$(CLI) evaluate $(if $(DATA_DIR),--data-dir $(DATA_DIR))

report: $(STAMP)
	$(CLI) report $(REPORT_FLAGS)
	$(CLI) docs

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not browser and not training and not realdata" --timeout 120

bench: $(STAMP)
	$(CLI) bench

dashboard: $(STAMP)
	$(CLI) dashboard

clean:
	rm -rf reports data/processed .pytest_cache
