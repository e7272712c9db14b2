# Vivado IP packaging of the RTL engine (hls/rtl/engine/edgemoe_rtl_top.sv) with
# the VLNV and ports of the Vitis HLS IP, so hls/tcl/vivado_zcu104.tcl puts it in
# the block design in place of the HLS IP.
#
#   make bitstream ENGINE=rtl                                  (the documented way)
#   vivado -mode batch -source hls/tcl/package_rtl_ip.tcl -tclargs <settings.tcl>
#
# <settings.tcl> is written by `python -m sim.bitstream_flow --engine rtl`; every
# value has one owner in Python (sim.rtl's source lists, the export manifest and
# sim/xilinx_tools.py):
#   proj_dir        the scratch Vivado project the IP is packaged from
#   part            xczu7ev-ffvc1156-2-e
#   sources         every SystemVerilog file, in compile order: the generated
#                   packages first (sim.rtl.generated_sources), then the engine's
#                   modules leaves first (sim.rtl.sources)
#   mem_files       the ROM tables hwmath_pkg names by their bare file name
#                   ("exp2.mem"): the $readmemh files of rom2r
#   top, act_w      edgemoe_rtl_top and its ACT_W generic (manifest act_w)
#   bundles         the m_axi bundles (manifest interface.m_axi): m_axi_<bundle> each
#   ip_repo         where the IP goes (<ip_repo>/component.xml)
#   ip_vlnv         vendor:library:name:version, the HLS IP's (edgemoe:hls:edgemoe_top:1.0)
#
# The tables: rom2r reads $readmemh(FILE) with FILE the bare name from
# hwmath_pkg, which Vivado synthesis resolves against the memory files of the
# design. So the .mem files are added to the project beside the sources,
# imported into the IP with them (-import_files) and checked to be in the IP's
# synthesis file group (added there as type "mem" where packaging left one out).
#
# Exit codes: 0 packaged, 1 a step failed, 2 bad settings.

proc fail {msg {code 1}} {
  puts stderr "package_rtl_ip.tcl: $msg"
  exit $code
}

if {[llength $argv] >= 1} {
  set settings [lindex $argv 0]
} elseif {[info exists ::env(EDGEMOE_TCL_SETTINGS)]} {
  set settings $::env(EDGEMOE_TCL_SETTINGS)
} else {
  fail "usage: vivado -mode batch -source hls/tcl/package_rtl_ip.tcl -tclargs <settings.tcl>" 2
}
if {![file isfile $settings]} {
  fail "settings file $settings not found: run `make bitstream ENGINE=rtl` (python -m sim.bitstream_flow)" 2
}
source $settings
foreach v {proj_dir part sources mem_files top act_w bundles ip_repo ip_vlnv} {
  if {![info exists $v]} {
    fail "$settings does not set '$v'" 2
  }
}
if {[llength $sources] == 0} {
  fail "no sources to package" 2
}
foreach f $sources {
  if {![file isfile $f]} {
    fail "source $f not found" 2
  }
  if {[file extension $f] ne ".sv"} {
    fail "source $f is not a SystemVerilog (.sv) file" 2
  }
}
if {[llength [lsort -unique $sources]] != [llength $sources]} {
  fail "a source is listed twice: $sources" 2
}
if {[llength $mem_files] == 0} {
  fail "no ROM table files (mem_files): hwmath_pkg's tables would be empty" 2
}
foreach f $mem_files {
  if {![file isfile $f]} {
    fail "ROM table $f not found" 2
  }
  if {[file extension $f] ne ".mem"} {
    fail "ROM table $f is not a .mem file" 2
  }
}
set mem_names {}
foreach f $mem_files {
  lappend mem_names [file tail $f]
}
if {[llength [lsort -unique $mem_names]] != [llength $mem_files]} {
  fail "two ROM tables share a file name (\$readmemh finds them by name): $mem_files" 2
}
if {[lsearch -exact {8 16 32} $act_w] < 0} {
  fail "act_w $act_w is not 8, 16 or 32" 2
}
if {$top eq ""} {
  fail "no top module" 2
}
if {[llength $bundles] == 0} {
  fail "the IP has no m_axi bundles" 2
}
if {[llength [lsort -unique $bundles]] != [llength $bundles]} {
  fail "a bundle is listed twice: $bundles" 2
}
foreach b $bundles {
  if {![regexp {^[A-Za-z_][A-Za-z0-9_]*$} $b]} {
    fail "bundle name '$b' is not an HDL identifier" 2
  }
}
set vlnv [split $ip_vlnv :]
if {[llength $vlnv] != 4 || [lsearch -exact $vlnv ""] >= 0} {
  fail "ip_vlnv '$ip_vlnv' is not vendor:library:name:version" 2
}
lassign $vlnv ip_vendor ip_library ip_name ip_version

