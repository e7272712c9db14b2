# Stand-in for vitis_hls, vitis-run and vivado in tests: runs the flow's tcl
# scripts under plain tclsh.
#
#   tclsh fake_tool.tcl <vitis_hls|vitis-run|vivado> <the tool's own arguments>
#
# Every tool command the scripts call is a procedure that appends one line
# "CALL<TAB>name<TAB>arg<TAB>arg..." to $STUB_LOG. The few effects the flow
# depends on are emulated from files the test names (tests/fixtures/tool_reports
# holds real reports): STUB_CSYNTH, STUB_COSIM -> Vitis report files;
# STUB_UTIL, STUB_TIMING, STUB_PATHS -> Vivado -file outputs; STUB_HWH -> the
# hardware handoff; STUB_WNS -> the worst slack; STUB_VERSION -> `version -short`
# and the -version banner; STUB_BOARD_PARTS -> get_board_parts; STUB_NO_DDR=1 ->
# masters get no DDR segment.

set tool [lindex $argv 0]
set targs [lrange $argv 1 end]

proc env {name {default ""}} {
  if {[info exists ::env($name)] && $::env($name) ne ""} { return $::env($name) }
  return $default
}
proc record {name args} {
  set f [open [env STUB_LOG /dev/null] a]
  puts $f [join [concat CALL $name $args] "\t"]
  close $f
}
proc copy_stub {var dest} {
  if {[env $var] ne ""} {
    file mkdir [file dirname $dest]
    file copy -force [env $var] $dest
  }
}
proc opt {args name} {
  set i [lsearch -exact $args $name]
  return [expr {$i < 0 ? "" : [lindex $args [expr {$i + 1}]]}]
}

if {[lsearch -exact $targs -version] >= 0 || [lsearch -exact $targs --version] >= 0} {
  puts "****** $tool (stand-in) v[env STUB_VERSION 2023.2] (64-bit)"
  exit 0
}

# ---------------------------------------------------------------- Vitis HLS
foreach c {set_top add_files open_solution set_part create_clock config_compile config_export
           csim_design} {
  proc $c {args} [format {record %s {*}$args} $c]
}
proc open_project {args} {
  record open_project {*}$args
  set ::stub_proj [lindex $args end]
}
proc csynth_design {args} {
  record csynth_design {*}$args
  copy_stub STUB_CSYNTH [file join $::stub_proj solution1 syn report csynth.xml]
}
proc cosim_design {args} {
  record cosim_design {*}$args
  copy_stub STUB_COSIM [file join $::stub_proj solution1 sim report ${::top}_cosim.rpt]
}
proc export_design {args} {
  record export_design {*}$args
  set ip [file join $::stub_proj solution1 impl ip]
  file mkdir $ip
  set f [open [file join $ip component.xml] w]
  puts $f "<component/>"
  close $f
}

# ------------------------------------------------------------------- Vivado
foreach c {create_project update_ip_catalog create_bd_design apply_bd_automation
           connect_bd_net connect_bd_intf_net assign_bd_address validate_bd_design save_bd_design
           make_wrapper update_compile_order wait_on_run open_run} {
  proc $c {args} [format {record %s {*}$args} $c]
}
# Queries return the name they were given, as Vivado returns the object of that name.
foreach c {get_bd_pins get_bd_intf_pins get_bd_cells get_bd_addr_spaces get_files get_runs
           get_timing_paths} {
  proc $c {args} {return [lindex $args end]}
}
# -dict lists are recorded as key=value words (values may hold spaces: "64 Bit").
proc set_property {args} {
  if {[lindex $args 0] ne "-dict"} { return [record set_property {*}$args] }
  set kv {}
  foreach {k v} [lindex $args 1] { lappend kv "$k=$v" }
  record set_property -dict {*}$kv [lindex $args 2]
}
proc current_project {args} { return $::proj_name }
proc current_fileset {args} { return sources_1 }
proc get_board_parts {args} { return [env STUB_BOARD_PARTS] }
proc get_ipdefs {args} { return [env STUB_IPDEFS $::ip_vlnv] }
proc create_bd_cell {args} {
  record create_bd_cell {*}$args
  return [lindex $args end]
}
proc get_bd_addr_segs {args} {
  set space [opt $args -of_objects]
  if {$space eq "zynq_ultra_ps_e_0/Data"} { return [list SEG_${::ip_instance}_Reg] }
  if {[env STUB_NO_DDR] ne ""} { return [list SEG_zynq_ultra_ps_e_0_HP0_LPS_OCM] }
  return [list SEG_zynq_ultra_ps_e_0_HP0_DDR_LOW SEG_zynq_ultra_ps_e_0_HP0_DDR_HIGH]
}
proc get_property {args} {
  switch -- [lindex $args 0] {
    PROGRESS { return [env STUB_PROGRESS 100%] }
    STATUS { return "write_bitstream Complete!" }
    SLACK { return [env STUB_WNS 0.500] }
  }
  return ""
}
proc version {args} { return [env STUB_VERSION 2023.2] }
proc generate_target {args} {
  record generate_target {*}$args
  # Where this Vivado version writes the hardware handoff.
  set gen [expr {[package vcompare [env STUB_VERSION 2023.2] 2020.2] >= 0 ? "gen" : "srcs"}]
  set hwh [file join $::proj_dir $::proj_name.$gen sources_1 bd $::bd_name hw_handoff $::bd_name.hwh]
  file mkdir [file dirname $hwh]
  if {[env STUB_HWH] ne ""} { file copy -force [env STUB_HWH] $hwh } else { close [open $hwh w] }
}
proc launch_runs {args} {
  record launch_runs {*}$args
  if {[lindex $args 0] eq "impl_1"} {
    set bit [file join $::proj_dir $::proj_name.runs impl_1 ${::bd_name}_wrapper.bit]
    file mkdir [file dirname $bit]
    set f [open $bit w]
    puts -nonewline $f "stand-in bitstream"
    close $f
  }
}
proc report_utilization {args} {
  record report_utilization {*}$args
  copy_stub STUB_UTIL [opt $args -file]
}
proc report_timing_summary {args} {
  record report_timing_summary {*}$args
  copy_stub STUB_TIMING [opt $args -file]
}
proc report_timing {args} {
  record report_timing {*}$args
  copy_stub STUB_PATHS [opt $args -file]
}

rename exit real_exit
proc exit {{code 0}} {
  record exit $code
  real_exit $code
}

# ------------------------------------------------- the tool's command line
switch -- $tool {
  vitis_hls { set script [opt $targs -f]; set sargs [lrange $targs [expr {[lsearch $targs -tclargs] + 1}] end] }
  vitis-run { set script [opt $targs --tcl]; set sargs {} }
  vivado { set script [opt $targs -source]; set sargs [lrange $targs [expr {[lsearch $targs -tclargs] + 1}] end] }
  default { puts stderr "fake_tool.tcl: unknown tool $tool"; real_exit 3 }
}
if {$tool ne "vitis-run" && [lsearch $targs -tclargs] < 0} { set sargs {} }
set argv $sargs
set argc [llength $argv]
source $script
exit 0
