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

# The main job on the embedded default: a small simulated MC production on two pointing
# nodes (point and diffuse gammas, protons at zenith 25 and 35 deg, azimuth 180 deg; both
# telescopes; HDF5 R1) and two 90 s stereo runs of a night at two zenith angles (33.5 deg
# rising, 27.5 deg at culmination): protons at the real cosmic-ray rate (about 210
# telescope events per second per telescope) and a flaring Crab-like source of 10 Crab
# (examples/demo/observation.yaml), as the cameras record them (DigiCam raw zfits,
# R0, one run of .000, .001, ... chunks per telescope), then the whole chain in one command
# (iactpipe-chain: R0 -> R1 with the DigiCam calibration for the runs -> DL1 -> stereo DL1 ->
# models per node -> DL2 interpolated between the nodes event by event -> IRFs per node ->
# DL3 interpolated at each run's zenith -> index -> quick-look report) and its key numbers.
# Simulated files are kept: a second `make demo` skips what is done. Under 10 min on 2
# cores, simulation included: a run costs about 2.3 CPU s per second of run at the real
# proton rate, so the runs are 90 s, not the 20-30 min of a real run (their few OFF
# events after cuts are what 3 minutes of a real night give; see docs/simulate.rst).
DEMO_JOBS ?= 2
DEMO_RUN ?= 90 s
DEMO_RUNS := 1001 1002
DEMO_START_1001 := 2024-01-10T19:40:00
DEMO_START_1002 := 2024-01-10T21:10:00
DEMO_IN := $(DEMO_DIR)/inputs
DEMO_CFG := $(CURDIR)/examples/demo
BIN := $(CURDIR)/$(VENV)/bin
# events per zfits chunk of the runs (a real camera writes about 40 s per file; 1000
# events are about 5 s of these runs, 55 MB)
DEMO_EVENTS_PER_FILE ?= 1000
# the MC's pointing nodes (zenith in deg, azimuth 180 deg) and each kind's seed (and obs_id)
# at a node: <zenith><seed of the config>, e.g. 2581 for the point gammas at 25 deg
DEMO_NODES := 25 35
DEMO_SEED_gamma_point := 81
DEMO_SEED_gamma_diffuse := 62
DEMO_SEED_proton := 63
# the runs first: they are the longest jobs (make -j starts them in this order)
DEMO_INPUTS := $(foreach r,$(DEMO_RUNS),$(DEMO_IN)/run$(r)_tel021.000.fits.fz) \
	$(foreach n,$(DEMO_NODES),$(foreach p,gamma_point gamma_diffuse proton,\
	$(DEMO_IN)/$(p)_zd$(n).r1.h5))

demo: $(STAMP)
	@echo "== 1/3 iactpipe-simulate: MC gammas (point, diffuse), protons; runs $(DEMO_RUNS) ($(DEMO_RUN) each, raw zfits)"
	@$(MAKE) --no-print-directory -j$(DEMO_JOBS) demo-inputs
	@echo "== 2/3 iactpipe-chain: r0-dl1 (runs: zfits R0 -> R1 -> DL1) -> dl1-stereo -> train -> dl1-dl2 -> irf -> dl2-dl3 -> index -> analysis"
	$(BIN)/iactpipe-chain --config $(DEMO_CFG)/chain.yaml --DataSet.base_dir=$(abspath $(DEMO_IN)) \
	    -o $(DEMO_DIR)/chain --jobs $(DEMO_JOBS)
	@echo "== 3/3 results"
	@$(PY) $(DEMO_CFG)/print_results.py $(DEMO_DIR)/chain \
	    --observation-config $(DEMO_CFG)/observation.yaml

demo-inputs: $(DEMO_INPUTS)

define demo_node_rule
$(DEMO_IN)/%_zd$(1).r1.h5: $(DEMO_CFG)/mc_%.yaml
	@mkdir -p $(DEMO_IN)
	cd $(DEMO_IN) && $(BIN)/iactpipe-simulate --config $$< -o $$(notdir $$@) --overwrite \
	    --ShowerGenerator.zenith="$(1) deg" --seed $(1)$$(DEMO_SEED_$$*) --obs-id $(1)$$(DEMO_SEED_$$*)
endef
$(foreach n,$(DEMO_NODES),$(eval $(call demo_node_rule,$(n))))

# one simulation writes both telescopes' raw zfits runs (run1001_tel021.000.fits.fz, ...)
# and their truth side-cars (run1001_tel021.truth.h5, ...)
$(DEMO_IN)/run%_tel021.000.fits.fz $(DEMO_IN)/run%_tel022.000.fits.fz: $(DEMO_CFG)/observation.yaml
	@mkdir -p $(DEMO_IN)
	cd $(DEMO_IN) && $(BIN)/iactpipe-simulate --config $< --obs-id $* --seed $* \
	    --duration "$(DEMO_RUN)" --ObservationRun.start_time=$(DEMO_START_$*) \
	    --format zfits --SimulateTool.zfits_events_per_file=$(DEMO_EVENTS_PER_FILE) \
	    -o run$* --overwrite

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src tests benchmarks examples

# The suite on every core (pytest-xdist; tests sharing an expensive session fixture
# run on one worker: tests/conftest.py). `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= auto

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/sphinx-build -q -W -b html docs docs/_build/html
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup tests

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W -b html docs docs/_build/html

benchmark: $(STAMP)
	$(PY) benchmarks/r1_dl1_throughput.py

clean:
	rm -rf $(VENV) docs/_build $(DEMO_DIR) .pytest_cache
