# iactpipe: the two commands of the README, and the set-up they need.
#   make demo   the main job on the embedded default
#   make test   ruff + the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.iactpipe-installed
SHARED_DATA ?= ../shared/data
DEMO_DIR ?= demo_output
PROD4 := $(SHARED_DATA)/simtel/gamma_20deg_0deg_run102___cta-prod4-sst-1m_desert-2150m-Paranal-sst-1m.simtel.zst

.PHONY: install demo test lint docs benchmark clean

$(PY):
	@interp=$$(bash .ci/find-python) || exit 1; \
	echo "creating $(VENV) with $$interp"; \
	"$$interp" -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,docs]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@mkdir -p $(DEMO_DIR)
	@if [ -f "$(PROD4)" ]; then \
	  echo "iactpipe-r0-dl1 on $(PROD4) (telescopes 1 and 2 of the prod4 SST-1M array)"; \
	  $(VENV)/bin/iactpipe-r0-dl1 --input "$(PROD4)" --output $(DEMO_DIR)/prod4_sst1m.dl1.h5 \
	    --overwrite --progress ; \
	  $(VENV)/bin/ctapipe-fileinfo $(DEMO_DIR)/prod4_sst1m.dl1.h5 | head -40; \
	else \
	  echo "make demo: $(PROD4) is not here (a fresh clone has no ../shared)."; \
	  echo "The embedded simulated default arrives with iactpipe-simulate; nothing to run yet."; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src tests benchmarks examples

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/pytest tests

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W -b html docs docs/_build/html

benchmark: $(STAMP)
	$(PY) benchmarks/r1_dl1_throughput.py

clean:
	rm -rf $(VENV) docs/_build $(DEMO_DIR) .pytest_cache
