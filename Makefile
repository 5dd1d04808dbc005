# langstack: `make run` sets up and runs the main job; `make test` sets up and runs the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup run test clean-venv

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

setup: $(STAMP)

# The main job: Collect & Infer learns Triple Stack from scratch (the CLIP detector is built
# and cached on first use), ending with the eval figure, the learning curve and an eval video.
run: setup
	mkdir -p runs
	$(BIN)/langstack train --task "stack all three objects" --max-env-steps 50000 --seed 0

test: setup
	$(BIN)/python -m pytest -q --durations=20

clean-venv:
	rm -rf $(VENV)
