# Surge: `make run` starts the whole app with embedded services; `make test` runs the suite;
# `make stack` runs the production topology (nginx, PostgreSQL) on this machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# uv (bootstrapped into the venv) with this machine's pip settings, or pip: project/install.py
INSTALL := $(PY) -m project.install

.PHONY: run test bench bench-spike bench-drain bench-ceiling bench-fanout bench-spike10 stack \
	install install-dev browser nginx postgresql lint audit coverage clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt project/install.py | $(PY)
	$(INSTALL) -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt project/install.py | $(PY)
	$(INSTALL) -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(PY) -m launcher.run

# End-to-end tests drive Debian's Chromium; install it when missing (we never download browsers).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium from Debian packages for end-to-end tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: could not install chromium; end-to-end tests will fail"; }

# `make stack` (and its test) put Debian's nginx in front and run a private PostgreSQL cluster
# from Debian's binaries; install them when missing. The package's own cluster is never used.
nginx:
	@command -v nginx >/dev/null 2>&1 || { \
	  echo "Installing nginx from Debian packages for the production topology"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
	  || echo "WARNING: could not install nginx; make stack will fail"; }

postgresql:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
	  echo "Installing PostgreSQL from Debian packages for the production topology"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	  || echo "WARNING: could not install postgresql; make stack will fail"; }

# nginx → web ×N, sockets ×M; workers, dispatchers, local provider; PostgreSQL, Redis, S3.
# Flags: make stack STACK_ARGS="--port 8100 --web 2 --sockets 1 --workers 1 --dispatchers 1"
stack: install nginx postgresql
	$(PY) -m bench.stack $(STACK_ARGS)

test: install-dev browser nginx postgresql
	$(PY) -m pytest $(PYTEST_ARGS)

# `make test` under coverage (the suite's own process, see .coveragerc), then the floors per app
# and layer (project/testing/coverage_floors.py); the report is in test-artifacts/coverage/.
coverage: install-dev browser nginx postgresql
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest $(PYTEST_ARGS)
	$(PY) -m coverage json -q
	$(PY) -m project.testing.coverage_floors

# Benchmarks (not part of `make test`; see BENCHMARKS.md): the pytest latency benchmark, then
# the suite (spike, drain, ceiling, fan-out), each starting and stopping its own app.
# Flags for one benchmark: make bench-spike BENCH_ARGS="--submits 300 --seconds 10".
bench: install-dev
	@status=0; \
	$(PY) -m pytest bench -s -p no:cacheprovider --ignore=bench/tests $(PYTEST_ARGS) || status=1; \
	$(PY) -m bench all $(BENCH_ARGS) || status=1; \
	exit $$status

bench-spike bench-drain bench-ceiling bench-fanout bench-spike10: bench-%: install-dev
	$(PY) -m bench $* $(BENCH_ARGS)

# ruff.toml: pyflakes, pycodestyle and import order.
lint: install-dev
	$(PY) -m ruff check .

# Known vulnerabilities in the installed dependencies (pip-audit): skipped, saying why, when its
# service cannot be reached; fails on any known vulnerability.
audit: install-dev
	$(PY) .ci/audit.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
