# The README's commands. `make serve` and `make test` each build .venv first if needed.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install serve projections rebuild test bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install  ## the API on http://127.0.0.1:8000 (SQLite in var/ unless PERSISTENCE_MODULE says otherwise)
	$(VENV)/bin/gunicorn -c gunicorn.conf.py

projections: install  ## the projection process (needed on PostgreSQL)
	$(PY) -m projections

rebuild: install  ## empty and replay the read tables
	$(PY) scripts/rebuild_projections

test: install  ## the whole suite, PostgreSQL included (it must be running)
	$(PY) -m pytest

bench: install  ## the hot-sale benchmark against the row-locking baseline (needs wrk, PostgreSQL)
	$(PY) scripts/bench/run.py
