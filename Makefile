# iactpipe: the two commands of the README, and the set-up they need.
#   make demo   the main job on the embedded default
#   make test   ruff + the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.iactpipe-installed
DEMO_DIR ?= demo_output

.PHONY: install demo demo-inputs test lint docs benchmark clean

$(PY):
	@interp=$$(bash .ci/find-python) || exit 1; \
	echo "creating $(VENV) with $$interp"; \
	"$$interp" -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,docs]'
	@touch $(STAMP)

install: $(STAMP)

# The main job on the embedded default: a small simulated MC production (point and diffuse
# gammas, protons; both telescopes) and two short stereo runs of a Crab-like source, then the
# whole chain in one command (iactpipe-chain: R1 -> DL1 -> stereo DL1 -> models -> DL2 ->
# IRFs -> DL3 -> index -> quick-look report) and its key numbers. Simulated files are kept:
# a second `make demo` skips what is done. Under 10 min on 2 cores, simulation included.
DEMO_JOBS ?= 2
DEMO_RUN ?= 6 s
DEMO_RUNS := 1001 1002
DEMO_START_1001 := 2024-01-10T21:10:00
DEMO_START_1002 := 2024-01-10T21:25:00
DEMO_IN := $(DEMO_DIR)/inputs
DEMO_CFG := $(CURDIR)/examples/demo
BIN := $(CURDIR)/$(VENV)/bin
DEMO_INPUTS := $(foreach p,gamma_point gamma_diffuse proton,$(DEMO_IN)/$(p).r1.h5) \
	$(foreach r,$(DEMO_RUNS),$(DEMO_IN)/run$(r)_tel021.h5)

demo: $(STAMP)
	@echo "== 1/3 iactpipe-simulate: MC gammas (point, diffuse), protons; runs $(DEMO_RUNS) ($(DEMO_RUN) each)"
	@$(MAKE) --no-print-directory -j$(DEMO_JOBS) demo-inputs
	@echo "== 2/3 iactpipe-chain: r0-dl1 -> dl1-stereo -> train -> dl1-dl2 -> irf -> dl2-dl3 -> index -> analysis"
	$(BIN)/iactpipe-chain --config $(DEMO_CFG)/chain.yaml --DataSet.base_dir=$(abspath $(DEMO_IN)) \
	    -o $(DEMO_DIR)/chain --jobs $(DEMO_JOBS)
	@echo "== 3/3 results"
	@$(PY) $(DEMO_CFG)/print_results.py $(DEMO_DIR)/chain \
	    --observation-config $(DEMO_CFG)/observation.yaml

demo-inputs: $(DEMO_INPUTS)

$(DEMO_IN)/%.r1.h5: $(DEMO_CFG)/mc_%.yaml
	@mkdir -p $(DEMO_IN)
	cd $(DEMO_IN) && $(BIN)/iactpipe-simulate --config $< -o $(notdir $@) --overwrite

# one simulation writes both telescope files of a run
$(DEMO_IN)/run%_tel021.h5 $(DEMO_IN)/run%_tel022.h5: $(DEMO_CFG)/observation.yaml
	@mkdir -p $(DEMO_IN)
	cd $(DEMO_IN) && $(BIN)/iactpipe-simulate --config $< --obs-id $* --seed $* \
	    --duration "$(DEMO_RUN)" --ObservationRun.start_time=$(DEMO_START_$*) \
	    -o run$*.h5 --overwrite

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
