# Set-up is implicit: every target first makes sure .venv holds bioner and its dependencies.
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Where pip takes torch from. Empty: pip's own configuration (e.g. a local store holding the CPU
# wheel). PyPI's Linux wheel of the same version is the CUDA build, so elsewhere use
# `make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu` for the CPU wheel.
TORCH_INDEX ?=

.PHONY: setup demo test lint

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# torch first and exactly pinned: the CPU wheel, never a newer CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet -e '.[dev]'
	# Headless Chromium for the service's browser test (which skips, saying so, without it).
	command -v chromium >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) \
		|| echo "chromium not installed: the browser test will be skipped"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bioner annotate --to terminal "Germline mutations in BRCA1 (c.68_69delAG) \
	predispose women to breast and ovarian cancer. In MCF-7 cells, tamoxifen reduced the \
	expression of the estrogen receptor and of TP53 in mice."

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

test: $(STAMP) lint
	$(VENV)/bin/pytest -q
