# The two commands a fresh machine needs: `make demo` and `make test`. Both set up first
# (idempotent, quick when nothing changed).
SHELL := /bin/bash
ENV := source ./env.sh &&

.PHONY: setup demo test lint clean
setup:
	@bash scripts/setup.sh

demo: setup
	@$(ENV) pa-grasp-demo

test: setup
	@$(ENV) ruff check .
	@$(ENV) pytest

lint: setup
	@$(ENV) ruff check . && ruff format --check .

clean:
	rm -rf build install log env.sh
