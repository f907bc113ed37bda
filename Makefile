# Device refresh tracker. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VENDOR := static/vendor
PORT ?= 8000

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
	$(PY) manage.py collectstatic --noinput -v0
	@touch $@

run: install ## Run the app on http://127.0.0.1:8000 (SQLite and in-process tasks unless DATABASE_URL/REDIS_URL are set), with demo data and printed logins
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py demo_users
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: install ## Run the whole suite: ruff, the apps' import order, manage.py check, makemigrations --check, pytest
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
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
	$(VENV)/bin/celery -A config worker -l info

beat: install ## Run Celery beat with the database scheduler (needs REDIS_URL)
	$(VENV)/bin/celery -A config beat -l info

bench: install ## Run every benchmark in bench/, each in a fresh PostgreSQL database (PGHOST, PGPORT, PGUSER)
	$(PY) bench/run_all.py
