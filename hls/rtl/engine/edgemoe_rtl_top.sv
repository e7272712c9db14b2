// The RTL engine's AXI shell: the ports of the IP Vitis HLS generates for the
// HLS top edgemoe_top (ap_clk, ap_rst_n, the s_axi_control AXI4-Lite slave, one
// AXI4 master m_axi_<bundle> per bundle of pymodel/export/regmap.py
// m_axi_bundles: gmem_io read and write, gmem_w0 .. gmem_w<P-1> read only, and
// interrupt), around ctrl_regs, desc_check and edgemoe_datapath.
//
// Sequence of one run (ap_ctrl_hs, as edgemoe_top):
//   1. ap_start (CTRL) while idle: latch the params, io and weight pointers and
//      the task register.
//   2. Fetch the global descriptor: GD_COUNT 32-bit words at params beat 0,
//      four little-endian words per 128-bit beat (decode_model's read_u32),
//      ceil(GD_COUNT / 4) beats through the gmem_io read master.
//   3. desc_check, phase 1 (the block-descriptor RAM not loaded yet). If it
//      never issued a block read, the global or task check refused the
//      descriptor and its status is final (go to 6).
//   4. Otherwise the global fields passed (depth in 1 .. MAX_DEPTH, the block
//      region inside the image), so fetch every block: block i's BD_COUNT
//      words at beat off_blocks + i * block_beats (32-bit beat arithmetic, as
//      load_block), ceil(BD_COUNT / 4) beats each, into the block-descriptor
//      RAM (MAX_DEPTH blocks, one 128-bit word per beat); then desc_check,
//      phase 2: its status is final unless it is STATUS_OK.
//   5. On STATUS_OK: a dp_start pulse to edgemoe_datapath; wait for dp_done and
//      for every io write to be acknowledged on B; status = STATUS_OK.
//   6. ap_done (one cycle) with the status into ctrl_regs (status register and
//      its ap_vld). A refused descriptor never issues an io write (no AW at
//      all): only the params reads of steps 2 and 4 happen.
//
// The dp_* contract (edgemoe_datapath's side):
//   dp_start        one cycle, while the datapath is idle; dp_done one cycle
//                   when the schedule is over (its io writes may still await B).
//   dp_task, dp_params_addr, dp_io_addr, dp_wgt_addr (64 bits per weight port),
//   dp_gd (word k in dp_gd[32k +: 32])
//                   the run's values, held from dp_start until the next start.
//   dp_bd_rd_*      the block-descriptor RAM (the words desc_check checked):
//                   (block, field) with en in a cycle, the word on
//                   dp_bd_rd_data in the next (registered one-cycle read).
//   dp_io_rd_*      the gmem_io read master (axi_rd's client interface: byte
//                   address, length in beats; beats in request order with
//                   last on each request's last beat). The shell's fetches of
//                   steps 2 and 4 are over before dp_start, so the port is
//                   muxed to the datapath from dp_start to ap_done.
//   dp_io_wr_*      the gmem_io write master (axi_wr's client interface).
//   dp_io_wr_busy   write requests accepted (length > 0) whose last B has not
//                   come back yet (high from the request handshake).
//   dp_w_rd_*       one axi_rd per weight port (gmem_w<p>).
//
// AXI parameters as the HLS pragmas of edgemoe_top.cpp (and the weight ports'
// EDGEMOE_WGT_INTERFACE): max burst 64 beats, 16 bursts outstanding per
// direction, 128-bit data, 64-bit addresses, 1-bit IDs (always 0). The sticky
// err outputs of the masters are not reported: edgemoe_regs_pkg has no status
// code for a bus error (the HLS IP has none either).
`default_nettype none

module edgemoe_rtl_top #(
    // activation word width of the export: 16 (hw16, hw8) or 32 (edgemoe)
    parameter int ACT_W = 16
) (
    input  wire                                           ap_clk,
    input  wire                                           ap_rst_n,
    // AXI4-Lite slave s_axi_control
    input  wire                                           s_axi_control_AWVALID,
    output logic                                          s_axi_control_AWREADY,
    input  wire  [edgemoe_regs_pkg::ADDR_W-1:0]           s_axi_control_AWADDR,
    input  wire                                           s_axi_control_WVALID,
    output logic                                          s_axi_control_WREADY,
    input  wire  [edgemoe_regs_pkg::DATA_W-1:0]           s_axi_control_WDATA,
    input  wire  [edgemoe_regs_pkg::DATA_W/8-1:0]         s_axi_control_WSTRB,
    output logic                                          s_axi_control_BVALID,
    input  wire                                           s_axi_control_BREADY,
    output logic [1:0]                                    s_axi_control_BRESP,
    input  wire                                           s_axi_control_ARVALID,
    output logic                                          s_axi_control_ARREADY,
    input  wire  [edgemoe_regs_pkg::ADDR_W-1:0]           s_axi_control_ARADDR,
    output logic                                          s_axi_control_RVALID,
    input  wire                                           s_axi_control_RREADY,
    output logic [edgemoe_regs_pkg::DATA_W-1:0]           s_axi_control_RDATA,
    output logic [1:0]                                    s_axi_control_RRESP,
    // AXI4 master m_axi_gmem_io: AW, W, B
    output logic                                          m_axi_gmem_io_AWVALID,
    input  wire                                           m_axi_gmem_io_AWREADY,
    output logic [63:0]                                   m_axi_gmem_io_AWADDR,
    output logic [7:0]                                    m_axi_gmem_io_AWLEN,
    output logic [2:0]                                    m_axi_gmem_io_AWSIZE,
    output logic [1:0]                                    m_axi_gmem_io_AWBURST,
    output logic [1:0]                                    m_axi_gmem_io_AWLOCK,
    output logic [3:0]                                    m_axi_gmem_io_AWCACHE,
    output logic [2:0]                                    m_axi_gmem_io_AWPROT,
    output logic [3:0]                                    m_axi_gmem_io_AWQOS,
    output logic [3:0]                                    m_axi_gmem_io_AWREGION,
    output logic [0:0]                                    m_axi_gmem_io_AWID,
    output logic                                          m_axi_gmem_io_WVALID,
    input  wire                                           m_axi_gmem_io_WREADY,
    output logic [127:0]                                  m_axi_gmem_io_WDATA,
    output logic [15:0]                                   m_axi_gmem_io_WSTRB,
    output logic                                          m_axi_gmem_io_WLAST,
    input  wire                                           m_axi_gmem_io_BVALID,
    output logic                                          m_axi_gmem_io_BREADY,
    input  wire  [1:0]                                    m_axi_gmem_io_BRESP,
    input  wire  [0:0]                                    m_axi_gmem_io_BID,
    // AXI4 master m_axi_gmem_io: AR, R
    output logic                                          m_axi_gmem_io_ARVALID,
    input  wire                                           m_axi_gmem_io_ARREADY,
    output logic [63:0]                                   m_axi_gmem_io_ARADDR,
    output logic [7:0]                                    m_axi_gmem_io_ARLEN,
    output logic [2:0]                                    m_axi_gmem_io_ARSIZE,
    output logic [1:0]                                    m_axi_gmem_io_ARBURST,
    output logic [1:0]                                    m_axi_gmem_io_ARLOCK,
    output logic [3:0]                                    m_axi_gmem_io_ARCACHE,
    output logic [2:0]                                    m_axi_gmem_io_ARPROT,
    output logic [3:0]                                    m_axi_gmem_io_ARQOS,
    output logic [3:0]                                    m_axi_gmem_io_ARREGION,
    output logic [0:0]                                    m_axi_gmem_io_ARID,
    input  wire                                           m_axi_gmem_io_RVALID,
    output logic                                          m_axi_gmem_io_RREADY,
    input  wire  [127:0]                                  m_axi_gmem_io_RDATA,
    input  wire  [1:0]                                    m_axi_gmem_io_RRESP,
    input  wire                                           m_axi_gmem_io_RLAST,
    input  wire  [0:0]                                    m_axi_gmem_io_RID,
    // AXI4 master m_axi_gmem_w0 (read only): AR, R
    output logic                                          m_axi_gmem_w0_ARVALID,
    input  wire                                           m_axi_gmem_w0_ARREADY,
    output logic [63:0]                                   m_axi_gmem_w0_ARADDR,
    output logic [7:0]                                    m_axi_gmem_w0_ARLEN,
    output logic [2:0]                                    m_axi_gmem_w0_ARSIZE,
    output logic [1:0]                                    m_axi_gmem_w0_ARBURST,
    output logic [1:0]                                    m_axi_gmem_w0_ARLOCK,
    output logic [3:0]                                    m_axi_gmem_w0_ARCACHE,
    output logic [2:0]                                    m_axi_gmem_w0_ARPROT,
    output logic [3:0]                                    m_axi_gmem_w0_ARQOS,
    output logic [3:0]                                    m_axi_gmem_w0_ARREGION,
    output logic [0:0]                                    m_axi_gmem_w0_ARID,
    input  wire                                           m_axi_gmem_w0_RVALID,
    output logic                                          m_axi_gmem_w0_RREADY,
    input  wire  [127:0]                                  m_axi_gmem_w0_RDATA,
    input  wire  [1:0]                                    m_axi_gmem_w0_RRESP,
    input  wire                                           m_axi_gmem_w0_RLAST,
    input  wire  [0:0]                                    m_axi_gmem_w0_RID,
    // AXI4 master m_axi_gmem_w1 (read only): AR, R
    output logic                                          m_axi_gmem_w1_ARVALID,
    input  wire                                           m_axi_gmem_w1_ARREADY,
    output logic [63:0]                                   m_axi_gmem_w1_ARADDR,
    output logic [7:0]                                    m_axi_gmem_w1_ARLEN,
    output logic [2:0]                                    m_axi_gmem_w1_ARSIZE,
    output logic [1:0]                                    m_axi_gmem_w1_ARBURST,
    output logic [1:0]                                    m_axi_gmem_w1_ARLOCK,
    output logic [3:0]                                    m_axi_gmem_w1_ARCACHE,
    output logic [2:0]                                    m_axi_gmem_w1_ARPROT,
    output logic [3:0]                                    m_axi_gmem_w1_ARQOS,
    output logic [3:0]                                    m_axi_gmem_w1_ARREGION,
    output logic [0:0]                                    m_axi_gmem_w1_ARID,
    input  wire                                           m_axi_gmem_w1_RVALID,
    output logic                                          m_axi_gmem_w1_RREADY,
    input  wire  [127:0]                                  m_axi_gmem_w1_RDATA,
    input  wire  [1:0]                                    m_axi_gmem_w1_RRESP,
    input  wire                                           m_axi_gmem_w1_RLAST,
    input  wire  [0:0]                                    m_axi_gmem_w1_RID,
    // AXI4 master m_axi_gmem_w2 (read only): AR, R
    output logic                                          m_axi_gmem_w2_ARVALID,
    input  wire                                           m_axi_gmem_w2_ARREADY,
    output logic [63:0]                                   m_axi_gmem_w2_ARADDR,
    output logic [7:0]                                    m_axi_gmem_w2_ARLEN,
    output logic [2:0]                                    m_axi_gmem_w2_ARSIZE,
    output logic [1:0]                                    m_axi_gmem_w2_ARBURST,
    output logic [1:0]                                    m_axi_gmem_w2_ARLOCK,
    output logic [3:0]                                    m_axi_gmem_w2_ARCACHE,
    output logic [2:0]                                    m_axi_gmem_w2_ARPROT,
    output logic [3:0]                                    m_axi_gmem_w2_ARQOS,
    output logic [3:0]                                    m_axi_gmem_w2_ARREGION,
    output logic [0:0]                                    m_axi_gmem_w2_ARID,
    input  wire                                           m_axi_gmem_w2_RVALID,
    output logic                                          m_axi_gmem_w2_RREADY,
    input  wire  [127:0]                                  m_axi_gmem_w2_RDATA,
    input  wire  [1:0]                                    m_axi_gmem_w2_RRESP,
    input  wire                                           m_axi_gmem_w2_RLAST,
    input  wire  [0:0]                                    m_axi_gmem_w2_RID,
    // AXI4 master m_axi_gmem_w3 (read only): AR, R
    output logic                                          m_axi_gmem_w3_ARVALID,
    input  wire                                           m_axi_gmem_w3_ARREADY,
    output logic [63:0]                                   m_axi_gmem_w3_ARADDR,
    output logic [7:0]                                    m_axi_gmem_w3_ARLEN,
    output logic [2:0]                                    m_axi_gmem_w3_ARSIZE,
    output logic [1:0]                                    m_axi_gmem_w3_ARBURST,
    output logic [1:0]                                    m_axi_gmem_w3_ARLOCK,
    output logic [3:0]                                    m_axi_gmem_w3_ARCACHE,
    output logic [2:0]                                    m_axi_gmem_w3_ARPROT,
    output logic [3:0]                                    m_axi_gmem_w3_ARQOS,
    output logic [3:0]                                    m_axi_gmem_w3_ARREGION,
    output logic [0:0]                                    m_axi_gmem_w3_ARID,
    input  wire                                           m_axi_gmem_w3_RVALID,
    output logic                                          m_axi_gmem_w3_RREADY,
    input  wire  [127:0]                                  m_axi_gmem_w3_RDATA,
    input  wire  [1:0]                                    m_axi_gmem_w3_RRESP,
    input  wire                                           m_axi_gmem_w3_RLAST,
    input  wire  [0:0]                                    m_axi_gmem_w3_RID,
    // the port name of the Vitis HLS IP (a C++ word only to Verilator's model)
    /* verilator lint_off SYMRSVDWORD */
    output logic                                          interrupt
    /* verilator lint_on SYMRSVDWORD */
);
  // the package's constants by their own names (no wildcard import, which Yosys cannot read)
  localparam int P = edgemoe_regs_pkg::WEIGHT_PORTS;
  localparam int NP = edgemoe_regs_pkg::N_PTR;
  localparam int NI = edgemoe_regs_pkg::N_SIN;
  localparam int GD_COUNT = edgemoe_regs_pkg::GD_COUNT;
  localparam int BD_COUNT = edgemoe_regs_pkg::BD_COUNT;
  localparam int MAX_DEPTH = edgemoe_regs_pkg::MAX_DEPTH;
  localparam int BLK_W = edgemoe_regs_pkg::BD_BLOCK_W;
  localparam int FLD_W = edgemoe_regs_pkg::BD_FIELD_W;
  localparam logic [31:0] STATUS_OK = 32'(edgemoe_regs_pkg::STATUS_OK);
  localparam int GDB = (GD_COUNT + 3) / 4;  // beats of the global descriptor
  localparam int BDB = (BD_COUNT + 3) / 4;  // beats of one block descriptor
  localparam int RAM_N = MAX_DEPTH * BDB;  // block-descriptor RAM words (one beat each)
  localparam int RA_W = $clog2(RAM_N);
  localparam int BB_W = $clog2(BDB + 1);  // beat-in-block counter bits
  // the HLS pragmas of edgemoe_top.cpp (max_*_burst_length, num_*_outstanding)
  localparam int MAX_BURST = 64;
  localparam int OUTSTANDING = 16;
  initial begin
    // the port list names gmem_w0 .. gmem_w3: a design with another port count
    // needs its own list (Verilog cannot generate port names)
    if (P != 4 || NP != P + 2 || NI != 1 || BLK_W < $clog2(MAX_DEPTH + 1) ||
        (1 << FLD_W) < BD_COUNT) begin
      $error("edgemoe_rtl_top: edgemoe_regs_pkg has WEIGHT_PORTS = %0d, N_PTR = %0d, N_SIN = %0d (the ports are written for 4 weight ports, 6 pointers, 1 scalar input) (%m)",
             P, NP, NI);
      $finish;
    end
  end

  wire rst = !ap_rst_n;

  // ------------------------------------------------------------ control slave
  logic ap_start, ap_done;
  logic [31:0] status_q;
  logic [64*NP-1:0] ptr;
  logic [32*NI-1:0] scalars;
  ctrl_regs regs (
      .clk(ap_clk),
      .rst(rst),
      .s_axi_awvalid(s_axi_control_AWVALID),
      .s_axi_awready(s_axi_control_AWREADY),
      .s_axi_awaddr(s_axi_control_AWADDR),
      .s_axi_wvalid(s_axi_control_WVALID),
      .s_axi_wready(s_axi_control_WREADY),
      .s_axi_wdata(s_axi_control_WDATA),
      .s_axi_wstrb(s_axi_control_WSTRB),
      .s_axi_bvalid(s_axi_control_BVALID),
      .s_axi_bready(s_axi_control_BREADY),
      .s_axi_bresp(s_axi_control_BRESP),
      .s_axi_arvalid(s_axi_control_ARVALID),
      .s_axi_arready(s_axi_control_ARREADY),
      .s_axi_araddr(s_axi_control_ARADDR),
      .s_axi_rvalid(s_axi_control_RVALID),
      .s_axi_rready(s_axi_control_RREADY),
      .s_axi_rdata(s_axi_control_RDATA),
      .s_axi_rresp(s_axi_control_RRESP),
      .interrupt(interrupt),
      .ap_start(ap_start),
      .ap_done(ap_done),
      .status(status_q),
      .ptr(ptr),
      .scalars(scalars)
  );

  // ------------------------------------------------------------------- state
  typedef enum logic [2:0] {
    S_IDLE,
    S_GD,     // global descriptor fetch
    S_CHK1,   // desc_check, phase 1
    S_BD,     // block descriptor fetch
    S_CHK2,   // desc_check, phase 2
    S_RUN,    // the datapath runs
    S_DRAIN,  // io writes await B
    S_DONE    // ap_done
  } state_t;
  state_t state;

  logic [63:0] params_q, io_q;
  logic [64*P-1:0] wgt_q;
  logic [31:0] task_q;
  logic [GD_COUNT-1:0][31:0] gd_q;
  logic [32*GD_COUNT-1:0] gd_flat;
  always_comb for (int k = 0; k < GD_COUNT; k++) gd_flat[32*k+:32] = gd_q[k];
  wire [31:0] depth = gd_q[edgemoe_regs_pkg::GD_DEPTH];
  wire [31:0] off_blocks = gd_q[edgemoe_regs_pkg::GD_OFF_BLOCKS];
  wire [31:0] block_beats = gd_q[edgemoe_regs_pkg::GD_BLOCK_BEATS];

  assign ap_done = state == S_DONE;
  wire dp_owns_io = state == S_RUN || state == S_DRAIN;

  // ------------------------------------------------- gmem_io read: shell / datapath
  logic f_req_valid;  // the shell's fetch requests
  logic [63:0] f_req_addr;
  logic [31:0] f_req_len;
  logic io_req_valid, io_req_ready, io_rd_valid, io_rd_ready, io_rd_last, io_rd_err;
  logic [63:0] io_req_addr;
  logic [31:0] io_req_len;
  logic [127:0] io_rd_data;
  logic dp_io_rd_req_valid, dp_io_rd_ready;
  logic [63:0] dp_io_rd_req_addr;
  logic [31:0] dp_io_rd_req_len;
  assign io_req_valid = dp_owns_io ? dp_io_rd_req_valid : f_req_valid;
  assign io_req_addr = dp_owns_io ? dp_io_rd_req_addr : f_req_addr;
  assign io_req_len = dp_owns_io ? dp_io_rd_req_len : f_req_len;
  assign io_rd_ready = dp_owns_io ? dp_io_rd_ready : 1'b1;
  wire f_req_hs = !dp_owns_io && f_req_valid && io_req_ready;
  wire f_beat = !dp_owns_io && io_rd_valid;  // the shell takes every beat at once

  axi_rd #(
      .MAX_BURST(MAX_BURST),
      .OUTSTANDING(OUTSTANDING)
  ) rd_io (
      .clk(ap_clk),
      .rst(rst),
      .req_valid(io_req_valid),
      .req_ready(io_req_ready),
      .req_addr(io_req_addr),
      .req_len(io_req_len),
      .rd_valid(io_rd_valid),
      .rd_ready(io_rd_ready),
      .rd_data(io_rd_data),
      .rd_last(io_rd_last),
      .err(io_rd_err),
      .m_axi_arvalid(m_axi_gmem_io_ARVALID),
      .m_axi_arready(m_axi_gmem_io_ARREADY),
      .m_axi_araddr(m_axi_gmem_io_ARADDR),
      .m_axi_arlen(m_axi_gmem_io_ARLEN),
      .m_axi_arsize(m_axi_gmem_io_ARSIZE),
      .m_axi_arburst(m_axi_gmem_io_ARBURST),
      .m_axi_arlock(m_axi_gmem_io_ARLOCK),
      .m_axi_arcache(m_axi_gmem_io_ARCACHE),
      .m_axi_arprot(m_axi_gmem_io_ARPROT),
      .m_axi_arqos(m_axi_gmem_io_ARQOS),
      .m_axi_arregion(m_axi_gmem_io_ARREGION),
      .m_axi_arid(m_axi_gmem_io_ARID),
      .m_axi_rvalid(m_axi_gmem_io_RVALID),
      .m_axi_rready(m_axi_gmem_io_RREADY),
      .m_axi_rdata(m_axi_gmem_io_RDATA),
      .m_axi_rresp(m_axi_gmem_io_RRESP),
      .m_axi_rlast(m_axi_gmem_io_RLAST),
      .m_axi_rid(m_axi_gmem_io_RID)
  );

  // ------------------------------------------------------------ gmem_io write
  logic dp_io_wr_req_valid, dp_io_wr_req_ready, dp_io_wr_valid, dp_io_wr_ready;
  logic [63:0] dp_io_wr_req_addr;
  logic [31:0] dp_io_wr_req_len;
  logic [127:0] dp_io_wr_data;
  logic wr_done, wr_err;
  logic [31:0] wr_pending;  // requests (length > 0) accepted and not yet done
  wire wr_req_hs = dp_io_wr_req_valid && dp_io_wr_req_ready && dp_io_wr_req_len != 0;
  wire dp_io_wr_busy = wr_pending != 0 || wr_req_hs;
  always_ff @(posedge ap_clk) begin
    if (rst) wr_pending <= '0;
    else wr_pending <= wr_pending + 32'(wr_req_hs) - 32'(wr_done);
  end

  axi_wr #(
      .MAX_BURST(MAX_BURST),
      .OUTSTANDING(OUTSTANDING)
  ) wr_io (
      .clk(ap_clk),
      .rst(rst),
      .req_valid(dp_io_wr_req_valid),
      .req_ready(dp_io_wr_req_ready),
      .req_addr(dp_io_wr_req_addr),
      .req_len(dp_io_wr_req_len),
      .wr_valid(dp_io_wr_valid),
      .wr_ready(dp_io_wr_ready),
      .wr_data(dp_io_wr_data),
      .done(wr_done),
      .err(wr_err),
      .m_axi_awvalid(m_axi_gmem_io_AWVALID),
      .m_axi_awready(m_axi_gmem_io_AWREADY),
      .m_axi_awaddr(m_axi_gmem_io_AWADDR),
      .m_axi_awlen(m_axi_gmem_io_AWLEN),
      .m_axi_awsize(m_axi_gmem_io_AWSIZE),
      .m_axi_awburst(m_axi_gmem_io_AWBURST),
      .m_axi_awlock(m_axi_gmem_io_AWLOCK),
      .m_axi_awcache(m_axi_gmem_io_AWCACHE),
      .m_axi_awprot(m_axi_gmem_io_AWPROT),
      .m_axi_awqos(m_axi_gmem_io_AWQOS),
      .m_axi_awregion(m_axi_gmem_io_AWREGION),
      .m_axi_awid(m_axi_gmem_io_AWID),
      .m_axi_wvalid(m_axi_gmem_io_WVALID),
      .m_axi_wready(m_axi_gmem_io_WREADY),
      .m_axi_wdata(m_axi_gmem_io_WDATA),
      .m_axi_wstrb(m_axi_gmem_io_WSTRB),
      .m_axi_wlast(m_axi_gmem_io_WLAST),
      .m_axi_bvalid(m_axi_gmem_io_BVALID),
      .m_axi_bready(m_axi_gmem_io_BREADY),
      .m_axi_bresp(m_axi_gmem_io_BRESP),
      .m_axi_bid(m_axi_gmem_io_BID)
  );

  // ------------------------------------------------------------ weight ports
  logic [P-1:0] dp_w_rd_req_valid, dp_w_rd_req_ready, dp_w_rd_valid, dp_w_rd_ready;
  logic [P-1:0] dp_w_rd_last, w_err;
  logic [64*P-1:0] dp_w_rd_req_addr;
  logic [32*P-1:0] dp_w_rd_req_len;
  logic [128*P-1:0] dp_w_rd_data;
  axi_rd #(
      .MAX_BURST(MAX_BURST),
      .OUTSTANDING(OUTSTANDING)
  ) rd_w0 (
      .clk(ap_clk),
      .rst(rst),
      .req_valid(dp_w_rd_req_valid[0]),
      .req_ready(dp_w_rd_req_ready[0]),
      .req_addr(dp_w_rd_req_addr[0*64+:64]),
      .req_len(dp_w_rd_req_len[0*32+:32]),
      .rd_valid(dp_w_rd_valid[0]),
      .rd_ready(dp_w_rd_ready[0]),
      .rd_data(dp_w_rd_data[0*128+:128]),
      .rd_last(dp_w_rd_last[0]),
      .err(w_err[0]),
      .m_axi_arvalid(m_axi_gmem_w0_ARVALID),
      .m_axi_arready(m_axi_gmem_w0_ARREADY),
      .m_axi_araddr(m_axi_gmem_w0_ARADDR),
      .m_axi_arlen(m_axi_gmem_w0_ARLEN),
      .m_axi_arsize(m_axi_gmem_w0_ARSIZE),
      .m_axi_arburst(m_axi_gmem_w0_ARBURST),
      .m_axi_arlock(m_axi_gmem_w0_ARLOCK),
      .m_axi_arcache(m_axi_gmem_w0_ARCACHE),
      .m_axi_arprot(m_axi_gmem_w0_ARPROT),
      .m_axi_arqos(m_axi_gmem_w0_ARQOS),
      .m_axi_arregion(m_axi_gmem_w0_ARREGION),
      .m_axi_arid(m_axi_gmem_w0_ARID),
      .m_axi_rvalid(m_axi_gmem_w0_RVALID),
      .m_axi_rready(m_axi_gmem_w0_RREADY),
      .m_axi_rdata(m_axi_gmem_w0_RDATA),
      .m_axi_rresp(m_axi_gmem_w0_RRESP),
      .m_axi_rlast(m_axi_gmem_w0_RLAST),
      .m_axi_rid(m_axi_gmem_w0_RID)
  );
  axi_rd #(
      .MAX_BURST(MAX_BURST),
      .OUTSTANDING(OUTSTANDING)
  ) rd_w1 (
      .clk(ap_clk),
      .rst(rst),
      .req_valid(dp_w_rd_req_valid[1]),
      .req_ready(dp_w_rd_req_ready[1]),
      .req_addr(dp_w_rd_req_addr[1*64+:64]),
      .req_len(dp_w_rd_req_len[1*32+:32]),
      .rd_valid(dp_w_rd_valid[1]),
      .rd_ready(dp_w_rd_ready[1]),
      .rd_data(dp_w_rd_data[1*128+:128]),
      .rd_last(dp_w_rd_last[1]),
      .err(w_err[1]),
      .m_axi_arvalid(m_axi_gmem_w1_ARVALID),
      .m_axi_arready(m_axi_gmem_w1_ARREADY),
      .m_axi_araddr(m_axi_gmem_w1_ARADDR),
      .m_axi_arlen(m_axi_gmem_w1_ARLEN),
      .m_axi_arsize(m_axi_gmem_w1_ARSIZE),
      .m_axi_arburst(m_axi_gmem_w1_ARBURST),
      .m_axi_arlock(m_axi_gmem_w1_ARLOCK),
      .m_axi_arcache(m_axi_gmem_w1_ARCACHE),
      .m_axi_arprot(m_axi_gmem_w1_ARPROT),
      .m_axi_arqos(m_axi_gmem_w1_ARQOS),
      .m_axi_arregion(m_axi_gmem_w1_ARREGION),
      .m_axi_arid(m_axi_gmem_w1_ARID),
      .m_axi_rvalid(m_axi_gmem_w1_RVALID),
      .m_axi_rready(m_axi_gmem_w1_RREADY),
      .m_axi_rdata(m_axi_gmem_w1_RDATA),
      .m_axi_rresp(m_axi_gmem_w1_RRESP),
      .m_axi_rlast(m_axi_gmem_w1_RLAST),
      .m_axi_rid(m_axi_gmem_w1_RID)
  );
  axi_rd #(
      .MAX_BURST(MAX_BURST),
      .OUTSTANDING(OUTSTANDING)
  ) rd_w2 (
      .clk(ap_clk),
      .rst(rst),
      .req_valid(dp_w_rd_req_valid[2]),
      .req_ready(dp_w_rd_req_ready[2]),
      .req_addr(dp_w_rd_req_addr[2*64+:64]),
      .req_len(dp_w_rd_req_len[2*32+:32]),
      .rd_valid(dp_w_rd_valid[2]),
      .rd_ready(dp_w_rd_ready[2]),
      .rd_data(dp_w_rd_data[2*128+:128]),
      .rd_last(dp_w_rd_last[2]),
      .err(w_err[2]),
      .m_axi_arvalid(m_axi_gmem_w2_ARVALID),
      .m_axi_arready(m_axi_gmem_w2_ARREADY),
      .m_axi_araddr(m_axi_gmem_w2_ARADDR),
      .m_axi_arlen(m_axi_gmem_w2_ARLEN),
      .m_axi_arsize(m_axi_gmem_w2_ARSIZE),
      .m_axi_arburst(m_axi_gmem_w2_ARBURST),
      .m_axi_arlock(m_axi_gmem_w2_ARLOCK),
      .m_axi_arcache(m_axi_gmem_w2_ARCACHE),
      .m_axi_arprot(m_axi_gmem_w2_ARPROT),
      .m_axi_arqos(m_axi_gmem_w2_ARQOS),
      .m_axi_arregion(m_axi_gmem_w2_ARREGION),
      .m_axi_arid(m_axi_gmem_w2_ARID),
      .m_axi_rvalid(m_axi_gmem_w2_RVALID),
      .m_axi_rready(m_axi_gmem_w2_RREADY),
      .m_axi_rdata(m_axi_gmem_w2_RDATA),
      .m_axi_rresp(m_axi_gmem_w2_RRESP),
      .m_axi_rlast(m_axi_gmem_w2_RLAST),
      .m_axi_rid(m_axi_gmem_w2_RID)
  );
  axi_rd #(
      .MAX_BURST(MAX_BURST),
      .OUTSTANDING(OUTSTANDING)
  ) rd_w3 (
      .clk(ap_clk),
      .rst(rst),
      .req_valid(dp_w_rd_req_valid[3]),
      .req_ready(dp_w_rd_req_ready[3]),
      .req_addr(dp_w_rd_req_addr[3*64+:64]),
      .req_len(dp_w_rd_req_len[3*32+:32]),
      .rd_valid(dp_w_rd_valid[3]),
      .rd_ready(dp_w_rd_ready[3]),
      .rd_data(dp_w_rd_data[3*128+:128]),
      .rd_last(dp_w_rd_last[3]),
      .err(w_err[3]),
      .m_axi_arvalid(m_axi_gmem_w3_ARVALID),
      .m_axi_arready(m_axi_gmem_w3_ARREADY),
      .m_axi_araddr(m_axi_gmem_w3_ARADDR),
      .m_axi_arlen(m_axi_gmem_w3_ARLEN),
      .m_axi_arsize(m_axi_gmem_w3_ARSIZE),
      .m_axi_arburst(m_axi_gmem_w3_ARBURST),
      .m_axi_arlock(m_axi_gmem_w3_ARLOCK),
      .m_axi_arcache(m_axi_gmem_w3_ARCACHE),
      .m_axi_arprot(m_axi_gmem_w3_ARPROT),
      .m_axi_arqos(m_axi_gmem_w3_ARQOS),
      .m_axi_arregion(m_axi_gmem_w3_ARREGION),
      .m_axi_arid(m_axi_gmem_w3_ARID),
      .m_axi_rvalid(m_axi_gmem_w3_RVALID),
      .m_axi_rready(m_axi_gmem_w3_RREADY),
      .m_axi_rdata(m_axi_gmem_w3_RDATA),
      .m_axi_rresp(m_axi_gmem_w3_RRESP),
      .m_axi_rlast(m_axi_gmem_w3_RLAST),
      .m_axi_rid(m_axi_gmem_w3_RID)
  );

  // ------------------------------------------------- block-descriptor RAM
  // one 128-bit word per fetched beat: block b, field f at word b * BDB + f / 4,
  // lane f % 4; registered read (the word the cycle after the read)
  logic [127:0] bd_ram[RAM_N];
  logic [127:0] bd_q;
  logic [1:0] bd_lane_q;
  logic dc_bd_rd, dp_bd_rd_en;
  logic [BLK_W-1:0] dc_bd_block, dp_bd_rd_block;
  logic [FLD_W-1:0] dc_bd_field, dp_bd_rd_field;
  wire rd_en = dp_owns_io ? dp_bd_rd_en : dc_bd_rd;
  wire [BLK_W-1:0] rd_blk = dp_owns_io ? dp_bd_rd_block : dc_bd_block;
  wire [FLD_W-1:0] rd_fld = dp_owns_io ? dp_bd_rd_field : dc_bd_field;
  wire [RA_W-1:0] rd_a = RA_W'(int'(rd_blk) * BDB + int'(rd_fld[FLD_W-1:2]));
  wire [31:0] bd_word = bd_q[32*bd_lane_q+:32];

  logic [BLK_W-1:0] w_blk;  // fetch: block and beat the next beat lands in
  logic [BB_W-1:0] w_beat;
  wire [RA_W-1:0] w_a = RA_W'(int'(w_blk) * BDB + int'(w_beat));
  always_ff @(posedge ap_clk) begin
    if (state == S_BD && f_beat) bd_ram[w_a] <= io_rd_data;
    if (rd_en) begin
      bd_q <= bd_ram[rd_a];
      bd_lane_q <= rd_fld[1:0];
    end
  end

  // ------------------------------------------------------------ descriptor check
  logic dc_start, dc_busy, dc_done;
  logic [31:0] dc_status;
  desc_check #(
      .ACT_W(ACT_W)
  ) check (
      .clk(ap_clk),
      .rst(rst),
      .start(dc_start),
      .gd(gd_flat),
      .task_idx(task_q),
      .bd_rd(dc_bd_rd),
      .bd_block(dc_bd_block),
      .bd_field(dc_bd_field),
      .bd_data(bd_word),
      .busy(dc_busy),
      .done(dc_done),
      .status(dc_status)
  );

  // ---------------------------------------------------------------- datapath
  logic dp_start, dp_done;
  edgemoe_datapath #(
      .ACT_W(ACT_W)
  ) dp (
      .ap_clk(ap_clk),
      .ap_rst_n(ap_rst_n),
      .dp_start(dp_start),
      .dp_done(dp_done),
      .dp_task(task_q),
      .dp_params_addr(params_q),
      .dp_io_addr(io_q),
      .dp_wgt_addr(wgt_q),
      .dp_gd(gd_flat),
      .dp_bd_rd_en(dp_bd_rd_en),
      .dp_bd_rd_block(dp_bd_rd_block),
      .dp_bd_rd_field(dp_bd_rd_field),
      .dp_bd_rd_data(bd_word),
      .dp_io_rd_req_valid(dp_io_rd_req_valid),
      .dp_io_rd_req_ready(dp_owns_io && io_req_ready),
      .dp_io_rd_req_addr(dp_io_rd_req_addr),
      .dp_io_rd_req_len(dp_io_rd_req_len),
      .dp_io_rd_valid(dp_owns_io && io_rd_valid),
      .dp_io_rd_ready(dp_io_rd_ready),
      .dp_io_rd_data(io_rd_data),
      .dp_io_rd_last(io_rd_last),
      .dp_io_wr_req_valid(dp_io_wr_req_valid),
      .dp_io_wr_req_ready(dp_io_wr_req_ready),
      .dp_io_wr_req_addr(dp_io_wr_req_addr),
      .dp_io_wr_req_len(dp_io_wr_req_len),
      .dp_io_wr_valid(dp_io_wr_valid),
      .dp_io_wr_ready(dp_io_wr_ready),
      .dp_io_wr_data(dp_io_wr_data),
      .dp_io_wr_busy(dp_io_wr_busy),
      .dp_w_rd_req_valid(dp_w_rd_req_valid),
      .dp_w_rd_req_ready(dp_w_rd_req_ready),
      .dp_w_rd_req_addr(dp_w_rd_req_addr),
      .dp_w_rd_req_len(dp_w_rd_req_len),
      .dp_w_rd_valid(dp_w_rd_valid),
      .dp_w_rd_ready(dp_w_rd_ready),
      .dp_w_rd_data(dp_w_rd_data),
      .dp_w_rd_last(dp_w_rd_last)
  );

  // --------------------------------------------------------------- sequence
  logic blk_read;  // phase 1 issued a block read: the global checks passed
  logic [BB_W-1:0] g_beat;  // global descriptor beats received
  logic [BLK_W-1:0] r_blk;  // block fetch: requests issued
  logic [31:0] r_off;  // beat offset of block r_blk (32-bit, as load_block)

  always_ff @(posedge ap_clk) begin
    dc_start <= 1'b0;
    dp_start <= 1'b0;
    if (rst) begin
      state <= S_IDLE;
      f_req_valid <= 1'b0;
      status_q <= '0;
      task_q <= '0;
      params_q <= '0;
      io_q <= '0;
      wgt_q <= '0;
      blk_read <= 1'b0;
      g_beat <= '0;
      r_blk <= '0;
      r_off <= '0;
      w_blk <= '0;
      w_beat <= '0;
    end else begin
      if (f_req_hs) f_req_valid <= 1'b0;
      case (state)
        S_IDLE:
        if (ap_start) begin
          params_q <= ptr[64*edgemoe_regs_pkg::PTR_PARAMS+:64];
          io_q <= ptr[64*edgemoe_regs_pkg::PTR_IO+:64];
          wgt_q <= ptr[64*edgemoe_regs_pkg::PTR_WGT0+:64*P];
          task_q <= scalars[32*edgemoe_regs_pkg::SIN_TASK+:32];
          f_req_valid <= 1'b1;
          f_req_addr <= ptr[64*edgemoe_regs_pkg::PTR_PARAMS+:64];
          f_req_len <= 32'(GDB);
          g_beat <= '0;
          state <= S_GD;
        end
        S_GD:
        if (f_beat) begin
          for (int k = 0; k < 4; k++)
            if (int'(g_beat) * 4 + k < GD_COUNT) gd_q[int'(g_beat)*4+k] <= io_rd_data[32*k+:32];
          g_beat <= g_beat + 1'b1;
          if (io_rd_last) begin
            dc_start <= 1'b1;
            blk_read <= 1'b0;
            state <= S_CHK1;
          end
        end
        S_CHK1: begin
          if (dc_bd_rd) blk_read <= 1'b1;
          if (dc_done) begin
            if (!blk_read) begin  // a global or task refusal: final
              status_q <= dc_status;
              state <= S_DONE;
            end else begin
              f_req_valid <= 1'b1;
              f_req_addr <= params_q + {28'd0, off_blocks, 4'd0};
              f_req_len <= 32'(BDB);
              r_blk <= '0;
              r_off <= off_blocks;
              w_blk <= '0;
              w_beat <= '0;
              state <= S_BD;
            end
          end
        end
        S_BD: begin
          // requests: block after block, as soon as the master takes the last one
          if (f_req_hs && 32'(r_blk) + 1 < depth) begin
            f_req_valid <= 1'b1;
            f_req_addr <= params_q + {28'd0, r_off + block_beats, 4'd0};
            r_off <= r_off + block_beats;
            r_blk <= r_blk + 1'b1;
          end
          if (f_beat) begin
            if (io_rd_last) begin
              w_beat <= '0;
              w_blk <= w_blk + 1'b1;
              if (32'(w_blk) + 1 >= depth) begin
                dc_start <= 1'b1;
                state <= S_CHK2;
              end
            end else w_beat <= w_beat + 1'b1;
          end
        end
        S_CHK2:
        if (dc_done) begin
          if (dc_status != STATUS_OK) begin
            status_q <= dc_status;
            state <= S_DONE;
          end else begin
            dp_start <= 1'b1;
            state <= S_RUN;
          end
        end
        S_RUN: if (dp_done) state <= S_DRAIN;
        S_DRAIN:
        if (!dp_io_wr_busy) begin
          status_q <= STATUS_OK;
          state <= S_DONE;
        end
        S_DONE: state <= S_IDLE;
        default: state <= S_IDLE;
      endcase
    end
  end

  // the masters' sticky bus errors have no status code (see the header)
  logic unused;
  assign unused = ^{io_rd_err, wr_err, w_err, dc_busy};
endmodule

`default_nettype wire
