# psi0 — the two commands a new user needs:
#   make test   set up (if needed), build, lint, run every test
#   make demo   set up (if needed), run the main job on the simulated G1
SHELL := /bin/bash
ENV := source tools/env.sh &&
PYTEST_ARGS ?=

.PHONY: setup test lint demo bench clean

setup:
	@bash tools/setup.sh

lint: setup
	@$(ENV) ruff check src tests benchmarks tools launch

test: setup lint
	@$(ENV) python -m pytest $(PYTEST_ARGS)

demo: setup
	@$(ENV) python -m psi0.demo

clean:
	rm -rf build install log .pytest_cache
