# Device refresh tracker. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VENDOR := static/vendor
PORT ?= 8000
# With DEBUG off the settings refuse to start without DJANGO_SECRET_KEY and
# DJANGO_ALLOWED_HOSTS (config/settings.py). Local targets run with DEBUG on unless the
# environment says otherwise; production sets its own variables and never uses these.
DEV_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-1}
# Benchmarks measure the production code path: DEBUG off (no query log), a local key,
# plain HTTP on this machine.
BENCH_ENV := DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-bench-only-key-never-used-to-serve-anything-0123456789} \
	DJANGO_ALLOWED_HOSTS=$${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost,testserver} \
	DJANGO_SECURE_SSL_REDIRECT=$${DJANGO_SECURE_SSL_REDIRECT:-0}
# What `check --deploy` sees: production as README "Security" lists it (DEBUG unset, a
# fresh 50+ character key, a host name), whatever the calling shell has set.
DEPLOY_ENV := env -u DJANGO_DEBUG -u DJANGO_SECURE_SSL_REDIRECT -u DJANGO_SECURE_HSTS_SECONDS \
	DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))') \
	DJANGO_ALLOWED_HOSTS=devices.example.police.uk

.PHONY: help install run test lint format check lock worker beat bench clean-static

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

install: $(VENV)/.installed $(VENDOR)/.built static_build/.collected ## Create or refresh .venv from requirements.lock and build the front-end assets

$(VENV)/.installed: requirements.lock
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	@touch $@

$(VENDOR)/.built: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/govuk $(VENDOR)/moj $(VENDOR)/chartjs $(VENDOR)/htmx
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.css $(VENDOR)/govuk/
	cp node_modules/govuk-frontend/dist/govuk/all.bundle.js $(VENDOR)/govuk/
	cp -r node_modules/govuk-frontend/dist/govuk/assets $(VENDOR)/govuk/assets
	cp node_modules/@ministryofjustice/frontend/moj/moj-frontend.min.css node_modules/@ministryofjustice/frontend/moj/moj-frontend.min.js $(VENDOR)/moj/
	cp -r node_modules/@ministryofjustice/frontend/moj/assets $(VENDOR)/moj/assets
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chartjs/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	@touch $@

# Production serves STATIC_ROOT; development and tests also read the finders directly.
static_build/.collected: $(VENV)/.installed $(VENDOR)/.built
	$(DEV_ENV) $(PY) manage.py collectstatic --noinput -v0
	@touch $@

run: install ## Run the app on http://127.0.0.1:8000 (SQLite and in-process tasks unless DATABASE_URL/REDIS_URL are set), with demo data and printed logins
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py seed_demo --if-empty
	$(DEV_ENV) $(PY) manage.py demo_users
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: install ## Run the whole suite: ruff, bandit, pip-audit, the apps' import order, manage.py check (and --deploy), makemigrations --check, pytest
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/bandit -q -c pyproject.toml -r .
	$(PY) -m tests.security.pip_audit_gate
	$(VENV)/bin/lint-imports --no-cache
	$(DEV_ENV) $(PY) manage.py check --fail-level WARNING
	$(DEPLOY_ENV) $(PY) manage.py check --deploy --fail-level WARNING
	$(DEV_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install ## ruff lint only
	$(VENV)/bin/ruff check .

format: install ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: ## Re-resolve requirements.lock from pyproject.toml (needs uv) and package-lock.json
	uv pip compile pyproject.toml --group dev --python-version 3.11 --generate-hashes -o requirements.lock
	npm install --package-lock-only --no-audit --no-fund

worker: install ## Run a Celery worker (needs REDIS_URL)
	$(DEV_ENV) $(VENV)/bin/celery -A config worker -l info

beat: install ## Run Celery beat with the database scheduler (needs REDIS_URL)
	$(DEV_ENV) $(VENV)/bin/celery -A config beat -l info

bench: install ## Run every benchmark in bench/, each in a fresh PostgreSQL database (PGHOST, PGPORT, PGUSER)
	$(BENCH_ENV) $(PY) bench/run_all.py

.PHONY: stack stack-stop stack-status load
stack: install ## Run the production-shaped stack (gunicorn, Celery worker, beat; DEBUG off) on http://127.0.0.1:8001 against local PostgreSQL (tracker_stack), RabbitMQ and Redis; logs in .stack/
	$(PY) -m ops.stack start

stack-stop: ## Stop the stack `make stack` started
	$(PY) -m ops.stack stop

stack-status: ## Say which of the stack's processes run
	$(PY) -m ops.stack status

load: install ## Load test (locust, 50 users, 5 minutes) against the stack with 20,000 devices; LOAD_ARGS="--run-time 1m" for a trial
	$(PY) bench/load.py $(LOAD_ARGS)
