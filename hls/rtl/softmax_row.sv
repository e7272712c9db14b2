// Online softmax over rows of N scores (pymodel.numerics.hwmath.online_softmax_fixed).
//
// Scores stream in, one per cycle, in index order. The ingest side keeps the
// running max m and sum s of the single-pass recurrence
//     j = 0: m = x0, s = 1;   x > m: s = round(s * e(m - x)) + 1, m = x;
//     else:  s += e(x - m)
// (s has SOFTMAX_SUM_FRAC fraction bits, so the adds are exact; the only
// roundings are at max updates, half up), and writes the row into one bank of
// a two-bank row buffer. At the row's end 1/s is computed (recip_core, a
// pseudo-float (mant, shift)). The output side then reads the bank back and
// emits e(x - m) * mant requantised once to OUT_W bits (fraction bits
// EXP_OUT_FRAC + MANT_FRAC + shift dropped to OUT_FRAC, QUANT/OVF modes).
//
// The recurrence is pipelined without stalls: the max update is a one-cycle
// compare-and-select loop, the differences go through exp_core (EXP_LAT cycles)
// with their flags in a delay line, and the sum update (a multiply for max
// updates, an add otherwise) is the only other loop, also one cycle. The
// scores wait in a two-bank row_buffer (with the row max as its head and 1/s
// as its statistics), so row r+1 streams in while row r streams out.
// Latency from a row's last score to its first output:
// 2 * hwmath_pkg::EXP_LAT + hwmath_pkg::RECIP_LAT + 5 cycles (exp of the
// last score, sum update, 1/s, bank ready, buffer read, exp, product, requant).
//
// Ports: Vitis ap_fifo protocol (see exp_unit.sv). Output word
//   {last, m[X_W], mant[MANT_FRAC+1], shift[SHIFT_W], y[OUT_W]}
// so that the row's max and 1/sum come out with every normalised value.
`default_nettype none

module softmax_row #(
    // scores per row
    parameter int N          = 64,
    // bits of a score x (signed)
    parameter int X_W        = 16,
    // fraction bits of x
    parameter int X_FRAC     = 8,
    // bits of a probability y
    parameter int OUT_W      = 16,
    // fraction bits of y
    parameter int OUT_FRAC   = 14,
    // y is ap_fixed (1) or ap_ufixed (0)
    parameter bit OUT_SIGNED = 1'b1,
    // quantisation mode of y (hwmath_pkg::Q_*)
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    // overflow mode of y (hwmath_pkg::O_*)
    parameter int OVF        = hwmath_pkg::O_SAT,
    // bits of the pseudo-float exponent of 1/s (signed)
    parameter int SHIFT_W    = 8
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [X_W-1:0] in_dout,
    input  wire            in_empty_n,
    output logic           in_read,

    output logic [1+SHIFT_W+hwmath_pkg::MANT_FRAC+1+X_W+OUT_W-1:0] out_din,
    input  wire                                                     out_full_n,
    output logic                                                    out_write
);
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int EF = hwmath_pkg::EXP_OUT_FRAC;
  localparam int SF = hwmath_pkg::SOFTMAX_SUM_FRAC;
  localparam int SW = hwmath_pkg::SOFTMAX_SUM_INT + SF;  // running sum width
  localparam int DW = X_W + 1;  // x - m
  localparam int FW = 8;  // the cores' fraction-count ports: compile-time constants here
  localparam int LE = hwmath_pkg::EXP_LAT;
  localparam int LR = hwmath_pkg::RECIP_LAT;
  localparam logic [SW-1:0] ONE = SW'(1) << SF;
  localparam int SCW = SW + EF + 1;  // s * e before rounding
  localparam logic [SCW-1:0] HALF = SCW'(1) << (SF - 1);
  localparam int STW = MF + 1 + SHIFT_W;  // statistics: {mant, shift} of 1/s
  localparam int SBW = 1 + X_W + STW;  // side band of an output: {last, m, mant, shift}

  initial begin
    if (N < 2 || X_W < 2 || X_FRAC < 0 || X_FRAC > 127 || SHIFT_W < 2) begin
      $error("softmax_row: N = %0d, X_W = %0d, X_FRAC = %0d, SHIFT_W = %0d out of range (instance %m)",
             N, X_W, X_FRAC, SHIFT_W);
      $finish;
    end
  end

  // ------------------------------------------------------------------ ingest
  logic signed [X_W-1:0] m_run, x_in, m_new;
  logic wr_ok, take, first, last, wbank, event_in;
  logic signed [DW-1:0] d_in;
  assign x_in = in_dout;
  assign in_read = ap_ce & wr_ok & in_empty_n;
  assign take = in_read;
  always_comb begin
    event_in = first || (x_in > m_run);
    m_new = event_in ? x_in : m_run;
    // e's argument: 0 for the first, m - x at a max update, x - m otherwise
    if (first) d_in = '0;
    else if (x_in > m_run) d_in = DW'(m_run) - DW'(x_in);
    else d_in = DW'(x_in) - DW'(m_run);
  end
  always_ff @(posedge ap_clk) if (take) m_run <= m_new;

  // exp of the differences; flags {valid, first, event, last, bank} alongside
  logic [EF:0] e_sum;
  logic [4:0] fl_in, fl_e;
  assign fl_in = {take, first, event_in, last, wbank};
  exp_core #(
      .D_W(DW),
      .DF_W(FW)
  ) exp_sum (
      .clk(ap_clk),
      .en(ap_ce),
      .d(d_in),
      .d_frac(FW'(X_FRAC)),
      .y(e_sum)
  );
  delay #(
      .W(5),
      .LAT(LE)
  ) fl_delay (
      .clk(ap_clk),
      .en(ap_ce),
      .d(fl_in),
      .q(fl_e)
  );
  logic e_vld, e_first, e_event, e_last, e_bank;
  assign {e_vld, e_first, e_event, e_last, e_bank} = fl_e;

  // running sum: one-cycle loop
  logic [SW-1:0] s_acc, s_next;
  logic [SCW-1:0] scaled;
  always_comb begin
    scaled = SCW'(s_acc) * SCW'(e_sum) + HALF;  // s * e(m_old - m_new)
    if (e_first) s_next = ONE;
    else if (e_event) s_next = SW'(scaled >> SF) + ONE;
    else s_next = s_acc + SW'(e_sum);
  end
  logic r_vld, r_bank;
  logic [SW-1:0] r_in;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) r_vld <= 1'b0;
    else if (ap_ce) begin
      if (e_vld) s_acc <= s_next;
      r_vld  <= e_vld & e_last;
      r_bank <= e_bank;
      r_in   <= s_next;
    end
  end

  // 1/s at the row's end
  logic [MF:0] mant_r;
  logic signed [SHIFT_W-1:0] shift_r;
  logic [1:0] rfl;
  recip_core #(
      .S_W(SW),
      .FRAC_W(FW),
      .SHIFT_W(SHIFT_W)
  ) rcp (
      .clk(ap_clk),
      .en(ap_ce),
      .s(r_in),
      .s_frac(FW'(SF)),
      .mant(mant_r),
      .shift(shift_r)
  );
  delay #(
      .W(2),
      .LAT(LR)
  ) rfl_delay (
      .clk(ap_clk),
      .en(ap_ce),
      .d({r_vld, r_bank}),
      .q(rfl)
  );

  // ------------------------------------------------------------------ buffer
  // Output pipeline: R (buffer read) -> exp_core (LE) -> P (e * mant) -> Q
  // (requant, output register). It stalls as a whole while Q holds a beat not taken.
  logic q_vld, en_o, rd_vld, rd_last;
  logic [X_W-1:0] rd_x, rd_m;
  logic [STW-1:0] rd_st;
  assign en_o = ap_ce & (~q_vld | out_full_n);
  row_buffer #(
      .N(N),
      .W(X_W),
      .HEAD_W(X_W),
      .STAT_W(STW)
  ) rows (
      .clk(ap_clk),
      .rst(ap_rst),
      .wr_ok(wr_ok),
      .wr_en(take),
      .wr_data(x_in),
      .wr_head(m_new),
      .wr_first(first),
      .wr_last(last),
      .wr_bank(wbank),
      .st_en(ap_ce & rfl[1]),
      .st_bank(rfl[0]),
      .st_data({mant_r, shift_r}),
      .rd_ce(en_o),
      .rd_vld(rd_vld),
      .rd_data(rd_x),
      .rd_head(rd_m),
      .rd_stat(rd_st),
      .rd_last(rd_last)
  );

  // ------------------------------------------------------------------ output
  // exp of x - m for the outputs
  logic signed [DW-1:0] d_out;
  logic [SBW-1:0] e_sb;
  logic [EF:0] e_out;
  logic e_ovld;
  assign d_out = DW'($signed(rd_x)) - DW'($signed(rd_m));
  exp_core #(
      .D_W(DW),
      .DF_W(FW)
  ) exp_out (
      .clk(ap_clk),
      .en(en_o),
      .d(d_out),
      .d_frac(FW'(X_FRAC)),
      .y(e_out)
  );
  delay #(
      .W(SBW + 1),
      .LAT(LE)
  ) sb_delay (
      .clk(ap_clk),
      .en(en_o),
      .d({rd_vld, rd_last, rd_m, rd_st}),
      .q({e_ovld, e_sb})
  );

  // P: exact product e * (1/s), then Q: one requantisation
  localparam int PW = EF + 1 + MF + 1 + 1;  // signed product width
  logic signed [PW-1:0] p_prod;
  logic [SBW-1:0] p_sb;
  logic p_vld;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) p_vld <= 1'b0;
    else if (en_o) begin
      p_vld  <= e_ovld;
      p_prod <= $signed(PW'(e_out) * PW'(e_sb[SHIFT_W+:MF+1]));  // < 2**(PW-1)
      p_sb   <= e_sb;
    end
  end
  logic signed [SHIFT_W-1:0] p_shift;
  localparam int RSW = SHIFT_W + 2;
  logic signed [RSW-1:0] p_rsh;
  logic [OUT_W-1:0] yq;
  logic oq_unused;  // overflow flag: no counter in this unit
  assign p_shift = p_sb[SHIFT_W-1:0];
  assign p_rsh   = RSW'(EF + MF - OUT_FRAC) + RSW'(p_shift);
  requant #(
      .IN_W(PW),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED),
      .QUANT(QUANT),
      .OVF(OVF),
      .SH_W(RSW),
      .LSH_MAX((OUT_FRAC > EF + MF) ? OUT_FRAC - EF - MF : 0)
  ) rq (
      .x(p_prod),
      .rsh(p_rsh),
      .y(yq),
      .ovf(oq_unused)
  );
  always_ff @(posedge ap_clk) begin
    if (ap_rst) q_vld <= 1'b0;
    else if (en_o) begin
      q_vld   <= p_vld;
      out_din <= {p_sb, yq};
    end
  end
  assign out_write = ap_ce & q_vld & out_full_n;
endmodule

`default_nettype wire
