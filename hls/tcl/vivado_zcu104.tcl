# Vivado block design for the ZCU104: the exported HLS (or RTL) IP behind a
# Zynq UltraScale+ PS -> .bit + .hwh + utilisation and timing reports.
#
#   make bitstream                                          (the documented way)
#   vivado -mode batch -source hls/tcl/vivado_zcu104.tcl -tclargs <settings.tcl>
#
# <settings.tcl> is written by `python -m sim.bitstream_flow`; every value has
# one owner in Python (the export manifest and sim/xilinx_tools.py):
#   proj_dir, proj_name, bd_name   where the Vivado project goes
#   part, board_part               xczu7ev-ffvc1156-2-e, xilinx.com:zcu104:part0:1.1
#   ip_repo, ip_vlnv, ip_instance  the packaged IP and its block-design instance
#   bundles                        the IP's m_axi bundles (manifest interface.m_axi)
#   hp_ports, hp_gp                the PS slave port of each bundle and the n of its
#                                  PSU__USE__S_AXI_GP<n> switch (same order as bundles)
#   port_bits                      data width of every AXI master (HP ports set to match)
#   clock_mhz                      pl_clk0, the IP's clock (manifest design.clock_mhz)
#   out_dir, stem                  <out_dir>/<stem>.bit, <stem>.hwh, utilization.rpt,
#                                  timing_summary.rpt (+ timing_paths.rpt on failure)
#   jobs                           parallel synthesis/implementation jobs
#
# Exit codes: 0 built, 1 a step failed (timing: WNS < 0, with the failing
# paths printed), 2 bad settings.

proc fail {msg {code 1}} {
  puts stderr "vivado_zcu104.tcl: $msg"
  exit $code
}

if {[llength $argv] >= 1} {
  set settings [lindex $argv 0]
} elseif {[info exists ::env(EDGEMOE_TCL_SETTINGS)]} {
  set settings $::env(EDGEMOE_TCL_SETTINGS)
} else {
  fail "usage: vivado -mode batch -source hls/tcl/vivado_zcu104.tcl -tclargs <settings.tcl>" 2
}
if {![file isfile $settings]} {
  fail "settings file $settings not found: run `make bitstream` (python -m sim.bitstream_flow)" 2
}
source $settings
foreach v {proj_dir proj_name bd_name part board_part ip_repo ip_vlnv ip_instance bundles
           hp_ports hp_gp port_bits clock_mhz out_dir stem jobs} {
  if {![info exists $v]} {
    fail "$settings does not set '$v'" 2
  }
}
if {[llength $bundles] == 0} {
  fail "the IP has no m_axi bundles" 2
}
if {[llength $bundles] != [llength $hp_ports] || [llength $hp_ports] != [llength $hp_gp]} {
  fail "bundles ($bundles), hp_ports ($hp_ports) and hp_gp ($hp_gp) differ in length" 2
}
if {[llength [lsort -unique $hp_ports]] != [llength $hp_ports]} {
  fail "two bundles share a PS port: $hp_ports" 2
}
foreach port $hp_ports {
  if {![regexp {^S_AXI_HPC?[0-9]_FPD$} $port]} {
    fail "not a Zynq UltraScale+ PS slave port: $port" 2
  }
}
if {![file isdirectory $ip_repo]} {
  fail "IP repository $ip_repo missing: the HLS export stage did not run" 2
}
file mkdir $out_dir

# -------------------------------------------------------------------- project
create_project -force $proj_name $proj_dir -part $part
set use_board [expr {[lsearch -exact [get_board_parts -quiet] $board_part] >= 0}]
if {$use_board} {
  set_property board_part $board_part [current_project]
} else {
  puts "WARNING: board files for $board_part are not installed; configuring the PS from the part."
}
set_property ip_repo_paths [list $ip_repo] [current_project]
update_ip_catalog
if {[llength [get_ipdefs -quiet $ip_vlnv]] == 0} {
  fail "IP $ip_vlnv not found in $ip_repo (export it with the HLS export stage)"
}

