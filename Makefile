# Two commands for a newcomer: `make run` (main job) and `make test` (tests).
# Each runs the idempotent set-up first (Debian packages, .venv, locked dependencies).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python

.PHONY: help setup setup-test run test test-slow ui sql bench lock

help:
	@echo "make run    - materialise every asset on the real data (fetched and verified first when no cache or mirror holds it; the reference data when it cannot be reached), write the DuckDB warehouse, print a summary"
	@echo "make test   - run the test suite (default: without @slow cases)"
	@echo "make ui     - start Dagit on http://127.0.0.1:3000 with the project loaded"
	@echo "make sql    - the published warehouse in the DuckDB shell, read-only (never blocks a refresh)"
	@echo "make bench  - run the benchmarks and write bench/results/"

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

run: setup
	.venv/bin/chokepoint run

test: setup-test
	$(PY) -m pytest

test-slow: setup-test
	$(PY) -m pytest -m slow

ui: setup
	.venv/bin/chokepoint ui

sql: setup
	.venv/bin/chokepoint sql

bench: setup
	$(PY) -m bench

# Re-resolve requirements.lock from pyproject.toml (needs the network to PyPI).
lock: setup
	.venv/bin/uv pip compile pyproject.toml --extra test --extra tools --python-version 3.11 -o requirements.lock
