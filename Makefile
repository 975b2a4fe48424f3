# Everything runs inside .venv, created on first use from the pinned requirements.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run serve test test-fast test-services test-pgbouncer system-packages bench drill lint format schema docs clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed  ## Serve on 127.0.0.1:$(PORT) with DEBUG on and codes printed to the console
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	@echo "GraphiQL: http://127.0.0.1:$(PORT)/graphql   REST (its OpenAPI document): http://127.0.0.1:$(PORT)/accounts/api/schema/"
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

serve: $(BIN)/.installed  ## Production on one host: gunicorn and the background workers, each restarted if it dies
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/supervisord -c deploy/supervisord.conf

test: $(BIN)/.installed  ## Run the whole test suite
	$(BIN)/python -m pytest

test-fast: $(BIN)/.installed  ## The suite without browsers, server processes and root-only tests
	$(BIN)/python -m pytest -m "not browser and not processes and not root"

# Debian's packages the tests drive: Chromium (browser tests), nginx and PgBouncer
# (the deployment's tests, tests/test_deploy.py). Needs root (CI runs it); the tests
# never install anything.
SYSTEM_PACKAGES := chromium nginx pgbouncer
system-packages:  ## Install Debian's Chromium, nginx and PgBouncer for the tests
	@missing=""; \
	for package in $(SYSTEM_PACKAGES); do \
		dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The same suite on PostgreSQL and Redis. The run creates and drops its own test
# database; it empties the Redis database it is given, so give it one of its own.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
test-services: $(BIN)/.installed  ## Run the test suite against PostgreSQL and Redis
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m pytest

# The tests that start server processes again, every instance reaching PostgreSQL
# through PgBouncer in transaction mode (prepared statements off).
test-pgbouncer: $(BIN)/.installed  ## Run the server-process tests through PgBouncer
	TEST_PGBOUNCER=1 DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/python -m pytest -m processes

# Needs PostgreSQL and Redis on 127.0.0.1 (BENCH_DATABASE_URL, BENCH_REDIS_URL) and wrk.
bench: $(BIN)/.installed  ## Benchmark every endpoint against the constant and the I/O floor
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py --write bench/RESULTS.md
	$(BIN)/python bench/delivery.py --write bench/DELIVERY.md

# Needs PostgreSQL and Redis on 127.0.0.1 (BENCH_DATABASE_URL, BENCH_REDIS_URL).
drill: $(BIN)/.installed  ## Replay SMS pumping, a lockout and real users at once; writes bench/DRILL.md
	$(BIN)/python bench/drill.py --write bench/DRILL.md

lint: $(BIN)/.installed  ## Check formatting, lint and types
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

schema: $(BIN)/.installed  ## Refresh schema.graphql, the SDL that frontends generate code from
	DEBUG=1 $(BIN)/python manage.py graphql_schema --schema schema.schema --out schema.graphql

docs: $(BIN)/.installed  ## Write docs/configuration.md's tables and .env.example from project/configuration.toml
	$(BIN)/python -m project.configuration

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache db.sqlite3 sent_sms
