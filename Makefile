# Surge: `make run` starts the whole app with embedded services; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test bench bench-spike bench-drain bench-ceiling bench-fanout bench-spike10 install \
	install-dev browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(PY)
	$(PIP) install -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(PY) -m project.run

# End-to-end tests drive Debian's Chromium; install it when missing (we never download browsers).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium from Debian packages for end-to-end tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: could not install chromium; end-to-end tests will fail"; }

test: install-dev browser
	$(PY) -m pytest $(PYTEST_ARGS)

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

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
