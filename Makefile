# classgate: every target needs only Python 3.11 and the package registries.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pyarrow must come as a wheel: building pyarrow 10 from source fails.
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --only-binary pyarrow

.PHONY: install test test-fast browser demo bench lint lock clean

install: $(STAMP)

# Re-runs only when the lock or the package metadata changed: a no-op in seconds otherwise.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "classgate needs Python 3.11, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --quiet -r requirements.lock
	$(PIP_INSTALL) --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Tests run on every core, a module's tests on one worker (module fixtures once).
PYTEST := $(BIN)/python -m pytest -q -n auto --dist loadscope

test: install browser
	$(PYTEST)

# Headless Chromium renders report.html in a test; Debian's package, as root.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium is not installed: the report rendering test will skip"

# The suite without the end-to-end runs over real files and runner modes.
test-fast: install
	$(PYTEST) -m "not slow"

lint: install
	$(BIN)/ruff check pipeline tests tools deploy
	$(BIN)/ruff format --check pipeline tests tools deploy

DEMO := demo-out
demo: install
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

# Re-resolve the pinned set (needs the registries; about a minute).
lock:
	rm -rf $(VENV).lock && $(PYTHON) -m venv $(VENV).lock
	$(VENV).lock/bin/pip install --only-binary pyarrow 'tensorflow-data-validation==1.16.1' \
	  'apache-beam[gcp]>=2.59,<2.70' 'pydantic>=2.5,<3' 'pyyaml>=6' 'pytest>=8' ruff \
	  hypothesis pytest-xdist duckdb polars fastparquet gcp-storage-emulator \
	  check-jsonschema build kfp==2.13.0
	{ head -2 requirements.lock; $(VENV).lock/bin/pip freeze; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf $(VENV).lock

clean:
	rm -rf $(VENV) $(DEMO) bench-out .pytest_cache
