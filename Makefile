# Two commands: `make run` (set up and serve the demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP_ENV := PIP_BUILD_CONSTRAINT=requirements/build-constraints.txt PIP_CONSTRAINT=requirements/build-constraints.txt
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install migrate demo lint check clean bench bench-load faults

$(VENV)/.installed: pyproject.toml requirements/build-constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP_ENV) $(PY) -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(PIP_ENV) $(PY) -m pip install --quiet -e ".[dev]"
	touch $@

## Compiled translation catalogues (gettext's msgfmt; Debian package gettext).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))

%.mo: %.po
	msgfmt --check -o $@ $<

install: $(VENV)/.installed $(MO_FILES)

migrate: install
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput

demo: migrate
	DJANGO_DEBUG=1 $(PY) manage.py setup_demo

## Run the app on the embedded default (SQLite under var/, Celery tasks in-process).
run: demo
	@echo "Serving http://$(HOST):$(PORT)/ (Ctrl-C stops)"
	DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

## Run the whole test suite (PostgreSQL/Redis/worker/browser tests when DATABASE_URL, CELERY_BROKER_URL and chromium are present).
test: install
	$(PY) -m pytest

## Lint (run by .ci/run): ruff check, ruff format owns the layout, the import-linter layer and purity contracts, and
## mypy --strict on the pure clinical-rule modules (STYLE.md: no Django import in them).
PURE_MODULES = ruletext/__init__.py assessments/recist/ treatment/radiobiology.py treatment/dosing.py treatment/origins.py \
	adverse_events/ctcae.py adverse_events/safety.py adverse_events/reporting.py endpoints/derivation.py endpoints/texts.py enrollment/imdc.py \
	visits/schedule.py
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy --strict $(PURE_MODULES)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache

## Endpoint recompute benchmark (PostgreSQL; the database must exist: createdb -h 127.0.0.1 -U postgres sabr_bench).
bench: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/sabr_bench} REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/13} $(PY) bench/run.py

## Outage and crash benchmark: gunicorn (4 workers), its own redis-server, Celery workers; Redis stopped 30 s, kill -9
## of each worker (PostgreSQL; drops and creates FAULTS_DATABASE_URL, default sabr_faults_bench).
## Load benchmark (issue 20): gunicorn, its own redis-server, Celery workers; 1, 5 and 20 simulated users
## (PostgreSQL; drops and creates LOAD_DATABASE_URL, default sabr_load_bench).
bench-load: install
	$(PY) bench/load.py

faults: install
	$(PY) bench/faults.py