# --------------------------------------------------------------- block design
create_bd_design $bd_name
set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e zynq_ultra_ps_e_0]
if {$use_board} {
  apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {apply_board_preset "1"} $ps
} else {
  # The ZCU104's PS DDR4 (components, 64 bit) and reference clock, from its board
  # files (Xilinx/XilinxBoardStore boards/Xilinx/zcu104/1.1/preset.xml, Apache-2.0).
  # MIO peripherals stay unconfigured: a PYNQ image boots the board and configures
  # them; loading this overlay only programs the PL. A boot image (FSBL) built from
  # this design would lack them: install the board files for that.
  set_property -dict [list \
    CONFIG.PSU__PSS_REF_CLK__FREQMHZ {33.333333} \
    CONFIG.PSU__DDRC__MEMORY_TYPE {DDR 4} \
    CONFIG.PSU__DDRC__COMPONENTS {Components} \
    CONFIG.PSU__DDRC__BUS_WIDTH {64 Bit} \
    CONFIG.PSU__DDRC__DRAM_WIDTH {16 Bits} \
    CONFIG.PSU__DDRC__ECC {Disabled} \
    CONFIG.PSU__DDRC__SPEED_BIN {DDR4_2133P} \
    CONFIG.PSU__CRF_APB__DDR_CTRL__FREQMHZ {1067} \
    CONFIG.PSU__DDRC__DEVICE_CAPACITY {4096 MBits} \
    CONFIG.PSU__DDRC__BG_ADDR_COUNT {1} \
    CONFIG.PSU__DDRC__BANK_ADDR_COUNT {2} \
    CONFIG.PSU__DDRC__ROW_ADDR_COUNT {15} \
    CONFIG.PSU__DDRC__COL_ADDR_COUNT {10} \
    CONFIG.PSU__DDRC__CL {15} \
    CONFIG.PSU__DDRC__CWL {14} \
    CONFIG.PSU__DDRC__T_RCD {15} \
    CONFIG.PSU__DDRC__T_RP {15} \
    CONFIG.PSU__DDRC__T_RC {47.06} \
    CONFIG.PSU__DDRC__T_RAS_MIN {33} \
    CONFIG.PSU__DDRC__T_FAW {30.0} \
  ] $ps
}
# What the overlay needs, on top of either: control master HPM0_FPD only, one
# slave port per m_axi bundle at the IP's width, pl_clk0 at the design clock,
# one fabric reset and the PL-to-PS interrupt.
set cfg [list \
  CONFIG.PSU__USE__M_AXI_GP0 {1} \
  CONFIG.PSU__USE__M_AXI_GP1 {0} \
  CONFIG.PSU__USE__M_AXI_GP2 {0} \
  CONFIG.PSU__FPGA_PL0_ENABLE {1} \
  CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $clock_mhz \
  CONFIG.PSU__NUM_FABRIC_RESETS {1} \
  CONFIG.PSU__USE__IRQ0 {1} \
]
foreach gp $hp_gp {
  lappend cfg CONFIG.PSU__USE__S_AXI_GP$gp {1} CONFIG.PSU__SAXIGP${gp}__DATA_WIDTH $port_bits
}
set_property -dict $cfg $ps

set ip [create_bd_cell -type ip -vlnv $ip_vlnv $ip_instance]
set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset rst_pl_clk0]
set clk [get_bd_pins zynq_ultra_ps_e_0/pl_clk0]
set aresetn [get_bd_pins rst_pl_clk0/peripheral_aresetn]
connect_bd_net $clk [get_bd_pins rst_pl_clk0/slowest_sync_clk]
connect_bd_net [get_bd_pins zynq_ultra_ps_e_0/pl_resetn0] [get_bd_pins rst_pl_clk0/ext_reset_in]
connect_bd_net $clk [get_bd_pins $ip_instance/ap_clk]
connect_bd_net $aresetn [get_bd_pins $ip_instance/ap_rst_n]

# Control: M_AXI_HPM0_FPD -> SmartConnect -> s_axi_control.
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_smc
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] [get_bd_cells ctrl_smc]
connect_bd_intf_net [get_bd_intf_pins zynq_ultra_ps_e_0/M_AXI_HPM0_FPD] [get_bd_intf_pins ctrl_smc/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins ctrl_smc/M00_AXI] [get_bd_intf_pins $ip_instance/s_axi_control]
connect_bd_net $clk [get_bd_pins ctrl_smc/aclk] [get_bd_pins zynq_ultra_ps_e_0/maxihpm0_fpd_aclk]
connect_bd_net $aresetn [get_bd_pins ctrl_smc/aresetn]

