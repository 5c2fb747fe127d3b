# iactpipe: the two commands of the README, and the set-up they need.
#   make demo   the main job on the embedded default
#   make test   ruff + the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.iactpipe-installed
DEMO_DIR ?= demo_output

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

# The main job on the embedded default: simulated SST-1M data (toy simulator) through
# R0/R1 -> DL1 -> stereo DL1, then a summary. Sizes are small so that it runs in a few minutes.
DEMO_GAMMAS ?= 1000
DEMO_PROTONS ?= 2000
DEMO_RUN ?= 5 s
BIN := $(CURDIR)/$(VENV)/bin
CONFIGS := $(CURDIR)/data_configs

demo: $(STAMP)
	@mkdir -p $(DEMO_DIR)
	@echo "== 1/4 simulate: MC gammas, MC protons, a $(DEMO_RUN) two-telescope observation run"
	cd $(DEMO_DIR) && $(BIN)/iactpipe-simulate --config $(CONFIGS)/simulate_mc_gamma.yaml \
	    -n $(DEMO_GAMMAS) -o gamma.r1.h5 --overwrite
	cd $(DEMO_DIR) && $(BIN)/iactpipe-simulate --config $(CONFIGS)/simulate_mc_proton.yaml \
	    -n $(DEMO_PROTONS) -o proton.r1.h5 --overwrite
	cd $(DEMO_DIR) && $(BIN)/iactpipe-simulate --config $(CONFIGS)/simulate_observation.yaml \
	    --duration "$(DEMO_RUN)" --split -o run.r1.h5 --overwrite
	@echo "== 2/4 iactpipe-r0-dl1 on each file (SST-1M defaults)"
	cd $(DEMO_DIR) && for f in gamma proton; do \
	  $(BIN)/iactpipe-r0-dl1 --config $(CONFIGS)/r0_dl1_mc.yaml \
	    -i $$f.r1.h5 -o $$f.dl1.h5 --overwrite || exit 1; done
	cd $(DEMO_DIR) && for t in 021 022; do \
	  $(BIN)/iactpipe-r0-dl1 --config $(CONFIGS)/r0_dl1_data.yaml \
	    -i run.r1_tel$$t.h5 -o run_tel$$t.dl1.h5 --overwrite || exit 1; done
	@echo "== 3/4 iactpipe-dl1-stereo: match the run's two telescopes (White Rabbit), MC by event id"
	cd $(DEMO_DIR) && $(BIN)/iactpipe-dl1-stereo --config $(CONFIGS)/dl1_stereo_data.yaml \
	    --input-1 run_tel021.dl1.h5 --input-2 run_tel022.dl1.h5 -o run.stereo.dl1.h5 --overwrite
	cd $(DEMO_DIR) && $(BIN)/iactpipe-dl1-stereo --config $(CONFIGS)/dl1_stereo_mc.yaml \
	    -i gamma.dl1.h5 -o gamma.stereo.dl1.h5 --overwrite
	@echo "== 4/4 summary"
	cd $(DEMO_DIR) && $(BIN)/python $(CURDIR)/examples/dl1_summary.py gamma.dl1.h5 proton.dl1.h5 \
	    run_tel021.dl1.h5 run_tel022.dl1.h5 --plot hillas_distributions.png
	@echo "demo outputs in $(DEMO_DIR)/"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src tests benchmarks examples

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/sphinx-build -q -W -b html docs docs/_build/html
	$(VENV)/bin/pytest tests

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W -b html docs docs/_build/html

benchmark: $(STAMP)
	$(PY) benchmarks/r1_dl1_throughput.py

clean:
	rm -rf $(VENV) docs/_build $(DEMO_DIR) .pytest_cache
