# The two commands of the README: `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed-stamp
MANAGE := $(BIN)/python manage.py

.PHONY: demo test test-fast bench messages migrate check-deploy prod-check clean vendor

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Compiled catalogues are committed; recompile when gettext is present so edits show up.
messages: $(STAMP)
	@if command -v msgfmt >/dev/null 2>&1; then $(MANAGE) compilemessages --ignore '.venv' -v 0; \
	else echo "msgfmt not found: using the committed .mo files"; fi

migrate: $(STAMP)
	$(MANAGE) migrate --noinput -v 0

demo: messages migrate
	$(MANAGE) load_demo
	@echo "Serving on http://127.0.0.1:$(PORT)/  (Ctrl-C stops it)"
	@# The ticker applies the halls' deadlines and windows (docs/opening.md); it stops with daphne.
	@$(MANAGE) ticker & ticker=$$!; trap 'kill $$ticker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/daphne -b 127.0.0.1 -p $(PORT) config.asgi:application; status=$$?; \
	kill $$ticker 2>/dev/null; wait $$ticker 2>/dev/null; exit $$status

# The import contracts first (pyproject.toml, docs/architecture.md): a new crossing fails the build.
# Unit and integration tests in one process; browser tests (marker e2e) in their own invocation,
# because pytest-playwright's sync fixtures and pytest-asyncio do not mix (see docs/architecture.md).
test: messages
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest
	@if [ -n "$$(find tests -name 'test_*.py' -path '*e2e*' 2>/dev/null)" ]; then \
		$(BIN)/python -m pytest -m e2e tests/e2e; fi

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# Third-party browser modules, from the npm registry, checked against frontend/static/vendor/vendor.json
# (docs/browser-crypto.md, "Vendored modules"). `make test` checks the copies offline.
vendor:
	$(PYTHON) -m tools.vendor_js

check-deploy: $(STAMP)
	$(MANAGE) check --deploy

# The production stack (deploy/Procfile: nginx with TLS, two Daphne workers, the ticker; Redis and a
# fresh PostgreSQL database) started in a temporary directory, smoke-tested through the proxy,
# `check --deploy`ed and stopped (tools/prod_check.py, docs/operations.md). Needs nginx, redis-server,
# openssl and a PostgreSQL server (PROD_CHECK_DATABASE_URL).
prod-check: $(STAMP)
	$(BIN)/python -m tools.prod_check

clean:
	rm -rf $(VENV) var .pytest_cache
