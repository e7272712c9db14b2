# Vitis HLS flow for the Edge-MoE engine: C simulation, synthesis, C/RTL
# cosimulation and IP export for the ZCU104 (xczu7ev-ffvc1156-2-e) at 300 MHz.
#
#   vitis_hls -f hls/tcl/run_hls.tcl -tclargs <export_dir> [csim] [csynth] [cosim] [export]
#
# <export_dir> is written by `edgemoe export-hls ... --golden` (pymodel.export_hls):
# edgemoe_config.h (activation width, maxima, descriptor layout, m_axi depths),
# params.bin (DDR image) and golden/ (input image and expected raw outputs for
# the self-checking testbench hls/tb/tb_main.cpp). Stages default to csim csynth;
# cosim and export synthesise first. Results go to build/hls/edgemoe_prj.

set script_dir [file dirname [file normalize [info script]]]
set root [file normalize [file join $script_dir .. ..]]

set part xczu7ev-ffvc1156-2-e
set clock_period 3.33  ;# ns: 300 MHz
set top edgemoe_top
set known_stages {csim csynth cosim export}
set kernel_sources {
  hls/src/edgemoe_linear.cpp
  hls/src/edgemoe_layers.cpp
  hls/src/edgemoe_attention.cpp
  hls/src/edgemoe_top.cpp
}
set kernel_headers {
  hls/include/edgemoe_types.h
  hls/include/edgemoe_fixed.h
  hls/include/edgemoe_math.h
  hls/include/edgemoe_engine.h
}
set tb_sources {hls/tb/tb_main.cpp}

proc fail {msg} {
  puts stderr "run_hls.tcl: $msg"
  exit 2
}

if {[llength $argv] < 1} {
  fail "usage: vitis_hls -f hls/tcl/run_hls.tcl -tclargs <export_dir> \[csim\] \[csynth\] \[cosim\] \[export\]"
}
set export_dir [file normalize [lindex $argv 0]]
set stages [lrange $argv 1 end]
if {[llength $stages] == 0} {
  set stages {csim csynth}
}
foreach stage $stages {
  if {[lsearch -exact $known_stages $stage] < 0} {
    fail "unknown stage '$stage' (stages: $known_stages)"
  }
}
foreach f {edgemoe_config.h params.bin} {
  if {![file exists [file join $export_dir $f]]} {
    fail "$export_dir/$f missing: run `edgemoe export-hls --golden --out $export_dir` first"
  }
}
proc want {stage} {
  return [expr {[lsearch -exact $::stages $stage] >= 0}]
}

# The generated header lives in the export: kernel and testbench include it.
set cflags "-std=c++14 -I[file join $root hls include] -I$export_dir"

open_project -reset [file join $root build hls edgemoe_prj]
set_top $top
foreach f $kernel_sources {
  add_files [file join $root $f] -cflags $cflags
}
foreach f $kernel_headers {
  add_files [file join $root $f]
}
foreach f $tb_sources {
  add_files -tb [file join $root $f] -cflags $cflags
}
open_solution -reset solution1 -flow_target vivado
set_part $part
create_clock -period $clock_period -name default
config_compile -pipeline_style stp
config_export -format ip_catalog -rtl verilog -vendor edgemoe -library hls -version 1.0

if {[want csim]} {
  csim_design -argv $export_dir
}
if {[want csynth] || [want cosim] || [want export]} {
  csynth_design
}
if {[want cosim]} {
  cosim_design -argv $export_dir -rtl verilog -trace_level none
}
if {[want export]} {
  export_design -format ip_catalog -output [file join $root build hls edgemoe_top_ip.zip]
}
exit
