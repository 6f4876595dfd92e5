# Two commands: `make run` (set up, demo data, serve on 127.0.0.1:8000) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000

.PHONY: run test setup setup-dev system-packages lint check pytest pytest-postgres bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

setup: $(VENV)/bin/python
	$(PIP) install -q -e .
	$(PY) manage.py migrate --noinput -v0

setup-dev: $(VENV)/bin/python system-packages
	$(PIP) install -q -e ".[dev]"

# Debian's chromium (browser tests) and dovecot (the real IMAP server of the Test tests).
system-packages:
	@need=""; \
	command -v chromium >/dev/null || need="$$need chromium"; \
	test -x /usr/sbin/dovecot || need="$$need dovecot-imapd"; \
	if [ -n "$$need" ]; then \
	  echo "Installing Debian packages:$$need"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	fi

# The web server and the background worker (run_huey) together: Ctrl-C stops both.
run: setup
	$(PY) manage.py demo_data
	@echo "Serving on http://127.0.0.1:$(PORT)/ with the background worker (Ctrl-C stops both)"
	$(PY) manage.py serve 127.0.0.1:$(PORT)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check:
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

pytest:
	$(VENV)/bin/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# The same suite less the browser tests, on a throwaway PostgreSQL (the multi-server database).
pytest-postgres:
	.ci/with-postgres $(VENV)/bin/pytest -n 2 --dist loadfile -m "not browser" $(PYTEST_ARGS)

test: setup-dev lint check pytest pytest-postgres

bench: setup-dev
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var staticfiles screenshots