# Data: each m_axi bundle -> its own SmartConnect -> its own PS slave port.
foreach bundle $bundles port $hp_ports {
  regexp {^S_AXI_(HPC?[0-9])_FPD$} $port -> hp
  set smc smc_$bundle
  create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect $smc
  set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] [get_bd_cells $smc]
  connect_bd_intf_net [get_bd_intf_pins $ip_instance/m_axi_$bundle] [get_bd_intf_pins $smc/S00_AXI]
  connect_bd_intf_net [get_bd_intf_pins $smc/M00_AXI] [get_bd_intf_pins zynq_ultra_ps_e_0/$port]
  connect_bd_net $clk [get_bd_pins $smc/aclk] \
    [get_bd_pins zynq_ultra_ps_e_0/saxi[string tolower $hp]_fpd_aclk]
  connect_bd_net $aresetn [get_bd_pins $smc/aresetn]
}
connect_bd_net [get_bd_pins $ip_instance/interrupt] [get_bd_pins zynq_ultra_ps_e_0/pl_ps_irq0]

# Addresses: control in the PS's map, DDR (low and high) in every master's.
assign_bd_address
set segs [get_bd_addr_segs -quiet -of_objects [get_bd_addr_spaces zynq_ultra_ps_e_0/Data]]
if {[lsearch -glob $segs *$ip_instance*] < 0} {
  fail "s_axi_control of $ip_instance got no address in the PS's map (segments: $segs)"
}
foreach bundle $bundles {
  set segs [get_bd_addr_segs -quiet -of_objects [get_bd_addr_spaces $ip_instance/Data_m_axi_$bundle]]
  if {[lsearch -glob $segs *DDR_LOW*] < 0} {
    fail "m_axi_$bundle cannot reach DDR (address segments: $segs)"
  }
}
validate_bd_design
save_bd_design

# ---------------------------------------------------------- wrapper and runs
set bd_file [get_files $bd_name.bd]
generate_target all $bd_file
make_wrapper -files $bd_file -top -import
set_property top ${bd_name}_wrapper [current_fileset]
update_compile_order -fileset sources_1

launch_runs synth_1 -jobs $jobs
wait_on_run synth_1
if {[get_property PROGRESS [get_runs synth_1]] ne "100%"} {
  fail "synthesis failed: [get_property STATUS [get_runs synth_1]] (see $proj_dir/$proj_name.runs/synth_1/runme.log)"
}
launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
  fail "implementation failed: [get_property STATUS [get_runs impl_1]] (see $proj_dir/$proj_name.runs/impl_1/runme.log)"
}

# ------------------------------------------------------------------ reports
open_run impl_1
report_utilization -file [file join $out_dir utilization.rpt]
report_timing_summary -max_paths 10 -file [file join $out_dir timing_summary.rpt]
set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
if {$wns eq "" || $wns < 0} {
  set paths [file join $out_dir timing_paths.rpt]
  report_timing -max_paths 10 -nworst 1 -setup -sort_by slack -file $paths
  set f [open $paths]
  puts [read $f]
  close $f
  fail "timing not met at $clock_mhz MHz: WNS = $wns ns (failing paths above and in $paths)"
}
puts "timing met at $clock_mhz MHz: WNS = $wns ns"

# ------------------------------------------------------------------ outputs
# Vivado 2020.2 moved generated block-design files from <proj>.srcs to <proj>.gen.
set gen [expr {[package vcompare [version -short] 2020.2] >= 0 ? "gen" : "srcs"}]
set hwh [file join $proj_dir $proj_name.$gen sources_1 bd $bd_name hw_handoff $bd_name.hwh]
set bit [file join $proj_dir $proj_name.runs impl_1 ${bd_name}_wrapper.bit]
foreach f [list $bit $hwh] {
  if {![file isfile $f]} {
    fail "expected output $f is missing"
  }
}
file copy -force $bit [file join $out_dir $stem.bit]
file copy -force $hwh [file join $out_dir $stem.hwh]
puts "wrote $out_dir/$stem.bit and $stem.hwh"
exit 0
