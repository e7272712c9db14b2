# Vitis HLS flow for the Edge-MoE engine: C simulation, synthesis, C/RTL
# cosimulation and IP export for the ZCU104 (xczu7ev-ffvc1156-2-e).
#
#   make hls PRESET=tiny STAGES="csim csynth cosim"     (the documented way)
#   vitis_hls -f hls/tcl/run_hls.tcl -tclargs <settings.tcl>           (up to 2024.1)
#   EDGEMOE_TCL_SETTINGS=<settings.tcl> vitis-run --mode hls --tcl hls/tcl/run_hls.tcl
#
# <settings.tcl> is written by `python -m sim.hls_flow` (build/hls/<name>/settings.tcl)
# from the export's manifest.json, so every value below has one owner in Python:
#   export_dir     export of pymodel.export (edgemoe_config.h, params.bin, golden/)
#   proj_dir       Vitis project directory (solution1/ inside)
#   part, top      target part and top function
#   clock_mhz      the design's clock (manifest design.clock_mhz)
#   depth_defines  per-export m_axi depths (-DPARAMS_DEPTH=n -DIO_DEPTH=m): cosimulation
#                  then moves the export's bytes, not the largest preset's
#   stages         any of csim csynth cosim export (cosim and export synthesise first)
#   ip_vendor, ip_library, ip_version   the exported IP's VLNV
# The kernel and testbench read the generated header from the export directory;
# the self-checking testbench (hls/tb/tb_main.cpp) compares every output word
# with the golden integers.

set script_dir [file dirname [file normalize [info script]]]
set root [file normalize [file join $script_dir .. ..]]

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

# The settings file: -tclargs <file> (vitis_hls) or $EDGEMOE_TCL_SETTINGS (vitis-run).
if {[llength $argv] >= 1} {
  set settings [lindex $argv 0]
} elseif {[info exists ::env(EDGEMOE_TCL_SETTINGS)]} {
  set settings $::env(EDGEMOE_TCL_SETTINGS)
} else {
  fail "usage: vitis_hls -f hls/tcl/run_hls.tcl -tclargs <settings.tcl> (written by `python -m sim.hls_flow`)"
}
if {![file isfile $settings]} {
  fail "settings file $settings not found: run `make hls` (python -m sim.hls_flow) to write it"
}
source $settings
foreach v {export_dir proj_dir part top clock_mhz depth_defines stages ip_vendor ip_library ip_version} {
  if {![info exists $v]} {
    fail "$settings does not set '$v'"
  }
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
if {![string is double -strict $clock_mhz] || $clock_mhz <= 0} {
  fail "clock_mhz must be a positive number of MHz, got '$clock_mhz'"
}
foreach d $depth_defines {
  if {![regexp {^-D(PARAMS|IO)_DEPTH=[0-9]+$} $d]} {
    fail "depth define '$d' is not -DPARAMS_DEPTH=<n> or -DIO_DEPTH=<n>"
  }
}
proc want {stage} {
  return [expr {[lsearch -exact $::stages $stage] >= 0}]
}

# The generated header lives in the export; the depth defines size the m_axi
# depths (kernel pragmas) and the testbench buffers alike.
set cflags [join [concat [list -std=c++14 -I[file join $root hls include] -I$export_dir] $depth_defines] " "]
set clock_period [format %.3f [expr {1000.0 / $clock_mhz}]]

open_project -reset $proj_dir
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
config_export -format ip_catalog -rtl verilog -vendor $ip_vendor -library $ip_library -version $ip_version

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
  # solution1/impl/ip is the IP repository Vivado reads (vivado_zcu104.tcl).
  export_design -format ip_catalog
}
exit
