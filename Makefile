# KAMS: two commands do everything on a fresh Debian/Ubuntu machine with Python 3.11.
#   make run   serve the dashboard (your kubeconfig's cluster, or the built-in demo cluster)
#   make test  install what the tests need and run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q

.PHONY: run demo test faults lint bench load clean real-servers

# Debian's own python3 needs the python3-venv package for this; install it when it is missing.
$(PY):
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV) && scripts/system-deps.sh python3-venv && $(PYTHON) -m venv $(VENV); }

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.sandbox: requirements-sandbox.txt $(VENV)/.runtime
	$(PIP) -r requirements-sandbox.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements-sandbox.txt $(VENV)/.runtime
	$(PIP) -r requirements-dev.txt
	touch $@ $(VENV)/.sandbox

# The Express app the tests serve to prove the express-prom-bundle convention (tests/k8sdata/
# test_instrumented_libraries.py): exactly the packages of its lock file, into a gitignored node_modules.
NODE_APP := sandbox/instrumented/node
$(NODE_APP)/node_modules/.installed: $(NODE_APP)/package.json $(NODE_APP)/package-lock.json
	scripts/system-deps.sh nodejs npm
	cd $(NODE_APP) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The OpenID Provider the sign-in tests log in through (oidc-provider, sandbox/oidc/provider.js, started by
# sandbox/identity.py): exactly the packages of its lock file, into a gitignored node_modules.
OIDC_APP := sandbox/oidc
$(OIDC_APP)/node_modules/.installed: $(OIDC_APP)/package.json $(OIDC_APP)/package-lock.json
	scripts/system-deps.sh nodejs npm
	cd $(OIDC_APP) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# With a kubeconfig (KUBECONFIG or ~/.kube/config) or inside a cluster: monitor that cluster, on 127.0.0.1
# unless KAMS_ADDRESS says otherwise (Streamlit's default is every interface; without sign-in KAMS then
# shows nothing: README, "Sign-in and roles").
# Otherwise: start the sandbox demo (stand-in API, real Prometheus and S3) and serve it.
run: $(VENV)/.runtime
	@if [ -n "$$KUBERNETES_SERVICE_HOST" ] || [ -n "$$KUBECONFIG" ] || [ -f "$$HOME/.kube/config" ]; then \
		exec $(PY) -m streamlit run app.py --server.port $${KAMS_PORT:-8501} --server.address $${KAMS_ADDRESS:-127.0.0.1}; \
	else \
		$(MAKE) --no-print-directory demo; \
	fi

demo: $(VENV)/.sandbox
	@scripts/system-deps.sh prometheus prometheus-alertmanager openssl || echo "Continuing without them: the dashboard says which parts are missing."
	exec $(PY) -m sandbox demo --port $${KAMS_PORT:-8501}

test: $(VENV)/.dev $(NODE_APP)/node_modules/.installed $(OIDC_APP)/node_modules/.installed real-servers
	scripts/system-deps.sh prometheus prometheus-alertmanager chromium openssl nginx
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -m "not faults" --durations=30

# The fault matrix (tests/faults, marker `faults`): every page, through the whole frame, with 403, 429, 500
# and a hang on each Kubernetes API path it reads, and with the API, Prometheus, Alertmanager and S3 down;
# each run must say a sentence, keep the other panels and settle within KAMS_REQUEST_TIMEOUT + 2 s. About
# four to eight minutes on 2 cores, so `make test` leaves it out and CI runs it after (.ci/run).
faults: $(VENV)/.dev real-servers
	scripts/system-deps.sh prometheus prometheus-alertmanager openssl
	$(PY) -m pytest -m faults tests/faults -q

# kube-apiserver, etcd, Prometheus 3 and Alertmanager built from their Go modules, once per machine, into
# ~/.cache/kams/servers (the first build takes minutes on 2 cores: docs/real-servers.md; then nothing to do).
# Without Go: a sentence, and the tests that need them skip (CI sets KAMS_REQUIRE_REAL_SERVERS=1, which makes
# that a failure).
real-servers:
	scripts/real-servers.sh

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

# KAMS's pods table vs `kubectl get pods -A` at 1,000 / 20,000 / 100,000 pods -> bench/results.md
# (needs ~3 GB of memory and a few minutes; `$(PY) -m bench --sizes 200,1000` is a quick run).
bench: $(VENV)/.dev
	$(PY) -m bench

# The whole website at scale (issue 16): the Pods, Overview and Security pages in Chromium at 5,000 and 100,000
# pods beside kubectl, 30 viewers with auto-refresh, a log follow -> bench/load-results.md (the first full run
# took 23 minutes on a busy 2-core machine, over its 15-minute goal; `$(PY) -m bench.load --quick` takes 3.5).
load: $(VENV)/.dev
	scripts/system-deps.sh prometheus chromium
	$(PY) -m bench.load

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache artifacts .sandbox
