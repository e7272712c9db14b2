// The engine's AXI4-Lite slave (s_axi_control): the register map of the HLS top
// edgemoe_top with Vitis HLS's ap_ctrl_hs semantics, as the host's simulated
// board models them (host.simboard.EngineRegisters). Every offset, bit
// position and argument count comes from the generated edgemoe_regs_pkg
// (pymodel/export/rtl_regs.py from pymodel/export/regmap.py).
//
// Registers (byte offsets in the package):
//   CTRL  ap_start (bit CTRL_AP_START) is set by a write of 1 only while the
//         engine is idle (then ap_idle drops); any other CTRL write clears it.
//         ap_done and ap_ready clear when CTRL is read. auto_restart is the
//         written bit. Other bits read 0 and ignore writes.
//   GIE, IER, the pointer words (<ARG>_LO/_HI), the scalar inputs: hold the
//         32 bits written (EngineRegisters keeps every bit; the host writes
//         only GIE bit GIE_ENABLE and IER bits 0 .. IRQ_W-1, which are used).
//   ISR   bits 0 .. IRQ_W-1 toggle where a 1 is written; set on done where IER
//         has the bit.
//   scalar outputs (status) and their ap_vld words: read-only; the ap_vld
//         word clears when read.
//   Reserved words and offsets outside the map read 0 and ignore writes (as
//         Vitis; EngineRegisters, a window of memory, keeps what is written).
// Byte strobes: the written word is the old word with the strobed bytes
// replaced, applied as a full write; ISR toggles only strobed bits.
//
// Engine side (ap_ctrl_hs): ap_start is CTRL's ap_start bit (high from the
// accepted start until the run's ap_done); ap_done is one cycle per finished
// run (the engine's ap_ready is the same cycle) with `status`: every scalar
// output takes it and its ap_vld, CTRL takes ap_done|ap_ready|ap_idle, ISR
// takes IER's bits. With auto_restart set at ap_done the next run starts at
// once (ap_start stays high, ap_idle low), as Vitis's auto-restart mode; the
// host never sets it and EngineRegisters does not model it (the testbench's
// reference adds exactly this step). interrupt = GIE[GIE_ENABLE] & |ISR,
// registered. The argument outputs are the register contents (the engine
// latches them when it starts).
//
// Bus timing: one transaction per cycle per direction. AW and W are accepted
// independently (either may come first, or both together); a write takes
// effect on the cycle it has both and the B channel is free, and BVALID rises
// after it. A read takes effect on its AR handshake (RVALID after it). Within
// one cycle the effects apply in the order: the read (its value is the state
// before the cycle, then clear on read), the write, then ap_done. BRESP and
// RRESP are OKAY. Addresses are word aligned (AxADDR[1:0] ignored).
`default_nettype none

module ctrl_regs (
    input  wire                                   clk,
    input  wire                                   rst,
    // AXI4-Lite slave
    input  wire                                   s_axi_awvalid,
    output logic                                  s_axi_awready,
    input  wire  [edgemoe_regs_pkg::ADDR_W-1:0]   s_axi_awaddr,
    input  wire                                   s_axi_wvalid,
    output logic                                  s_axi_wready,
    input  wire  [edgemoe_regs_pkg::DATA_W-1:0]   s_axi_wdata,
    input  wire  [edgemoe_regs_pkg::DATA_W/8-1:0] s_axi_wstrb,
    output logic                                  s_axi_bvalid,
    input  wire                                   s_axi_bready,
    output logic [1:0]                            s_axi_bresp,
    input  wire                                   s_axi_arvalid,
    output logic                                  s_axi_arready,
    input  wire  [edgemoe_regs_pkg::ADDR_W-1:0]   s_axi_araddr,
    output logic                                  s_axi_rvalid,
    input  wire                                   s_axi_rready,
    output logic [edgemoe_regs_pkg::DATA_W-1:0]   s_axi_rdata,
    output logic [1:0]                            s_axi_rresp,
    // the port name of the Vitis HLS IP (a C++ word only to Verilator's model)
    /* verilator lint_off SYMRSVDWORD */
    output logic                                  interrupt,
    /* verilator lint_on SYMRSVDWORD */
    // engine (ap_ctrl_hs)
    output logic                                  ap_start,
    input  wire                                   ap_done,
    input  wire  [31:0]                           status,
    // argument values: pointer p in ptr[64p +: 64], scalar input i in scalars[32i +: 32]
    output logic [64*edgemoe_regs_pkg::N_PTR-1:0] ptr,
    output logic [32*edgemoe_regs_pkg::N_SIN-1:0] scalars
);
  // the package's constants by their own names (no wildcard import, which Yosys cannot read)
  localparam int DATA_W = edgemoe_regs_pkg::DATA_W;
  localparam int IRQ_W = edgemoe_regs_pkg::IRQ_W;
  localparam int IRQ_MASK = edgemoe_regs_pkg::IRQ_MASK;
  localparam int LAST_OFF = edgemoe_regs_pkg::LAST_OFF;
  localparam int OFF_CTRL = edgemoe_regs_pkg::OFF_CTRL;
  localparam int OFF_GIE = edgemoe_regs_pkg::OFF_GIE;
  localparam int OFF_IER = edgemoe_regs_pkg::OFF_IER;
  localparam int OFF_ISR = edgemoe_regs_pkg::OFF_ISR;
  localparam int CTRL_AP_START = edgemoe_regs_pkg::CTRL_AP_START;
  localparam int CTRL_AP_DONE = edgemoe_regs_pkg::CTRL_AP_DONE;
  localparam int CTRL_AP_IDLE = edgemoe_regs_pkg::CTRL_AP_IDLE;
  localparam int CTRL_AP_READY = edgemoe_regs_pkg::CTRL_AP_READY;
  localparam int CTRL_AUTO_RESTART = edgemoe_regs_pkg::CTRL_AUTO_RESTART;
  localparam int GIE_ENABLE = edgemoe_regs_pkg::GIE_ENABLE;
  localparam int AW = edgemoe_regs_pkg::ADDR_W;  // address bits
  // pointer, scalar-input and scalar-output arguments
  localparam int NP = edgemoe_regs_pkg::N_PTR;
  localparam int NI = edgemoe_regs_pkg::N_SIN;
  localparam int NO = edgemoe_regs_pkg::N_SOUT;
  initial begin
    if (DATA_W != 32 || NP < 1 || NI < 1 || NO < 1 || IRQ_W > 32 || LAST_OFF >= (1 << AW)) begin
      $error("ctrl_regs: edgemoe_regs_pkg: DATA_W = %0d, N_PTR = %0d, N_SIN = %0d, N_SOUT = %0d, IRQ_W = %0d, LAST_OFF = %0d with ADDR_W = %0d (%m)",
             DATA_W, NP, NI, NO, IRQ_W, LAST_OFF, AW);
      $finish;
    end
  end

  // ---------------------------------------------------------------- state
  logic c_start, c_done, c_idle, c_ready, c_auto;
  logic [31:0] gie, ier;
  logic [IRQ_W-1:0] isr;
  logic [64*NP-1:0] ptr_q;
  logic [32*NI-1:0] sin_q;
  logic [32*NO-1:0] sout_q;
  logic [NO-1:0] vld_q;

  // write channel: AW and W held until both are here and B is free
  logic aw_held, w_held;
  logic [AW-1:0] aw_q;
  logic [31:0] wd_q;
  logic [3:0] ws_q;
  // read channel
  logic [31:0] rdata_q;

  wire aw_hs = s_axi_awvalid && s_axi_awready;
  wire w_hs = s_axi_wvalid && s_axi_wready;
  wire ar_hs = s_axi_arvalid && s_axi_arready;
  wire b_free = !s_axi_bvalid || s_axi_bready;
  wire do_write = (aw_held || aw_hs) && (w_held || w_hs) && b_free;
  wire [AW-1:0] wa = aw_held ? aw_q : {s_axi_awaddr[AW-1:2], 2'b00};
  wire [31:0] wd = w_held ? wd_q : s_axi_wdata;
  wire [3:0] ws = w_held ? ws_q : s_axi_wstrb;
  wire [AW-1:0] ra = {s_axi_araddr[AW-1:2], 2'b00};
  wire [3:0] addr_lsb_unused = {s_axi_awaddr[1:0], s_axi_araddr[1:0]};  // word aligned
  wire [31:0] wmask = {{8{ws[3]}}, {8{ws[2]}}, {8{ws[1]}}, {8{ws[0]}}};

  assign s_axi_awready = !aw_held;
  assign s_axi_wready = !w_held;
  assign s_axi_arready = !s_axi_rvalid || s_axi_rready;
  assign s_axi_bresp = 2'b00;  // OKAY
  assign s_axi_rresp = 2'b00;  // OKAY
  assign s_axi_rdata = rdata_q;
  assign ap_start = c_start;
  assign ptr = ptr_q;
  assign scalars = sin_q;

  // CTRL as a word
  function automatic logic [31:0] ctrl_word(input logic s, input logic d, input logic i,
                                            input logic r, input logic a);
    ctrl_word = '0;
    ctrl_word[CTRL_AP_START] = s;
    ctrl_word[CTRL_AP_DONE] = d;
    ctrl_word[CTRL_AP_IDLE] = i;
    ctrl_word[CTRL_AP_READY] = r;
    ctrl_word[CTRL_AUTO_RESTART] = a;
  endfunction

  // ---------------------------------------------------------------- read value
  logic [31:0] rd_val;
  always_comb begin
    rd_val = '0;
    if (ra == AW'(OFF_CTRL)) rd_val = ctrl_word(c_start, c_done, c_idle, c_ready, c_auto);
    if (ra == AW'(OFF_GIE)) rd_val = gie;
    if (ra == AW'(OFF_IER)) rd_val = ier;
    if (ra == AW'(OFF_ISR)) rd_val = 32'(isr);
    for (int p = 0; p < NP; p++) begin
      if (ra == edgemoe_regs_pkg::ptr_lo_off(p)) rd_val = ptr_q[64*p+:32];
      if (ra == edgemoe_regs_pkg::ptr_hi_off(p)) rd_val = ptr_q[64*p+32+:32];
    end
    for (int i = 0; i < NI; i++) if (ra == edgemoe_regs_pkg::sin_off(i)) rd_val = sin_q[32*i+:32];
    for (int i = 0; i < NO; i++) begin
      if (ra == edgemoe_regs_pkg::sout_off(i)) rd_val = sout_q[32*i+:32];
      if (ra == edgemoe_regs_pkg::sout_vld_off(i)) rd_val = 32'(vld_q[i]);
    end
  end

  // ---------------------------------------------------------------- next state
  logic n_start, n_done, n_idle, n_ready, n_auto;
  logic [31:0] n_gie, n_ier;
  logic [IRQ_W-1:0] n_isr;
  logic [64*NP-1:0] n_ptr;
  logic [32*NI-1:0] n_sin;
  logic [32*NO-1:0] n_sout;
  logic [NO-1:0] n_vld;
  logic [31:0] ctrl_m;
  always_comb begin
    {n_start, n_done, n_idle, n_ready, n_auto} = {c_start, c_done, c_idle, c_ready, c_auto};
    {n_gie, n_ier, n_isr} = {gie, ier, isr};
    {n_ptr, n_sin, n_sout, n_vld} = {ptr_q, sin_q, sout_q, vld_q};
    ctrl_m = '0;
    // 1. the read: clear on read
    if (ar_hs) begin
      if (ra == AW'(OFF_CTRL)) {n_done, n_ready} = 2'b00;
      for (int i = 0; i < NO; i++) if (ra == edgemoe_regs_pkg::sout_vld_off(i)) n_vld[i] = 1'b0;
    end
    // 2. the write: strobed bytes replace the old word's
    if (do_write) begin
      if (wa == AW'(OFF_CTRL)) begin
        ctrl_m = (ctrl_word(n_start, n_done, n_idle, n_ready, n_auto) & ~wmask) | (wd & wmask);
        n_auto = ctrl_m[CTRL_AUTO_RESTART];
        n_start = ctrl_m[CTRL_AP_START] && n_idle;  // refused while busy
        if (n_start) n_idle = 1'b0;
      end
      if (wa == AW'(OFF_GIE)) n_gie = (n_gie & ~wmask) | (wd & wmask);
      if (wa == AW'(OFF_IER)) n_ier = (n_ier & ~wmask) | (wd & wmask);
      if (wa == AW'(OFF_ISR)) n_isr = n_isr ^ IRQ_W'(wd & wmask & IRQ_MASK);  // toggle
      for (int p = 0; p < NP; p++) begin
        if (wa == edgemoe_regs_pkg::ptr_lo_off(p))
          n_ptr[64*p+:32] = (n_ptr[64*p+:32] & ~wmask) | (wd & wmask);
        if (wa == edgemoe_regs_pkg::ptr_hi_off(p))
          n_ptr[64*p+32+:32] = (n_ptr[64*p+32+:32] & ~wmask) | (wd & wmask);
      end
      for (int i = 0; i < NI; i++)
        if (wa == edgemoe_regs_pkg::sin_off(i))
          n_sin[32*i+:32] = (n_sin[32*i+:32] & ~wmask) | (wd & wmask);
    end
    // 3. the engine finished a run
    if (ap_done) begin
      for (int i = 0; i < NO; i++) n_sout[32*i+:32] = status;
      n_vld = '1;
      {n_done, n_ready, n_idle} = 3'b111;
      n_start = 1'b0;
      n_isr = n_isr | IRQ_W'(n_ier & IRQ_MASK);
      if (n_auto) {n_start, n_idle} = 2'b10;  // auto-restart: the next run starts at once
    end
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      {c_start, c_done, c_idle, c_ready, c_auto} <= 5'b00100;
      gie <= '0;
      ier <= '0;
      isr <= '0;
      ptr_q <= '0;
      sin_q <= '0;
      sout_q <= '0;
      vld_q <= '0;
      interrupt <= 1'b0;
      aw_held <= 1'b0;
      w_held <= 1'b0;
      aw_q <= '0;
      wd_q <= '0;
      ws_q <= '0;
      s_axi_bvalid <= 1'b0;
      s_axi_rvalid <= 1'b0;
      rdata_q <= '0;
    end else begin
      {c_start, c_done, c_idle, c_ready, c_auto} <= {n_start, n_done, n_idle, n_ready, n_auto};
      gie <= n_gie;
      ier <= n_ier;
      isr <= n_isr;
      ptr_q <= n_ptr;
      sin_q <= n_sin;
      sout_q <= n_sout;
      vld_q <= n_vld;
      interrupt <= n_gie[GIE_ENABLE] && (n_isr != '0);
      // write channel
      if (do_write) begin
        aw_held <= 1'b0;
        w_held <= 1'b0;
      end else begin
        if (aw_hs) begin
          aw_held <= 1'b1;
          aw_q <= {s_axi_awaddr[AW-1:2], 2'b00};
        end
        if (w_hs) begin
          w_held <= 1'b1;
          wd_q <= s_axi_wdata;
          ws_q <= s_axi_wstrb;
        end
      end
      if (do_write) s_axi_bvalid <= 1'b1;
      else if (s_axi_bready) s_axi_bvalid <= 1'b0;
      // read channel
      if (ar_hs) begin
        s_axi_rvalid <= 1'b1;
        rdata_q <= rd_val;
      end else if (s_axi_rready) s_axi_rvalid <= 1'b0;
    end
  end
endmodule

`default_nettype wire
