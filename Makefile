# ov-vlm: two commands, `make demo` and `make test`. Both create/refresh .venv/ first.
#
# Installs come from the committed lock (requirements/lock.txt: every package pinned except torch) unless LOCK is
# empty. `make test-latest` installs from pyproject.toml's ranges instead, into .venv-latest/, to find drift on purpose.
#
# Choosing the torch build (see README, "Installing"):
#   make test                                  # torch==2.13.0: the CPU wheel on the dev machines, CUDA on plain PyPI/Linux
#   make test TORCH="torch==2.9.1" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu128"
# torch is never in the lock: whatever TORCH/TORCH_INDEX install is then pinned while the rest installs.

PYTHON      ?= python3
VENV        ?= .venv
TORCH       ?= torch==2.13.0
TORCH_INDEX ?=
EXTRAS      ?= train,eval,dev
LOCK        ?= requirements/lock.txt
NODEPS_IN   := requirements/nodeps.in
PYTEST_ARGS ?=
# -qq keeps pip's output to errors; use PIP_QUIET= to see everything.
PIP_QUIET   ?= -qq
# Where `make lock` finds the CPU torch wheel that the lock is resolved against (pip's find-links when configured,
# else PyTorch's CPU index).
LOCK_TORCH_SOURCE ?= $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS),--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)

comma  := ,
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ov-vlm-installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check
NODEPS := $(shell grep -v '^\s*\#' $(NODEPS_IN) | grep -v '^\s*$$' | sed 's/.*/"&"/')

.PHONY: setup test test-fast test-latest demo lint format env bench lock gpu-check clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile $(NODEPS_IN) $(LOCK)
	@echo "==> setting up $(VENV) from $(if $(LOCK),$(LOCK),the pyproject ranges): the first run takes a few minutes, later runs skip this"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [1/4] $(TORCH) $(TORCH_INDEX)"
	@$(PIP) install $(PIP_QUIET) "$(TORCH)" $(TORCH_INDEX)
	@$(BIN)/python -c "from importlib.metadata import version; print('torch==' + version('torch'))" \
		> $(VENV)/torch-constraint.txt
ifneq ($(LOCK),)
	@echo "==> [2/4] $(LOCK) (pinned, --no-deps), keeping $$(cat $(VENV)/torch-constraint.txt)"
	@$(PIP) install $(PIP_QUIET) --no-deps -c $(VENV)/torch-constraint.txt -r $(LOCK)
	@echo "==> [3/4] ov-vlm (editable, --no-deps)"
	@$(PIP) install $(PIP_QUIET) --no-deps -e .
else
	@echo "==> [2/4] ov-vlm[$(EXTRAS)] from the ranges, keeping $$(cat $(VENV)/torch-constraint.txt)"
	@$(PIP) install $(PIP_QUIET) --upgrade --upgrade-strategy eager -c $(VENV)/torch-constraint.txt -e ".[$(EXTRAS)]"
	@echo "==> [3/4] the packages in $(NODEPS_IN) (--no-deps)"
	@$(PIP) install $(PIP_QUIET) --upgrade --no-deps $(NODEPS)
endif
	@echo "==> [4/4] checking the environment"
	@$(BIN)/ov-vlm env --check > $(VENV)/env-report.txt || { cat $(VENV)/env-report.txt; exit 1; }
	@touch $(STAMP)
	@echo "==> $(VENV) ready ($$(cat $(VENV)/torch-constraint.txt)); details: $(BIN)/ov-vlm env"

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit-test loop: everything but the tests marked slow.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# The newest releases the ranges allow, in their own venv; the locked .venv stays as it is.
test-latest:
	$(MAKE) test VENV=.venv-latest LOCK=

demo: setup
	$(BIN)/ov-vlm demo

# Re-resolve requirements/lock.txt from pyproject.toml + requirements/nodeps.in (uv, from PyPI), for Python 3.11 on
# Linux x86_64 against the CPU torch; torch itself is left out (it comes from TORCH/TORCH_INDEX).
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install $(PIP_QUIET) "uv>=0.9"
	@echo "$(TORCH)" > $(VENV)/lock-torch.txt
	@$(BIN)/uv pip compile -q pyproject.toml $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)) \
		-c $(VENV)/lock-torch.txt $(LOCK_TORCH_SOURCE) --no-emit-package torch \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		--custom-compile-command "make lock" -o $(VENV)/lock-main.txt
	@$(BIN)/uv pip compile -q $(NODEPS_IN) --no-deps --no-header \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu -o $(VENV)/lock-nodeps.txt
	@{ cat $(VENV)/lock-main.txt; echo "# --- $(NODEPS_IN): installed without their declared dependencies ---"; \
		cat $(VENV)/lock-nodeps.txt; } > requirements/lock.txt
	@echo "==> wrote requirements/lock.txt ($$(grep -c '==' requirements/lock.txt) pins); commit it with pyproject.toml"

lint: setup
	$(BIN)/ruff check ov_vlm tests benchmarks docs
	$(BIN)/ruff format --check ov_vlm tests benchmarks docs

format: setup
	$(BIN)/ruff check --fix ov_vlm tests benchmarks docs
	$(BIN)/ruff format ov_vlm tests benchmarks docs

env: setup
	$(BIN)/ov-vlm env

bench: setup
	$(BIN)/python benchmarks/encoder_sparsity.py

# On a CUDA machine (see benchmarks/gpu_check.py): sdpa vs flash, a bf16 training step, chat TTFT; one table.
gpu-check: setup
	$(BIN)/python benchmarks/gpu_check.py

clean-venv:
	rm -rf $(VENV) .venv-latest
