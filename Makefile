# Two set-up commands matter: `make demo` and `make test`. Everything else is for developers.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
# The demo and developer commands run with DEBUG on; production sets DJANGO_DEBUG=0 itself.
DEV_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-1}

.PHONY: install demo run test lint format worker beat bench bench-routing bench-orders bench-fleet bench-dispatch browser clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

demo: install
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT)
	$(DEV_ENV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

run: install
	$(DEV_ENV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Browser tests drive Debian's Chromium; install it when missing and we are allowed to.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium for the browser tests (apt-get)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "Chromium could not be installed: browser tests will be skipped"; \
	fi

test: install browser lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# lint-imports checks the dependency direction of ARCHITECTURE.md ([tool.importlinter]).
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: install
	$(DEV_ENV) $(BIN)/celery -A lastmile worker -Q planning,notifications,default --loglevel INFO

beat: install
	$(DEV_ENV) $(BIN)/celery -A lastmile beat --loglevel INFO --schedule var/celerybeat-schedule

# Figures, not assertions. They run against DATABASE_URL (PostgreSQL for the real numbers).
bench: bench-routing bench-orders bench-fleet bench-dispatch

bench-routing: install
	$(BIN)/python benchmarks/bench_routing.py $(BENCH_ARGS)

bench-orders: install
	$(DEV_ENV) $(BIN)/python benchmarks/bench_orders_import.py

bench-fleet: install
	$(DEV_ENV) $(BIN)/python benchmarks/bench_fleet.py

bench-dispatch: install
	$(DEV_ENV) $(BIN)/python benchmarks/bench_dispatch.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .import_linter_cache
