// AXI4 write master of one m_axi bundle (gmem_io; 128-bit data, 64-bit
// addresses), behind the engine's write-client interface (xfer_unit's gmem_io
// write port with a byte address): a request is a 16-byte aligned byte address
// and a length in beats, then its beats on wr_* in request order. done pulses
// once per request, the cycle after the B response of its last burst (all its
// bursts have been answered: B comes back in order). A request of 0 beats is
// accepted and never reported done.
//
// Each request is split into INCR bursts exactly as axi_rd splits reads
// (min(remaining, MAX_BURST, beats to the next 4 KiB boundary)), issued in
// order on AW (AWID 0, AWSIZE 16 bytes, AWCACHE 4'b0011 as Vitis's m_axi,
// AWPROT, AWLOCK, AWQOS, AWREGION 0). Up to OUTSTANDING bursts await their B
// (from the cycle an AW is loaded to its B handshake). W beats are taken from
// the client only for bursts whose AW is loaded (never waiting for AWREADY),
// through one output register: WSTRB all ones, WLAST on each burst's last
// beat, one beat per cycle. BREADY is always high. err is sticky (until rst):
// set the cycle after a B response other than OKAY.
//
// Timing: an accepted request shows its first AWVALID two cycles after the
// handshake and takes its first beat from the client one cycle later; one AW
// per cycle.
`default_nettype none

module axi_wr #(
    // longest burst in beats (AXI4 INCR: 1 .. 256; Vitis's max_write_burst_length)
    parameter int MAX_BURST   = 16,
    // bursts awaiting B (Vitis's num_write_outstanding)
    parameter int OUTSTANDING = 8,
    // AWID / BID bits (Vitis's C_M_AXI_*_ID_WIDTH)
    parameter int ID_W        = 1
) (
    input  wire             clk,
    input  wire             rst,
    // client: requests, then their beats in request order
    input  wire             req_valid,
    output logic            req_ready,
    input  wire  [    63:0] req_addr,
    input  wire  [    31:0] req_len,
    input  wire             wr_valid,
    output logic            wr_ready,
    input  wire  [   127:0] wr_data,
    output logic            done,
    output logic            err,
    // AXI4 master: AW
    output logic            m_axi_awvalid,
    input  wire             m_axi_awready,
    output logic [    63:0] m_axi_awaddr,
    output logic [     7:0] m_axi_awlen,
    output logic [     2:0] m_axi_awsize,
    output logic [     1:0] m_axi_awburst,
    output logic [     1:0] m_axi_awlock,
    output logic [     3:0] m_axi_awcache,
    output logic [     2:0] m_axi_awprot,
    output logic [     3:0] m_axi_awqos,
    output logic [     3:0] m_axi_awregion,
    output logic [ID_W-1:0] m_axi_awid,
    // AXI4 master: W
    output logic            m_axi_wvalid,
    input  wire             m_axi_wready,
    output logic [   127:0] m_axi_wdata,
    output logic [    15:0] m_axi_wstrb,
    output logic            m_axi_wlast,
    // AXI4 master: B
    input  wire             m_axi_bvalid,
    output logic            m_axi_bready,
    input  wire  [     1:0] m_axi_bresp,
    input  wire  [ID_W-1:0] m_axi_bid
);
  localparam int OW = $clog2(OUTSTANDING + 1);  // bursts awaiting B bits
  localparam int TD = (OUTSTANDING < 2) ? 2 : 1 << $clog2(OUTSTANDING);  // burst FIFO words
  localparam int TW = $clog2(TD + 1);
  initial begin
    if (MAX_BURST < 1 || MAX_BURST > 256 || OUTSTANDING < 1 || ID_W < 1) begin
      $error("axi_wr: MAX_BURST = %0d (1 .. 256), OUTSTANDING = %0d (>= 1), ID_W = %0d (%m)",
             MAX_BURST, OUTSTANDING, ID_W);
      $finish;
    end
  end

  assign m_axi_awsize = 3'd4;  // 16 bytes per beat
  assign m_axi_awburst = 2'b01;  // INCR
  assign m_axi_awlock = 2'b00;  // normal access (Vitis's m_axi has two LOCK bits)
  assign m_axi_awcache = 4'b0011;  // modifiable, bufferable (Vitis's default)
  assign m_axi_awprot = 3'b000;
  assign m_axi_awqos = 4'd0;
  assign m_axi_awregion = 4'd0;
  assign m_axi_awid = '0;
  assign m_axi_wstrb = '1;
  assign m_axi_bready = 1'b1;

  // ------------------------------------------------------------ the next burst
  logic [63:0] a;  // its address
  logic [31:0] rem;  // beats of the request not yet issued
  wire [8:0] to_4k = 9'd256 - 9'(a[11:4]);  // beats up to the next 4 KiB boundary
  logic [8:0] blen;
  always_comb begin
    blen = to_4k;
    if (blen > 9'(MAX_BURST)) blen = 9'(MAX_BURST);
    if (rem < 32'(blen)) blen = rem[8:0];
  end

  logic [OW-1:0] nout;  // bursts loaded and not yet answered on B
  wire aw_free = !m_axi_awvalid || m_axi_awready;
  wire load = rem != 0 && aw_free && int'(nout) < OUTSTANDING;
  wire b_hs = m_axi_bvalid && m_axi_bready;

  assign req_ready = rem == 0;

  // per loaded burst: its AWLEN (for WLAST) until its last beat is taken, and
  // whether it ends its request (for done) until its B
  logic wl_valid, wl_ready, fin_valid, fin_ready, fin;
  logic [7:0] wl_len, wcnt;
  logic [TW-1:0] wl_count, fin_count;
  wire w_free = !m_axi_wvalid || m_axi_wready;
  assign wr_ready = w_free && wl_valid;
  wire take = wr_valid && wr_ready;
  wire take_last = take && wcnt == wl_len;

  always_ff @(posedge clk) begin
    done <= 1'b0;
    if (rst) begin
      rem <= '0;
      m_axi_awvalid <= 1'b0;
      m_axi_wvalid <= 1'b0;
      wcnt <= '0;
      nout <= '0;
      err <= 1'b0;
    end else begin
      if (req_valid && req_ready) begin
        a <= req_addr;
        rem <= req_len;
      end
      if (load) begin
        m_axi_awvalid <= 1'b1;
        m_axi_awaddr <= a;
        m_axi_awlen <= 8'(blen - 9'd1);
        a <= a + 64'({blen, 4'd0});
        rem <= rem - 32'(blen);
      end else if (m_axi_awready) m_axi_awvalid <= 1'b0;
      if (take) begin
        m_axi_wvalid <= 1'b1;
        m_axi_wdata <= wr_data;
        m_axi_wlast <= take_last;
        wcnt <= take_last ? 8'd0 : wcnt + 8'd1;
      end else if (m_axi_wready) m_axi_wvalid <= 1'b0;
      nout <= nout + OW'(load) - OW'(b_hs);
      if (b_hs && fin_valid && fin) done <= 1'b1;
      if (b_hs && m_axi_bresp != 2'b00) err <= 1'b1;
    end
  end

  // both FIFOs hold at most the bursts loaded and not yet answered (<= OUTSTANDING)
  sfifo #(
      .W(8),
      .DEPTH(TD)
  ) wlens (
      .clk(clk),
      .rst(rst),
      .in_valid(load),
      .in_ready(wl_ready),
      .in_data(8'(blen - 9'd1)),
      .out_valid(wl_valid),
      .out_ready(take_last),
      .out_data(wl_len),
      .count(wl_count)
  );
  sfifo #(
      .W(1),
      .DEPTH(TD)
  ) finals (
      .clk(clk),
      .rst(rst),
      .in_valid(load),
      .in_ready(fin_ready),
      .in_data(rem == 32'(blen)),
      .out_valid(fin_valid),
      .out_ready(b_hs),
      .out_data(fin),
      .count(fin_count)
  );

  logic unused;
  assign unused = ^{m_axi_bid, wl_ready, fin_ready, wl_count, fin_count};
endmodule

`default_nettype wire
