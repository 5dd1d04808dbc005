# langstack: `make run` sets up and runs the main job; `make test` sets up and runs the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup run test clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The main job (until the learning loop lands): the scripted expert builds towers, on video.
run: setup
	mkdir -p runs
	$(BIN)/langstack expert --task "stack all three objects" --episodes 20 --video runs/expert_triple_stack.mp4

test: setup
	$(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV)
