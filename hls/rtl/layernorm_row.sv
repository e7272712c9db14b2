// One-pass LayerNorm over rows of D values (pymodel.numerics.hwmath.layernorm_fixed).
//
// Ingest (one beat {beta, gamma, x} per cycle) accumulates, in one pass,
// T = sum x, S1 = sum xs and S2 = sum xs^2 (xs = x truncated to LN_SQ_FRAC
// fraction bits) and stores the beat in a two-bank row buffer. At the row's
// end the statistics are exact integers, as the contract defines them:
//     V = D*S2 - S1^2 + E*D^2    (= D^2 (var + eps), no rounded mean)
//     (mant, k) = rsqrt(V)       (pseudo-float, rsqrt_core, V with 2*FQ fraction bits)
// The output side reads the bank back and computes, per value,
//     z = requant((D*x - T) * mant, X_FRAC + MANT_FRAC + k -> Z_FRAC)   (Z_QUANT/Z_OVF)
//     y = requant(z * gamma + beta * 2**(Z_FRAC + G_FRAC - B_FRAC) -> OUT_FRAC)
// The beats wait in a two-bank row_buffer (T as its head, (mant, k) as its
// statistics), so row r+1 streams in while row r streams out. Latency from a
// row's last beat to its first output: hwmath_pkg::RSQRT_LAT + 8 cycles
// (V, rsqrt, bank ready, buffer read, four output stages).
// Output word: {last, k[SHIFT_W], mant[MANT_FRAC+1], T[X_W+IW+1], z[Z_W], y[OUT_W]}.
// Ports: Vitis ap_fifo protocol (see exp_unit.sv).
`default_nettype none

module layernorm_row #(
    // values per row
    parameter int D          = 64,
    // bits of a value x (signed)
    parameter int X_W        = 16,
    // fraction bits of x
    parameter int X_FRAC     = 13,
    // bits of a gain gamma (signed)
    parameter int G_W        = 16,
    // fraction bits of gamma
    parameter int G_FRAC     = 12,
    // bits of a bias beta (signed)
    parameter int B_W        = 16,
    // fraction bits of beta (at most Z_FRAC + G_FRAC: aligned exactly)
    parameter int B_FRAC     = 12,
    // bits of the normalised value z (signed)
    parameter int Z_W        = 16,
    // fraction bits of z
    parameter int Z_FRAC     = 11,
    // quantisation mode of z (hwmath_pkg::Q_*)
    parameter int Z_QUANT    = hwmath_pkg::Q_RND_CONV,
    // overflow mode of z (hwmath_pkg::O_*)
    parameter int Z_OVF      = hwmath_pkg::O_SAT,
    // bits of an output y
    parameter int OUT_W      = 16,
    // fraction bits of y
    parameter int OUT_FRAC   = 10,
    // y is ap_fixed (1) or ap_ufixed (0)
    parameter bit OUT_SIGNED = 1'b1,
    // quantisation mode of y (hwmath_pkg::Q_*)
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    // overflow mode of y (hwmath_pkg::O_*)
    parameter int OVF        = hwmath_pkg::O_SAT,
    // bits of the pseudo-float exponent k of rsqrt(V) (signed)
    parameter int SHIFT_W    = 8
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [B_W+G_W+X_W-1:0] in_dout,
    input  wire                    in_empty_n,
    output logic                   in_read,

    output logic [1+SHIFT_W+hwmath_pkg::MANT_FRAC+1+X_W+((D>1)?$clog2(D):1)+1+Z_W+OUT_W-1:0] out_din,
    input  wire                                                                             out_full_n,
    output logic                                                                            out_write
);
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int A = (X_FRAC > hwmath_pkg::LN_SQ_FRAC) ? X_FRAC - hwmath_pkg::LN_SQ_FRAC : 0;
  localparam int FQ = X_FRAC - A;  // fraction bits of xs; the variance has 2*FQ
  localparam longint EPS = hwmath_pkg::ln_eps_raw(FQ);
  localparam int IW = (D > 1) ? $clog2(D) : 1;
  localparam int XSW = X_W - A;  // xs width
  localparam int TW = X_W + IW + 1;  // T = sum x
  localparam int S1W = XSW + IW + 1;  // S1 = sum xs
  localparam int S2W = 2 * XSW + IW + 1;  // S2 = sum xs^2
  localparam int VW = S2W + IW + 3;  // V = D S2 - S1^2 + E D^2 >= D^2 > 0
  localparam logic [VW-1:0] ED2 = VW'(EPS) * VW'(D) * VW'(D);
  localparam int BW = B_W + G_W + X_W;  // one buffered beat
  localparam int RSW = SHIFT_W + 2;
  localparam int STW = SHIFT_W + MF + 1;  // statistics: {k, mant}
  localparam int SBW = 1 + STW + TW;  // side band of an output: {last, k, mant, T}
  localparam int LR = hwmath_pkg::RSQRT_LAT;
  // var >= eps >= 1 LSB, so k >= -FQ: the z shift is never below this
  localparam int ZRSH_MIN = X_FRAC + hwmath_pkg::MANT_FRAC - Z_FRAC - FQ - 1;
  localparam int ZLSH = (ZRSH_MIN < 0) ? -ZRSH_MIN : 0;
  localparam int BSH = Z_FRAC + G_FRAC - B_FRAC;  // beta alignment into z * gamma

  initial begin
    if (D < 2 || X_FRAC < 0 || FQ > 31 || BSH < 0 || SHIFT_W < 2) begin
      $error("layernorm_row: D = %0d, X_FRAC = %0d, B_FRAC = %0d, SHIFT_W = %0d out of range (instance %m)",
             D, X_FRAC, B_FRAC, SHIFT_W);
      $finish;
    end
  end

  // ------------------------------------------------------------------ ingest
  logic wr_ok, wbank;
  logic stats_busy;  // a row's statistics are being computed
  logic can_in, take, first, last;
  logic signed [X_W-1:0] x_in;
  logic signed [XSW-1:0] xs_in;
  logic signed [TW-1:0] tot, tot_next;
  logic signed [S1W-1:0] s1;
  logic [S2W-1:0] s2;
  assign x_in = in_dout[X_W-1:0];
  assign xs_in = XSW'(x_in >>> A);
  assign tot_next = (first ? '0 : tot) + TW'(x_in);
  // a row may only end while the statistics engine is free (it holds S1, S2)
  assign can_in = ap_ce & wr_ok & ~(last & stats_busy);
  assign in_read = can_in & in_empty_n;
  assign take = in_read;
  logic signed [S2W-1:0] xs_w;
  assign xs_w = S2W'(xs_in);
  logic st_go, st_bank;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) st_go <= 1'b0;
    else if (ap_ce) st_go <= take & last;  // take implies ap_ce
  end
  always_ff @(posedge ap_clk) begin
    if (take) begin
      tot <= tot_next;
      s1  <= (first ? '0 : s1) + S1W'(xs_in);
      s2  <= (first ? '0 : s2) + S2W'(xs_w * xs_w);
      if (last) st_bank <= wbank;
    end
  end

  // ------------------------------------------------------------ statistics
  // One cycle after the row's last beat: V exactly (two products), then rsqrt.
  logic v_go, r_done, r_bank, bank_q;
  logic [VW-1:0] var_q;
  logic [MF:0] mant_r;
  logic signed [SHIFT_W-1:0] k_r;
  logic signed [VW-1:0] ds2, s1sq;
  assign ds2  = VW'(D) * $signed(VW'(s2));
  assign s1sq = VW'(s1) * VW'(s1);
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      stats_busy <= 1'b0;
      v_go <= 1'b0;
    end else if (ap_ce) begin
      v_go <= st_go;
      if (take & last) stats_busy <= 1'b1;
      if (st_go) begin
        var_q  <= VW'(ds2 - s1sq) + ED2;  // D S2 >= S1^2 (Cauchy-Schwarz)
        bank_q <= st_bank;
      end
      if (r_done) stats_busy <= 1'b0;
    end
  end
  rsqrt_core #(
      .V_W(VW),
      .FRAC_W(8),
      .SHIFT_W(SHIFT_W)
  ) rsq (
      .clk(ap_clk),
      .en(ap_ce),
      .v(var_q),
      .v_frac(8'(2 * FQ)),
      .mant(mant_r),
      .shift(k_r)
  );
  delay #(
      .W(2),
      .LAT(LR)
  ) rs_delay (
      .clk(ap_clk),
      .en(ap_ce),
      .d({v_go, bank_q}),
      .q({r_done, r_bank})
  );

  // ------------------------------------------------------------------ buffer
  // Output pipeline: R (buffer read) -> S1 (D x - T) * mant -> S2 z -> S3 z*gamma + beta -> S4 y
  logic en_o, o_vld, rd_vld, rd_last;
  logic [BW-1:0] rd;
  logic [STW-1:0] rd_st;
  logic [TW-1:0] rd_tot;
  assign en_o = ap_ce & (~o_vld | out_full_n);
  row_buffer #(
      .N(D),
      .W(BW),
      .HEAD_W(TW),
      .STAT_W(STW)
  ) rows (
      .clk(ap_clk),
      .rst(ap_rst),
      .wr_ok(wr_ok),
      .wr_en(take),
      .wr_data(in_dout),
      .wr_head(tot_next),
      .wr_first(first),
      .wr_last(last),
      .wr_bank(wbank),
      .st_en(ap_ce & r_done),
      .st_bank(r_bank),
      .st_data({k_r, mant_r}),
      .rd_ce(en_o),
      .rd_vld(rd_vld),
      .rd_data(rd),
      .rd_head(rd_tot),
      .rd_stat(rd_st),
      .rd_last(rd_last)
  );
  logic [SBW-1:0] rd_sb;
  assign rd_sb = {rd_last, rd_st, rd_tot};

  // ------------------------------------------------------------------ output
  // S1: exact (D x - T) * mant
  localparam int CW = TW + IW + 2;  // D x - T
  localparam int PW = CW + MF + 2;
  logic signed [PW-1:0] p1;
  logic [SBW-1:0] sb1, sb2, sb3;
  logic [G_W+B_W-1:0] gb1, gb2;
  logic v1, v2, v3;
  logic signed [CW-1:0] centred;
  assign centred = CW'(D) * CW'($signed(rd[X_W-1:0])) - CW'($signed(rd_tot));
  always_ff @(posedge ap_clk) begin
    if (ap_rst) v1 <= 1'b0;
    else if (en_o) begin
      v1  <= rd_vld;
      sb1 <= rd_sb;
      gb1 <= rd[BW-1:X_W];
      p1  <= PW'(centred) * $signed(PW'(rd_st[MF:0]));
    end
  end
  // S2: z = requant(p1, X_FRAC + MANT_FRAC + k - Z_FRAC)
  logic signed [RSW-1:0] z_rsh;
  logic [Z_W-1:0] zq, z2;
  logic zo_unused;  // overflow flag: no counter in this unit
  assign z_rsh = RSW'(X_FRAC + MF - Z_FRAC) + RSW'($signed(sb1[SBW-2-:SHIFT_W]));
  requant #(
      .IN_W(PW),
      .OUT_W(Z_W),
      .OUT_SIGNED(1'b1),
      .QUANT(Z_QUANT),
      .OVF(Z_OVF),
      .SH_W(RSW),
      .LSH_MAX(ZLSH)
  ) rq_z (
      .x(p1),
      .rsh(z_rsh),
      .y(zq),
      .ovf(zo_unused)
  );
  always_ff @(posedge ap_clk) begin
    if (ap_rst) v2 <= 1'b0;
    else if (en_o) begin
      v2  <= v1;
      sb2 <= sb1;
      gb2 <= gb1;
      z2  <= zq;
    end
  end
  // S3: z * gamma + beta aligned to Z_FRAC + G_FRAC fraction bits (exact)
  localparam int WW = Z_W + G_W + 1 + ((B_W + BSH > Z_W + G_W) ? B_W + BSH - Z_W - G_W : 0);
  logic signed [WW-1:0] w3;
  logic [Z_W-1:0] z3;
  logic signed [G_W-1:0] gam;
  logic signed [B_W-1:0] bet;
  assign gam = gb2[G_W-1:0];
  assign bet = gb2[G_W+:B_W];
  always_ff @(posedge ap_clk) begin
    if (ap_rst) v3 <= 1'b0;
    else if (en_o) begin
      v3  <= v2;
      sb3 <= sb2;
      z3  <= z2;
      w3  <= WW'($signed(z2)) * WW'(gam) + (WW'(bet) <<< BSH);
    end
  end
  // S4: y = requant(w3, Z_FRAC + G_FRAC - OUT_FRAC), the output register
  logic [OUT_W-1:0] yq;
  logic yo_unused;  // overflow flag: no counter in this unit
  requant #(
      .IN_W(WW),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED),
      .QUANT(QUANT),
      .OVF(OVF),
      .SH_W(RSW),
      .LSH_MAX((OUT_FRAC > Z_FRAC + G_FRAC) ? OUT_FRAC - Z_FRAC - G_FRAC : 0)
  ) rq_y (
      .x(w3),
      .rsh(RSW'(Z_FRAC + G_FRAC - OUT_FRAC)),
      .y(yq),
      .ovf(yo_unused)
  );
  always_ff @(posedge ap_clk) begin
    if (ap_rst) o_vld <= 1'b0;
    else if (en_o) begin
      o_vld   <= v3;
      out_din <= {sb3, z3, yq};
    end
  end
  assign out_write = ap_ce & o_vld & out_full_n;
endmodule

`default_nettype wire
