# openucwa — the two commands in the README are `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DB     ?= $(or $(OPENUCWA_DATABASE),sqlite:///var/openucwa.db)

.PHONY: install serve test check bench bench-events clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/openucwa migrate --database $(DB)
	$(BIN)/openucwa serve --demo --database $(DB)

test: $(STAMP)
	scripts/test

check: $(STAMP)
	scripts/check

bench: $(STAMP)
	scripts/bench

bench-events: $(STAMP)
	scripts/bench --events

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
