# The README's commands. `make serve` and `make test` each build .venv first if needed.
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/ticketledger

.PHONY: install serve projections rebuild test-setup lint check test mutation screenshots bench verify cluster cluster-status cluster-down switchover verify-cluster restore-drill

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install  ## the API on http://127.0.0.1:8000 (SQLite in var/ unless PERSISTENCE_MODULE says otherwise)
	$(CLI) serve

projections: install  ## the projection process (needed on PostgreSQL)
	$(CLI) projections

rebuild: install  ## rebuild the read tables beside the live ones, then swap them in
	$(CLI) rebuild

test-setup:  ## install or start what the suite needs besides .venv: chromium, PostgreSQL, Redis
	@bash scripts/harness/prepare_tests.sh

lint: install  ## ruff (lint and format) over the tree, mypy --strict over domain/ and application/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: lint  ## the fast inner loop: lint, types, unit and SQLite integration tests (under 2 minutes)
	$(PY) -m pytest -q -n 2 tests/unit tests/integration -m "not postgres and not slow"

test: test-setup lint  ## everything, PostgreSQL included; independent test files side by side
	$(PY) -m pytest -n $(or $(TEST_PROCESSES),4) --dist loadfile

mutation: test-setup install  ## mutation testing of domain/ and application/ (mutmut; not part of `make test`), then the score per package
	HYPOTHESIS_PROFILE=mutation $(VENV)/bin/mutmut run --max-children $(or $(MUTATION_CHILDREN),2)
	$(PY) tests/mutation_summary.py

screenshots: test-setup install  ## the pictures in docs/web-page.md (web/static/screenshots/), from the pages' browser tests
	DASHBOARD_SCREENSHOTS=web/static/screenshots $(PY) -m pytest -q tests/e2e/test_dashboard.py
	PAGE_SCREENSHOTS=web/static/screenshots $(PY) -m pytest -q tests/e2e/test_paying_page.py -k sqlite

bench: install  ## the hot-sale benchmark against the row-locking baseline (needs wrk, PostgreSQL)
	$(CLI) bench

verify: install  ## 90 s of clients on two servers under every kind of fault, then every answer checked against the store
	$(CLI) verify --seconds 90 --faults worker,server,postgres,projector --payments

cluster: install  ## the production topology on this machine (docs/production.md): 3 etcd, 3 Patroni nodes, HAProxy, 2 web hosts, the projection process; over a running one, starts again what died
	@bash scripts/cluster/prepare.sh
	$(PY) -m scripts.cluster up

cluster-status: install  ## who leads, who streams, etcd's members, whether writes go through HAProxy, pgbackrest check
	$(PY) -m scripts.cluster status

restore-drill: install  ## on a running make cluster: a full backup, restored to a point in time on a fresh node, audited there
	$(PY) -m scripts.cluster drill

switchover: install  ## on a running make cluster: hand the leader's role to a standby (Patroni's POST /switchover, naming no candidate), cheaper to start than patronictl
	$(PY) -m scripts.cluster.switchover

cluster-down: install  ## end every process of the topology and remove its data
	$(PY) -m scripts.cluster down

verify-cluster: install  ## the history checker on the Patroni nodes: a host lost for good, switchover, the primary cut off, etcd member and all etcd lost, a web host lost 30 s, the Redis primary lost in a queue flood
	@bash scripts/cluster/prepare.sh
	$(CLI) verify --cluster --seconds $(or $(VERIFY_SECONDS),300) --fault-every 40 --faults host-lost,switchover,partition,etcd-lost,dcs-lost,web-host-lost,redis-lost
