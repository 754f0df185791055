# Longtail. `make run` serves the app on SQLite with a simulated scenario; `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DEBUG ?= 1

.PHONY: run test lint format check-migrations typecheck setup demo screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The demo's progress lines only (LOG_LEVEL=WARNING hides the per-request and per-task INFO
# lines); serve_demo prints the address and the logins once the server listens, so they are
# the last lines of `make run`, not hundreds of lines above.
demo: $(STAMP)
	$(BIN)/python manage.py migrate --verbosity 0
	LOG_LEVEL=WARNING $(BIN)/python manage.py setup_demo --no-logins

run: demo
	DJANGO_RUNSERVER_HIDE_WARNING=true $(BIN)/python manage.py serve_demo 127.0.0.1:8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy sampling

check-migrations: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run --verbosity 0

# pytest exit 5 means "no tests collected": that is a failure here, never a pass.
test: lint typecheck check-migrations
	$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$status

# The README's screenshots: the browser tests, allowed to write docs/screenshots/ (`make test`
# never writes there, so it leaves `git status` clean).
screenshots: $(STAMP)
	LONGTAIL_SCREENSHOTS=1 $(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) longtail.sqlite3* staticfiles .pytest_cache .ruff_cache .mypy_cache
