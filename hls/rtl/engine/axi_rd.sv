// AXI4 read master of one m_axi bundle (gmem_io, gmem_w<k>; 128-bit data,
// 64-bit addresses), behind the engine's read-client interface (the shell's
// gmem_io read port of io_rd_arb): a request is a 16-byte aligned byte address
// and a length in beats; its beats come back in request order on rd_*, with
// rd_last on the last beat of each request. A request of 0 beats is accepted
// and returns nothing.
//
// Each request is split into INCR bursts of min(remaining, MAX_BURST, beats to
// the next 4 KiB boundary) beats (so no burst crosses 4 KiB), issued in order
// on AR (ARID 0, ARSIZE 16 bytes, ARCACHE 4'b0011 as Vitis's m_axi, ARPROT,
// ARLOCK, ARQOS, ARREGION 0). Up to OUTSTANDING bursts are in flight (from the
// cycle an AR is loaded to the handshake of its RLAST). R beats land in a
// DEPTH-word FIFO; an AR is loaded only when the FIFO has room for every beat
// already requested plus the whole new burst (a credit counter: words in the
// FIFO + beats requested and not yet arrived), so RREADY is never low and
// client back-pressure cannot stall the R channel of a shared interconnect.
//
// Timing: an accepted request shows its first ARVALID two cycles after the
// handshake; one AR per cycle; one beat per cycle to the client (FIFO: one
// cycle from the R handshake to rd_valid). err is sticky (until rst): set the
// cycle after an R beat with RRESP other than OKAY (the beat is still
// delivered).
`default_nettype none

module axi_rd #(
    // longest burst in beats (AXI4 INCR: 1 .. 256; Vitis's max_read_burst_length)
    parameter int MAX_BURST   = 16,
    // bursts in flight (Vitis's num_read_outstanding)
    parameter int OUTSTANDING = 8,
    // R FIFO words (a power of two, at least MAX_BURST)
    parameter int DEPTH       = 1 << $clog2(MAX_BURST * OUTSTANDING),
    // ARID / RID bits (Vitis's C_M_AXI_*_ID_WIDTH)
    parameter int ID_W        = 1
) (
    input  wire             clk,
    input  wire             rst,
    // client: requests, then their beats in request order
    input  wire             req_valid,
    output logic            req_ready,
    input  wire  [    63:0] req_addr,
    input  wire  [    31:0] req_len,
    output logic            rd_valid,
    input  wire             rd_ready,
    output logic [   127:0] rd_data,
    output logic            rd_last,
    output logic            err,
    // AXI4 master: AR
    output logic            m_axi_arvalid,
    input  wire             m_axi_arready,
    output logic [    63:0] m_axi_araddr,
    output logic [     7:0] m_axi_arlen,
    output logic [     2:0] m_axi_arsize,
    output logic [     1:0] m_axi_arburst,
    output logic [     1:0] m_axi_arlock,
    output logic [     3:0] m_axi_arcache,
    output logic [     2:0] m_axi_arprot,
    output logic [     3:0] m_axi_arqos,
    output logic [     3:0] m_axi_arregion,
    output logic [ID_W-1:0] m_axi_arid,
    // AXI4 master: R
    input  wire             m_axi_rvalid,
    output logic            m_axi_rready,
    input  wire  [   127:0] m_axi_rdata,
    input  wire  [     1:0] m_axi_rresp,
    input  wire             m_axi_rlast,
    input  wire  [ID_W-1:0] m_axi_rid
);
  localparam int FW = $clog2(DEPTH + 1);  // credit counter bits
  localparam int OW = $clog2(OUTSTANDING + 1);  // bursts in flight bits
  localparam int TD = (OUTSTANDING < 2) ? 2 : 1 << $clog2(OUTSTANDING);  // burst-tag FIFO words
  initial begin
    if (MAX_BURST < 1 || MAX_BURST > 256 || OUTSTANDING < 1 || ID_W < 1 ||
        DEPTH < 2 || DEPTH < MAX_BURST || (1 << $clog2(DEPTH)) != DEPTH) begin
      $error("axi_rd: MAX_BURST = %0d (1 .. 256), OUTSTANDING = %0d (>= 1), DEPTH = %0d (a power of two >= 2 and >= MAX_BURST), ID_W = %0d (%m)",
             MAX_BURST, OUTSTANDING, DEPTH, ID_W);
      $finish;
    end
  end

  assign m_axi_arsize = 3'd4;  // 16 bytes per beat
  assign m_axi_arburst = 2'b01;  // INCR
  assign m_axi_arlock = 2'b00;  // normal access (Vitis's m_axi has two LOCK bits)
  assign m_axi_arcache = 4'b0011;  // modifiable, bufferable (Vitis's default)
  assign m_axi_arprot = 3'b000;
  assign m_axi_arqos = 4'd0;
  assign m_axi_arregion = 4'd0;
  assign m_axi_arid = '0;

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

  logic [FW-1:0] credit;  // FIFO words + beats requested and not yet arrived
  logic [OW-1:0] nout;  // bursts loaded and not yet ended (RLAST handshake)
  wire ar_free = !m_axi_arvalid || m_axi_arready;
  wire load = rem != 0 && ar_free && int'(nout) < OUTSTANDING &&
      int'(credit) + int'(blen) <= DEPTH;
  wire r_hs = m_axi_rvalid && m_axi_rready;
  wire r_end = r_hs && m_axi_rlast;
  wire pop = rd_valid && rd_ready;

  assign req_ready = rem == 0;

  always_ff @(posedge clk) begin
    if (rst) begin
      rem <= '0;
      m_axi_arvalid <= 1'b0;
      nout <= '0;
      credit <= '0;
      err <= 1'b0;
    end else begin
      if (req_valid && req_ready) begin
        a <= req_addr;
        rem <= req_len;
      end
      if (load) begin
        m_axi_arvalid <= 1'b1;
        m_axi_araddr <= a;
        m_axi_arlen <= 8'(blen - 9'd1);
        a <= a + 64'({blen, 4'd0});
        rem <= rem - 32'(blen);
      end else if (m_axi_arready) m_axi_arvalid <= 1'b0;
      nout <= nout + OW'(load) - OW'(r_end);
      credit <= credit + (load ? FW'(blen) : FW'(0)) - FW'(pop);
      if (r_hs && m_axi_rresp != 2'b00) err <= 1'b1;
    end
  end

  // per burst in flight: whether it ends its request (rd_last on its RLAST beat)
  logic tag_ready, tag_valid, tag_final;
  logic [$clog2(TD + 1)-1:0] tag_count;
  sfifo #(
      .W(1),
      .DEPTH(TD)
  ) tags (
      .clk(clk),
      .rst(rst),
      .in_valid(load),
      .in_ready(tag_ready),
      .in_data(rem == 32'(blen)),
      .out_valid(tag_valid),
      .out_ready(r_end),
      .out_data(tag_final),
      .count(tag_count)
  );

  logic [FW-1:0] data_count;
  logic [128:0] head;
  sfifo #(
      .W(129),
      .DEPTH(DEPTH)
  ) data (
      .clk(clk),
      .rst(rst),
      .in_valid(r_hs),
      .in_ready(m_axi_rready),
      .in_data({m_axi_rlast && tag_valid && tag_final, m_axi_rdata}),
      .out_valid(rd_valid),
      .out_ready(rd_ready),
      .out_data(head),
      .count(data_count)
  );
  assign rd_data = head[127:0];
  assign rd_last = head[128];

  logic unused;
  assign unused = ^{m_axi_rid, tag_ready, tag_count, data_count};
endmodule

`default_nettype wire
