# The two commands of the README: `make run` and `make test`.
# Both build a local virtualenv (.venv) from the pinned requirements first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv dev-venv env lint format worker beat bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

venv: $(VENV)/.runtime
dev-venv: $(VENV)/.dev

# A .env for the quick start: debug on, fresh random keys, SQLite, embedded broker.
.env: | $(BIN)/python
	@$(BIN)/python scripts/write_dev_env.py > .env
	@echo "Wrote .env (DEBUG on, new random SECRET_KEY and FIELD_ENCRYPTION_KEY)."

# The Procfile's web, worker and beat under honcho; Ctrl-C stops them all. Callback
# URLs and the sandbox's allowlist entry follow HOST and PORT (over .env's port 8000)
# unless they are in the environment. honcho gets an empty env file: Django reads .env
# itself, and the environment must win over it.
run: export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: export OUTBOUND_PRIVATE_ALLOWLIST ?= $(HOST):$(PORT),localhost:$(PORT)
run: export HOST := $(HOST)
run: venv .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  ccp_console is starting at http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho --env /dev/null start --port $(PORT)

# Lint, format check, then the whole suite on real PostgreSQL and Redis, and the
# browser tests in headless Chromium, and the fault tests on PostgreSQL, Redis and
# PgBouncer instances of their own (chromium, pgbouncer and the redis-server binary
# installed from Debian when missing). The
# migrations check runs on in-memory SQLite: it needs no server, and its history check
# would warn about a database that only pytest creates.
test: dev-venv
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_pgbouncer.sh
	bash scripts/ensure_redis_server.sh
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run --settings=ccp_console.settings_test
	$(BIN)/pytest -n 2 --dist loadfile

format: dev-venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: venv
	$(BIN)/celery -A ccp_console worker --loglevel INFO

beat: venv
	$(BIN)/celery -A ccp_console beat --loglevel INFO

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm run media staticfiles .pytest_cache .ruff_cache
