# The two README commands: `make run` and `make test`. Both build the environment first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench clean node-tools graphiql portal-vendor

$(STAMP): pyproject.toml
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/benefitgate serve --demo

test: $(STAMP)
	$(VENV)/bin/ruff check src tests bench clients/python
	$(VENV)/bin/ruff format --check src tests bench clients/python
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

# The npm packages some tests run (the GraphQL over HTTP audit), pinned in tests/node/, into
# .cache/node, and the TypeScript client's (clients/typescript) into .cache/client-ts; those
# tests install them on first use too, and skip, saying why, without Node.
NODE_CACHE ?= .cache/node
CLIENT_TS_CACHE := .cache/client-ts
node-tools:
	mkdir -p $(NODE_CACHE) $(CLIENT_TS_CACHE)
	cp tests/node/package.json tests/node/package-lock.json $(NODE_CACHE)/
	cd $(NODE_CACHE) && npm ci --ignore-scripts --no-audit --no-fund --silent
	cp clients/typescript/package.json clients/typescript/package-lock.json $(CLIENT_TS_CACHE)/
	cd $(CLIENT_TS_CACHE) && npm ci --ignore-scripts --no-audit --no-fund --silent

# Rebuild the GraphiQL the service serves from web/graphiql's pinned packages (then commit).
graphiql:
	scripts/build-graphiql

# Rebuild the portal's vendored uPlot and graphql-ws from web/portal's pinned packages (then commit).
portal-vendor:
	scripts/build-portal-vendor

bench: $(STAMP)
	$(PY) bench/account_view.py

clean:
	rm -rf $(VENV) .data .cache
