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
# masters get no DDR segment. The IP packager's stand-ins (ipx::*) keep the state
# the packaging script reads back; their STUB_* variables are listed with them.

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
# Plain properties are also kept, for get_property (the IP packager reads some back).
proc set_property {args} {
  if {[lindex $args 0] ne "-dict"} {
    set ::stub_prop([lindex $args end],[string tolower [lindex $args 0]]) [lindex $args 1]
    return [record set_property {*}$args]
  }
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
  set key [lindex $args end],[string tolower [lindex $args 0]]
  if {[info exists ::stub_prop($key)]} { return $::stub_prop($key) }
  if {[string tolower [lindex $args 0]] eq "name"} { return [lindex $args end] }
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

# ------------------------------------------------------ Vivado IP packager
# Objects are strings: the core "core", a bus interface its name, a bus parameter
# "<busif>/<NAME>", an IP file its path in the IP. What packaging would infer by
# itself from the port names is STUB_AUTO_BUSIFS (default none: the script infers
# each); STUB_MODE_<BUSIF> (upper case) overrides an interface's mode; STUB_MEM_LEFT_OUT=1 ->
# packaging leaves the .mem files out of the synthesis file group;
# STUB_NO_ACT_W=1 -> the core has no ACT_W parameter; STUB_INTEGRITY_FAIL=1 ->
# ipx::check_integrity raises. ipx::save_core writes <root_dir>/component.xml
# with the VLNV and bus interfaces set.
namespace eval ipx {}
foreach c {close_project ipx::create_xgui_files ipx::update_checksums} {
  proc $c {args} [format {record %s {*}$args} $c]
}
set stub_added {}
proc add_files {args} {
  record add_files {*}$args
  lappend ::stub_added {*}[lindex $args end]
}
proc stub_busif {name} {
  lappend ::stub_busifs $name
  set mode [expr {[string match m_* $name] || $name eq "interrupt" ? "master" : "slave"}]
  set ::stub_prop($name,interface_mode) [env STUB_MODE_[string toupper $name] $mode]
}
proc ipx::package_project {args} {
  record ipx::package_project {*}$args
  set ::stub_root [opt $args -root_dir]
  set ::stub_prop(core,vendor) [opt $args -vendor]
  set ::stub_prop(core,library) [opt $args -library]
  set ::stub_prop(core,name) $::top
  set ::stub_prop(core,version) 1.0
  set ::stub_ipfiles {}
  foreach f $::stub_added {
    if {[env STUB_MEM_LEFT_OUT] eq "" || [file extension $f] ne ".mem"} {
      lappend ::stub_ipfiles src/[file tail $f]
    }
  }
  set ::stub_busifs {}
  foreach b [env STUB_AUTO_BUSIFS] { stub_busif $b }
}
proc ipx::current_core {args} { return core }
proc ipx::get_user_parameters {args} {
  if {[env STUB_NO_ACT_W] ne ""} { return "" }
  return user_parameter/[lindex $args 0]
}
proc ipx::get_hdl_parameters {args} { return hdl_parameter/[lindex $args 0] }
proc ipx::get_file_groups {args} { return [lindex $args 0] }
proc ipx::get_files {args} { return $::stub_ipfiles }
proc ipx::add_file {args} {
  record ipx::add_file {*}$args
  lappend ::stub_ipfiles [lindex $args 0]
  return [lindex $args 0]
}
proc ipx::get_ports {args} { return [lindex $args 0] }
proc ipx::get_bus_interfaces {args} {
  set name [lindex [lsearch -all -inline -not -glob [lrange $args 0 end-2] -*] 0]
  return [expr {[lsearch -exact $::stub_busifs $name] >= 0 ? $name : ""}]
}
proc ipx::infer_bus_interface {ports vlnv core} {
  record ipx::infer_bus_interface $ports $vlnv $core
  set name [lindex $ports 0]
  regsub {_\*$} $name {} name
  stub_busif $name
}
proc ipx::get_bus_parameters {args} {
  set name [lindex [lsearch -all -inline -not -glob [lrange $args 0 end-2] -*] 0]
  set p [lindex $args end]/$name
  return [expr {[info exists ::stub_param($p)] ? $p : ""}]
}
proc ipx::add_bus_parameter {name busif} {
  record ipx::add_bus_parameter $name $busif
  set ::stub_param($busif/$name) 1
  return $busif/$name
}
proc ipx::associate_bus_interfaces {args} {
  record ipx::associate_bus_interfaces {*}$args
  set clk [opt $args -clock]
  set ::stub_param($clk/ASSOCIATED_BUSIF) 1
  set key $clk/ASSOCIATED_BUSIF,value
  if {[opt $args -busif] ne ""} {
    set old [expr {[info exists ::stub_prop($key)] ? $::stub_prop($key) : ""}]
    set ::stub_prop($key) [join [concat [split $old :] [list [opt $args -busif]]] :]
    set ::stub_prop($key) [string trimleft $::stub_prop($key) :]
  }
  if {[opt $args -reset] ne ""} { set ::stub_prop($clk/ASSOCIATED_RESET,value) [opt $args -reset] }
}
proc ipx::check_integrity {args} {
  record ipx::check_integrity {*}$args
  if {[env STUB_INTEGRITY_FAIL] ne ""} { error "ERROR: \[IP_Flow 19-3461\] stand-in integrity failure" }
}
proc ipx::save_core {args} {
  record ipx::save_core {*}$args
  set f [open [file join $::stub_root component.xml] w]
  set vlnv {}
  foreach k {vendor library name version} { lappend vlnv $::stub_prop(core,$k) }
  puts $f "<component vlnv=\"[join $vlnv :]\" busifs=\"$::stub_busifs\"/>"
  close $f
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
