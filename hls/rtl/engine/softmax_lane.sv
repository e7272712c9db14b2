// One online-softmax statistics lane: the running max m and sum s of a row of
// scores arriving one per cycle in key order, then 1/s, exactly the recurrence
// of edgemoe_math.h softmax_first / softmax_update and recip_fixed(s,
// SOFTMAX_SUM_FRAC) (pymodel.numerics.hwmath.online_softmax_fixed):
//     first score: m = x, s = 1;   x > m: s = round(s * e(m - x)) + 1, m = x;
//     otherwise:   s += e(x - m)
// with s in SOFTMAX_SUM_FRAC fraction bits (the adds are exact; the only
// rounding, half up, is at a max update) and e = exp_core with the row's
// run-time score fraction count.
//
// The max is a one-cycle compare at ingest, so every exp argument is known
// when its score arrives; the sum is a one-cycle add, except at a new running
// max, where the rescale s * e(m_old - m_new), rounding and + 1 take
// hwmath_pkg::SM_RESCALE_LAT = 3 cycles (a DSP product with its register,
// the rounding add, the + 1). The lane therefore stalls (in_read low) for
// SM_RESCALE_LAT - 1 = 2 cycles after every score that raises the running max
// (not after a row's first score): a row of N scores with U such updates
// takes N + 2 U cycles, and the next row may start in the cycle after.
// 1/s (recip_core) and the output follow at a fixed latency:
// EXP_LAT + SM_RESCALE_LAT + RECIP_LAT + 1 = 12 cycles from the row's last
// score to its result.
//
// Ports: Vitis ap_fifo protocol (see hls/rtl/exp_unit.sv). Input word (low
// bits first) {side[SIDE_W], x_frac[XF_W], last, x[X_W]}: x_frac is sampled
// with a row's first score, side (anything the caller wants back with the
// row's result: a row index, top-k slots) with its last; `last` ends the row.
// Output word, one per row: {side, shift[SHIFT_W], mant[MANT_FRAC+1], m[X_W]},
// 1/s = mant * 2**-(MANT_FRAC + shift) (recip_fixed). The whole lane advances
// together and stalls while its output register holds a result not taken.
`default_nettype none

module softmax_lane #(
    // bits of a score x (signed)
    parameter int X_W     = 16,
    // bits of the run-time score fraction count (signed)
    parameter int XF_W    = 8,
    // bits of the exponent shift of 1/s (signed)
    parameter int SHIFT_W = 8,
    // bits of the side band returned with a row's result
    parameter int SIDE_W  = 1
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [SIDE_W+XF_W+X_W:0] in_dout,
    input  wire                      in_empty_n,
    output logic                     in_read,

    output logic [SIDE_W+SHIFT_W+hwmath_pkg::MANT_FRAC+X_W:0] out_din,
    input  wire                                                out_full_n,
    output logic                                               out_write
);
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int EF = hwmath_pkg::EXP_OUT_FRAC;
  localparam int SF = hwmath_pkg::SOFTMAX_SUM_FRAC;
  localparam int SW = hwmath_pkg::SOFTMAX_SUM_INT + SF;  // running sum width
  localparam int LE = hwmath_pkg::EXP_LAT;
  localparam int LR = hwmath_pkg::RECIP_LAT;
  localparam int R = hwmath_pkg::SM_RESCALE_LAT;
  localparam int STALL = R - 1;
  localparam int DW = X_W + 1;  // x - m
  localparam int PW = SW + EF + 1;  // s * e
  localparam logic [SW-1:0] ONE = SW'(1) << SF;
  localparam logic [PW-1:0] HALF = PW'(1) << (SF - 1);
  localparam int SBW = SIDE_W + X_W;  // {side, m} of a row, delayed to its result
  localparam int FW = 8;  // recip_core's fraction-count port: SOFTMAX_SUM_FRAC, a constant

  initial begin
    if (R != 3) begin
      $error("softmax_lane has a 3-cycle rescale but hwmath_pkg::SM_RESCALE_LAT = %0d (instance %m)",
             R);
      $finish;
    end
    if (X_W < 2 || XF_W < 2 || XF_W > 16 || SHIFT_W < 2 || SIDE_W < 1 || SF > 127 || LE < 2) begin
      $error("softmax_lane: X_W = %0d, XF_W = %0d, SHIFT_W = %0d, SIDE_W = %0d out of range (instance %m)",
             X_W, XF_W, SHIFT_W, SIDE_W);
      $finish;
    end
  end

  // ------------------------------------------------------------------ ingest
  logic o_vld, en, take, first, last_in, upd;
  logic [1:0] stall;
  logic signed [X_W-1:0] x_in, m_run, m_new;
  logic signed [XF_W-1:0] xf_in, xf_row, xf_use;
  logic signed [DW-1:0] d_in;
  logic [SIDE_W-1:0] side_in;
  assign en = ap_ce & (~o_vld | out_full_n);
  assign {side_in, xf_in, last_in, x_in} = in_dout;
  assign in_read = en & in_empty_n & (stall == 2'd0);
  assign take = in_read;
  always_comb begin
    xf_use = first ? xf_in : xf_row;
    upd = ~first & (x_in > m_run);
    m_new = (first | upd) ? x_in : m_run;
    // e's argument: 0 for the first score, m - x at a max update, x - m otherwise
    if (first) d_in = '0;
    else if (upd) d_in = DW'(m_run) - DW'(x_in);
    else d_in = DW'(x_in) - DW'(m_run);
  end
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      first <= 1'b1;
      stall <= 2'd0;
    end else if (take) begin
      first <= last_in;
      stall <= upd ? 2'(STALL) : 2'd0;
    end else if (en && stall != 2'd0) stall <= stall - 2'd1;
    if (take) begin
      m_run  <= m_new;
      xf_row <= xf_use;
    end
  end

  // ------------------------------------------------- exp of the differences
  logic [EF:0] e;
  exp_core #(
      .D_W (DW),
      .DF_W(XF_W)
  ) ex (
      .clk(ap_clk),
      .en(en),
      .d(d_in),
      .d_frac(xf_use),
      .y(e)
  );
  logic [LE-1:0] ev;  // a score in each exp stage
  always_ff @(posedge ap_clk)
    if (ap_rst) ev <= '0;
    else if (en) ev <= {ev[LE-2:0], take};
  logic e_first, e_upd, e_last;
  delay #(
      .W  (3),
      .LAT(LE)
  ) fl_delay (
      .clk(ap_clk),
      .en(en),
      .d({first, upd, last_in}),
      .q({e_first, e_upd, e_last})
  );
  logic e_vld;
  assign e_vld = ev[LE-1];

  // ------------------------------------------------------------ running sum
  // One-cycle add; at a max update: r1 = s * e, r2 = round(r1), s = r2 + 1 (3 cycles,
  // during which no score arrives). A row's final sum reaches `fin` R cycles after its
  // last score reached this stage, on either path.
  logic [SW-1:0] s_acc, s_next, r2, f1, f2, fin;
  logic [PW-1:0] r1;
  logic r1v, r1last, r2v, r2last, f1v, f2v, fin_v;
  assign s_next = e_first ? ONE : s_acc + SW'(e);
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      {r1v, r2v, f1v, f2v, fin_v} <= '0;
    end else if (en) begin
      r1v <= e_vld & e_upd;
      r2v <= r1v;
      f1v <= e_vld & ~e_upd & e_last;
      f2v <= f1v;
      fin_v <= f2v | (r2v & r2last);
    end
  end
  always_ff @(posedge ap_clk)
    if (en) begin
      if (e_vld && !e_upd) s_acc <= s_next;
      else if (r2v) s_acc <= r2 + ONE;
      r1 <= PW'(s_acc) * PW'(e);  // s * e(m_old - m_new)
      r1last <= e_last;
      r2 <= SW'((r1 + HALF) >> SF);
      r2last <= r1last;
      f1 <= s_next;
      f2 <= f1;
      fin <= f2v ? f2 : r2 + ONE;
    end

  // ------------------------------------------------------------------ 1/s
  logic [MF:0] mant;
  logic signed [SHIFT_W-1:0] shift;
  recip_core #(
      .S_W(SW),
      .FRAC_W(FW),
      .SHIFT_W(SHIFT_W)
  ) rcp (
      .clk(ap_clk),
      .en(en),
      .s(fin),
      .s_frac(FW'(SF)),
      .mant(mant),
      .shift(shift)
  );
  logic [LR-1:0] rv;
  always_ff @(posedge ap_clk)
    if (ap_rst) rv <= '0;
    else if (en) rv <= {rv[LR-2:0], fin_v};
  logic [SBW-1:0] sb;
  delay #(
      .W  (SBW),
      .LAT(LE + R + LR)
  ) sb_delay (
      .clk(ap_clk),
      .en(en),
      .d({side_in, m_new}),
      .q(sb)
  );

  // ------------------------------------------------------------------ output
  always_ff @(posedge ap_clk) begin
    if (ap_rst) o_vld <= 1'b0;
    else if (en) o_vld <= rv[LR-1];
    if (en) out_din <= {sb[SBW-1-:SIDE_W], shift, mant, sb[X_W-1:0]};
  end
  assign out_write = ap_ce & o_vld & out_full_n;
endmodule

`default_nettype wire