# -------------------------------------------------------------------- project
create_project -force rtl_ip_pack $proj_dir -part $part
add_files -norecurse -fileset sources_1 $sources
set_property file_type SystemVerilog [get_files $sources]
add_files -norecurse -fileset sources_1 $mem_files
set_property top $top [current_fileset]
set_property generic "ACT_W=$act_w" [current_fileset]
update_compile_order -fileset sources_1

# ---------------------------------------------------------------------- package
# Into ip_repo itself, as the HLS export lays out its IP (component.xml at the top).
file delete -force $ip_repo
file mkdir $ip_repo
ipx::package_project -root_dir $ip_repo -vendor $ip_vendor -library $ip_library \
  -taxonomy /UserIP -import_files -set_current true -force
set core [ipx::current_core]
set_property vendor $ip_vendor $core
set_property library $ip_library $core
set_property name $ip_name $core
set_property version $ip_version $core
set_property display_name "EdgeMoE engine (RTL, ACT_W=$act_w)" $core
set_property description "hls/rtl/engine/$top.sv with the ports of the HLS IP $ip_name" $core

# ACT_W: the export's activation width, fixed (not a user choice in the block design).
set act_param [ipx::get_user_parameters ACT_W -of_objects $core]
if {$act_param eq ""} {
  fail "the packaged IP has no ACT_W parameter ($top's generic)"
}
set_property value $act_w $act_param
set_property enablement_value false $act_param
set_property value $act_w [ipx::get_hdl_parameters ACT_W -of_objects $core]

# The ROM tables in the synthesis file group (by file name, as $readmemh finds them).
set synth_group [ipx::get_file_groups xilinx_anylanguagesynthesis -of_objects $core]
set packaged {}
foreach f [ipx::get_files -of_objects $synth_group] {
  lappend packaged [file tail [get_property name $f]]
}
foreach f $mem_files {
  if {[lsearch -exact $packaged [file tail $f]] < 0} {
    file mkdir [file join $ip_repo src]
    file copy -force $f [file join $ip_repo src [file tail $f]]
    set_property type mem [ipx::add_file src/[file tail $f] $synth_group]
  }
}

# ------------------------------------------------------------------- interfaces
# Packaging infers interfaces from the port names; each one the HLS IP has is
# looked up by name and inferred from its ports where packaging did not.
proc require_busif {core name ports abstraction} {
  if {[ipx::get_bus_interfaces -quiet $name -of_objects $core] eq ""} {
    ipx::infer_bus_interface $ports $abstraction $core
  }
  set busif [ipx::get_bus_interfaces -quiet $name -of_objects $core]
  if {$busif eq ""} {
    fail "no bus interface $name could be inferred from the ports $ports ($abstraction)"
  }
  return $busif
}
proc set_bus_parameter {busif name value} {
  set p [ipx::get_bus_parameters -quiet $name -of_objects $busif]
  if {$p eq ""} {
    set p [ipx::add_bus_parameter $name $busif]
  }
  set_property value $value $p
}

set aximm xilinx.com:interface:aximm_rtl:1.0
set axi_busifs [list s_axi_control]
foreach b $bundles {
  lappend axi_busifs m_axi_$b
}
foreach name $axi_busifs {
  set ports [ipx::get_ports ${name}_* -of_objects $core]
  if {$ports eq ""} {
    fail "$top has no ports ${name}_* (the HLS IP's $name)"
  }
  set busif [require_busif $core $name $ports $aximm]
  set mode [expr {$name eq "s_axi_control" ? "slave" : "master"}]
  if {[get_property interface_mode $busif] ne $mode} {
    fail "$name was packaged as [get_property interface_mode $busif], not as an AXI $mode"
  }
}
set clk [require_busif $core ap_clk ap_clk xilinx.com:signal:clock_rtl:1.0]
set rst [require_busif $core ap_rst_n ap_rst_n xilinx.com:signal:reset_rtl:1.0]
set irq [require_busif $core interrupt interrupt xilinx.com:signal:interrupt_rtl:1.0]
set_bus_parameter $rst POLARITY ACTIVE_LOW
set_bus_parameter $irq SENSITIVITY LEVEL_HIGH
foreach name $axi_busifs {
  ipx::associate_bus_interfaces -busif $name -clock ap_clk $core
}
ipx::associate_bus_interfaces -clock ap_clk -reset ap_rst_n $core
set associated [split [get_property value [ipx::get_bus_parameters ASSOCIATED_BUSIF -of_objects $clk]] :]
foreach name $axi_busifs {
  if {[lsearch -exact $associated $name] < 0} {
    fail "ap_clk is not associated with $name (ASSOCIATED_BUSIF: [join $associated :])"
  }
}

# ------------------------------------------------------------------ save
ipx::create_xgui_files $core
ipx::update_checksums $core
if {[catch {ipx::check_integrity $core} msg]} {
  fail "the packaged IP fails Vivado's integrity check: $msg"
}
ipx::save_core $core
close_project
set component [file join $ip_repo component.xml]
if {![file isfile $component]} {
  fail "packaging finished but $component is missing"
}
puts "packaged $top (ACT_W=$act_w) as $ip_vlnv in $ip_repo"
exit 0
