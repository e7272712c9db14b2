// LayerNorm rows with run-time length and formats, LANES elements per cycle,
// bit exact with edgemoe_math.h layernorm_row and
// pymodel.numerics.hwmath.layernorm_fixed:
//     a = max(0, x_frac - LN_SQ_FRAC), fq = x_frac - a, xs = x >> a
//     T = sum x, S1 = sum xs, S2 = sum xs^2          (one pass, exact)
//     V = D*S2 - S1^2 + eps*D^2 = D^2 (var + eps)   (exact, no rounded mean)
//     (mant, k) = rsqrt(V), V with 2*fq fraction bits (rsqrt_core)
//     z = requant((D*x - T) * mant, x_frac + MANT_FRAC + k -> z_fmt)
//     y = requant(z * gamma + beta * 2**bsh, zf + g_frac -> out_fmt),
//         bsh = zf + g_frac - b_frac (0..BSH_MAX; the descriptor check keeps it >= 0)
// eps is the descriptor's raw epsilon (variance units, 2*fq fraction bits, >= 1).
//
// Ingest takes one beat of LANES values per cycle (with their gamma and
// beta), accumulates the row sums through a pipelined adder tree and writes
// the beat into a circular beat buffer; at the row's last beat the
// statistics (V, rsqrt) follow in a fixed pipeline and enter a row FIFO. The
// output side reads a row's beats back as soon as its statistics are ready
// and computes z and y, LANES per cycle. With the buffer holding CAP >=
// ceil(MAX_D/LANES) + the statistics latency beats, rows of ceil(D/LANES)
// beats stream in back to back with no bubble (row II = ceil(D/LANES)) and
// out at the same rate; the first output of a row follows its last beat by
// LN_LATENCY = 19 cycles when the output side is free. The output side
// stalls as a whole while the consumer does not take its word; the ingest
// stalls only when the beat buffer is full.
//
// Ports: Vitis ap_fifo protocol (see hls/rtl/exp_unit.sv).
// Input word (low bits first): {cfg, beta[LANES], gamma[LANES], x[LANES]}
// (lane 0 lowest; x X_W bits, gamma G_W, beta B_W, all signed) with
// cfg = {out_fmt[22], z_fmt[22], eps[EPS_W], b_frac[GF_W], g_frac[GF_W],
//        x_frac[XF_W], d[DW]}: read on a row's first beat only (d = D >= 1,
// the row length; format words as fmt_decode reads them). Lanes past D in
// the last beat are ignored.
// Output word, one per beat: {last, y[LANES]} (y OUT_W bits each, raw as
// requant_rt gives it; lanes past D are 0).
`default_nettype none

module layernorm_rt #(
    // values per beat
    parameter int LANES   = 4,
    // longest row (D)
    parameter int MAX_D   = 64,
    // bits of a value x (signed)
    parameter int X_W     = 16,
    // bits of the run-time fraction count of x (signed)
    parameter int XF_W    = 8,
    // bits of a gain gamma (signed)
    parameter int G_W     = 16,
    // bits of a bias beta (signed)
    parameter int B_W     = 16,
    // bits of the run-time fraction counts of gamma and beta (signed)
    parameter int GF_W    = 8,
    // bits of z: the widest normalised-value format
    parameter int Z_W     = 32,
    // bits of y: the widest output format
    parameter int OUT_W   = 32,
    // bits of the raw epsilon (unsigned)
    parameter int EPS_W   = 32,
    // largest beta alignment shift bsh
    parameter int BSH_MAX = 32,
    // bits of the exponent k of rsqrt(V) (signed)
    parameter int SHIFT_W = 9,
    // bits of the row length d in the configuration word
    parameter int DW      = $clog2(MAX_D + 1)
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [44+EPS_W+2*GF_W+XF_W+DW+LANES*(X_W+G_W+B_W)-1:0] in_dout,
    input  wire                                                     in_empty_n,
    output logic                                                    in_read,

    output logic [LANES*OUT_W:0] out_din,
    input  wire                  out_full_n,
    output logic                 out_write
);
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int SQF = hwmath_pkg::LN_SQ_FRAC;
  localparam int LRS = hwmath_pkg::RSQRT_LAT;
  localparam int RQL = hwmath_pkg::REQUANT_RT_LAT;
  localparam int BW = LANES * (X_W + G_W + B_W);  // one buffered beat
  localparam int CFGW = 44 + EPS_W + 2 * GF_W + XF_W + DW;
  localparam int MAXB = (MAX_D + LANES - 1) / LANES;  // beats of the longest row
  localparam int LS = 6 + LRS;  // last beat -> statistics in the row FIFO
  localparam int CAP = 1 << $clog2(MAXB + LS + 4);  // beat buffer (and row FIFO) entries
  localparam int AW = $clog2(CAP);
  localparam int LW = $clog2(LANES + 1);
  localparam int AMW = $clog2(X_W + 1);  // truncation a, clamped to X_W
  localparam int S2W = 2 * X_W - 1 + DW;  // S2 (unsigned)
  localparam int S1W = X_W + DW + 1;  // S1 and T (signed)
  localparam int VW0 = (S2W + DW > EPS_W + 2 * DW) ? S2W + DW : EPS_W + 2 * DW;
  localparam int VW = VW0 + 2;  // V > 0
  localparam int VFW = XF_W + 2;  // 2 * fq
  localparam int CW = X_W + DW + 2;  // D*x - T
  localparam int PW = CW + MF + 2;  // (D*x - T) * mant
  localparam int ZFW = ((XF_W > SHIFT_W) ? XF_W : SHIFT_W) + 3;  // x_frac + MANT_FRAC + k
  localparam int YFW = ((GF_W > 8) ? GF_W : 8) + 2;  // zf + g_frac, and bsh
  localparam int BSW = $clog2(BSH_MAX + 1);
  localparam int WW0 = (Z_W + G_W > B_W + BSH_MAX) ? Z_W + G_W : B_W + BSH_MAX;
  localparam int WW = WW0 + 2;  // z * gamma + beta * 2**bsh
  // row statistics through the row FIFO: {ofmt, zfmt, b_frac, g_frac, x_frac, d, T, mant, k}
  localparam int STW = 44 + 2 * GF_W + XF_W + DW + S1W + MF + 1 + SHIFT_W;
  localparam int NO = 3 + 2 * RQL;  // the last output stage (ov[0]: the buffer read)

  initial begin
    if (LANES < 1 || MAX_D < 1 || DW < $clog2(MAX_D + 1) || X_W < 2 || XF_W < 4 || XF_W > 16 ||
        G_W < 2 || B_W < 2 || GF_W < 2 || GF_W > 16 || Z_W < 2 || OUT_W < 1 || EPS_W < 1 ||
        BSH_MAX < 0 || SHIFT_W < 4) begin
      $error("layernorm_rt: LANES = %0d, MAX_D = %0d, X_W = %0d, ... out of range (instance %m)",
             LANES, MAX_D, X_W);
      $finish;
    end
  end

  // ================================================================== ingest
  logic [DW-1:0] d_in;
  logic signed [XF_W-1:0] xf_in;
  logic [CFGW-1:0] cfg_in, cfg_row, cfg_use;
  assign cfg_in = in_dout[BW+:CFGW];
  logic first, take, last_in;
  logic [DW-1:0] rem, rem_use;
  logic [LW-1:0] nval;
  logic [AW:0] wp, rp;  // beat buffer pointers (one wrap bit)
  logic space;
  assign cfg_use = first ? cfg_in : cfg_row;
  assign d_in = cfg_use[DW-1:0];
  assign xf_in = cfg_use[DW+:XF_W];
  assign rem_use = first ? d_in : rem;
  assign last_in = rem_use <= DW'(LANES);
  assign nval = last_in ? LW'(rem_use) : LW'(LANES);
  assign space = (wp - rp) != (AW + 1)'(CAP);
  assign in_read = ap_ce & in_empty_n & space;
  assign take = in_read;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      first <= 1'b1;
      wp <= '0;
    end else if (take) begin
      first <= last_in;
      wp <= wp + 1'b1;
    end
    if (take) begin
      cfg_row <= cfg_use;
      rem <= rem_use - DW'(LANES);
    end
  end
  logic [BW-1:0] mem[CAP];
  always_ff @(posedge ap_clk) if (take) mem[wp[AW-1:0]] <= in_dout[BW-1:0];

  // I1: the beat's values (lanes past D zeroed), truncation shift a
  logic i1v, i1first, i1last;
  logic signed [X_W-1:0] x1[LANES];
  logic [AMW-1:0] a1;
  logic [CFGW-1:0] cfg1;
  logic signed [XF_W:0] a_full;
  assign a_full = (xf_in > XF_W'(SQF)) ? (XF_W + 1)'(xf_in) - (XF_W + 1)'(SQF) : '0;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) i1v <= 1'b0;
    else if (ap_ce) i1v <= take;
    if (ap_ce) begin
      for (int j = 0; j < LANES; j++)
        x1[j] <= (LW'(j) < nval) ? $signed(in_dout[j*X_W+:X_W]) : '0;
      a1 <= (a_full > (XF_W + 1)'(X_W)) ? AMW'(X_W) : AMW'(a_full);
      i1first <= first;
      i1last <= last_in;
      cfg1 <= cfg_use;
    end
  end
  // I2: xs = x >> a and its square, per lane
  logic i2v, i2first, i2last;
  logic signed [X_W-1:0] x2[LANES], xs2[LANES];
  logic [2*X_W-1:0] sq2[LANES];
  logic [CFGW-1:0] cfg2;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) i2v <= 1'b0;
    else if (ap_ce) i2v <= i1v;
    if (ap_ce) begin
      for (int j = 0; j < LANES; j++) begin
        x2[j]  <= x1[j];
        xs2[j] <= x1[j] >>> a1;
        sq2[j] <= (2 * X_W)'((2 * X_W)'(x1[j] >>> a1) * (2 * X_W)'(x1[j] >>> a1));
      end
      i2first <= i1first;
      i2last <= i1last;
      cfg2 <= cfg1;
    end
  end
  // I3: beat sums (adder trees)
  logic i3v, i3first, i3last;
  logic signed [S1W-1:0] bt3, b13;
  logic [S2W-1:0] b23;
  logic [CFGW-1:0] cfg3;
  logic signed [S1W-1:0] bt_c, b1_c;
  logic [S2W-1:0] b2_c;
  always_comb begin
    bt_c = '0;
    b1_c = '0;
    b2_c = '0;
    for (int j = 0; j < LANES; j++) begin
      bt_c = bt_c + S1W'(x2[j]);
      b1_c = b1_c + S1W'(xs2[j]);
      b2_c = b2_c + S2W'(sq2[j]);
    end
  end
  always_ff @(posedge ap_clk) begin
    if (ap_rst) i3v <= 1'b0;
    else if (ap_ce) i3v <= i2v;
    if (ap_ce) begin
      bt3 <= bt_c;
      b13 <= b1_c;
      b23 <= b2_c;
      i3first <= i2first;
      i3last <= i2last;
      cfg3 <= cfg2;
    end
  end
  // I4: row sums; at a row's last beat they are final in the next cycle
  logic st_go;
  logic signed [S1W-1:0] tot, s1;
  logic [S2W-1:0] s2;
  logic [CFGW-1:0] cfg4;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) st_go <= 1'b0;
    else if (ap_ce) st_go <= i3v & i3last;
    if (ap_ce && i3v) begin
      tot <= (i3first ? '0 : tot) + bt3;
      s1  <= (i3first ? '0 : s1) + b13;
      s2  <= (i3first ? '0 : s2) + b23;
      cfg4 <= cfg3;
    end
  end

  // ============================================================== statistics
  // V1: the three products; V2: V; then rsqrt_core (LRS stages)
  logic [DW-1:0] d4;
  logic [EPS_W-1:0] eps4;
  logic signed [XF_W-1:0] xf4;
  assign d4 = cfg4[DW-1:0];
  assign xf4 = cfg4[DW+:XF_W];
  assign eps4 = cfg4[DW+XF_W+2*GF_W+:EPS_W];
  logic v1go, v2go;
  logic [VW-1:0] ds2, s1sq, ed2, var_q;
  logic signed [VFW-1:0] vf1, vf2;
  logic [CFGW-1:0] cfg_v1, cfg_v2;
  logic signed [S1W-1:0] tot_v1, tot_v2;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) {v1go, v2go} <= '0;
    else if (ap_ce) {v1go, v2go} <= {st_go, v1go};
    if (ap_ce) begin
      ds2 <= VW'(d4) * VW'(s2);
      s1sq <= VW'(VW'(s1) * VW'(s1));  // S1^2, exact in VW bits
      ed2 <= VW'(eps4) * VW'(d4) * VW'(d4);
      vf1 <= (xf4 > XF_W'(SQF)) ? VFW'(2 * SQF) : VFW'(xf4) <<< 1;  // 2 * fq
      cfg_v1 <= cfg4;
      tot_v1 <= tot;
      var_q <= ds2 - s1sq + ed2;  // D S2 >= S1^2 (Cauchy-Schwarz)
      vf2 <= vf1;
      cfg_v2 <= cfg_v1;
      tot_v2 <= tot_v1;
    end
  end
  logic [MF:0] mant_r;
  logic signed [SHIFT_W-1:0] k_r;
  rsqrt_core #(
      .V_W(VW),
      .FRAC_W(VFW),
      .SHIFT_W(SHIFT_W)
  ) rsq (
      .clk(ap_clk),
      .en(ap_ce),
      .v(var_q),
      .v_frac(vf2),
      .mant(mant_r),
      .shift(k_r)
  );
  logic [LRS-1:0] rgo;
  always_ff @(posedge ap_clk)
    if (ap_rst) rgo <= '0;
    else if (ap_ce) rgo <= {rgo[LRS-2:0], v2go};
  // The epsilon field was spent on the rsqrt; it rides along to keep one config word.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [CFGW-1:0] cfg_r;
  /* verilator lint_on UNUSEDSIGNAL */
  logic signed [S1W-1:0] tot_r;
  delay #(
      .W  (CFGW + S1W),
      .LAT(LRS)
  ) st_delay (
      .clk(ap_clk),
      .en(ap_ce),
      .d({cfg_v2, tot_v2}),
      .q({cfg_r, tot_r})
  );
  // the row FIFO: a row's statistics wait here until its beats are read
  logic [STW-1:0] rows_q[CAP];
  logic [AW:0] qw, qr;
  logic push;
  assign push = ap_ce & rgo[LRS-1];
  always_ff @(posedge ap_clk) begin
    if (ap_rst) qw <= '0;
    else if (push) qw <= qw + 1'b1;
    if (push)
      rows_q[qw[AW-1:0]] <= {cfg_r[DW+XF_W+2*GF_W+EPS_W+:44], cfg_r[0+:DW+XF_W+2*GF_W], tot_r,
                             mant_r, k_r};
  end

  // ================================================================== output
  logic en_o, issue, head, rlast;
  logic [NO:0] ov;  // a beat in each output stage (ov[0]: the buffer read)
  logic [DW-1:0] orem;  // values of the row left to read, at the row's next beat
  logic ofirst;
  logic [STW-1:0] hd;
  assign en_o = ap_ce & (~ov[NO] | out_full_n);
  assign head = qw != qr;
  assign hd = rows_q[qr[AW-1:0]];
  logic [DW-1:0] hd_d, orem_use;
  assign hd_d = hd[MF+1+SHIFT_W+S1W+:DW];
  assign orem_use = ofirst ? hd_d : orem;
  assign rlast = orem_use <= DW'(LANES);
  assign issue = en_o & head;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      qr <= '0;
      rp <= '0;
      ofirst <= 1'b1;
    end else if (issue) begin
      rp <= rp + 1'b1;
      ofirst <= rlast;
      if (rlast) qr <= qr + 1'b1;
    end
    if (issue) orem <= orem_use - DW'(LANES);
  end
  always_ff @(posedge ap_clk)
    if (ap_rst) ov <= '0;
    else if (en_o) ov <= {ov[NO-1:0], issue};

  // O0: buffer read, with the row's statistics and the lanes in use
  logic [BW-1:0] rd0;
  logic [STW-1:0] st0;
  logic [LW-1:0] nv0;
  logic last0;
  always_ff @(posedge ap_clk)
    if (issue) begin
      rd0 <= mem[rp[AW-1:0]];
      st0 <= hd;
      nv0 <= rlast ? LW'(orem_use) : LW'(LANES);
      last0 <= rlast;
    end
  // fields of the row statistics
  logic signed [SHIFT_W-1:0] k0;
  logic [MF:0] mant0;
  logic signed [S1W-1:0] tot0;
  logic [DW-1:0] d0;
  logic signed [XF_W-1:0] xf0;
  logic signed [GF_W-1:0] gf0, bf0;
  logic [21:0] zfmt0, ofmt0;
  assign {ofmt0, zfmt0, bf0, gf0, xf0, d0, tot0, mant0, k0} = st0;

  // O1: D*x - T per lane
  logic signed [CW-1:0] c1[LANES];
  logic [MF:0] mant1;
  always_ff @(posedge ap_clk)
    if (en_o) begin
      for (int j = 0; j < LANES; j++)
        c1[j] <= CW'(CW'(d0) * CW'($signed(rd0[j*X_W+:X_W]))) - CW'(tot0);
      mant1 <= mant0;
    end
  // the side band of a beat down the output pipeline
  localparam int OSW = 44 + 2 * GF_W + XF_W + SHIFT_W + LW + 1 + LANES * (G_W + B_W);
  logic [OSW-1:0] os0, os1, os2, os3;
  assign os0 = {ofmt0, zfmt0, bf0, gf0, xf0, k0, nv0, last0, rd0[BW-1:LANES*X_W]};
  always_ff @(posedge ap_clk)
    if (en_o) begin
      os1 <= os0;
      os2 <= os1;
    end
  // O2: (D*x - T) * mant, exact, and z's source fraction count
  logic signed [PW-1:0] p2[LANES];
  logic signed [ZFW-1:0] zfr2;
  logic [21:0] zfmt2;
  always_ff @(posedge ap_clk)
    if (en_o) begin
      for (int j = 0; j < LANES; j++) p2[j] <= PW'(c1[j]) * $signed(PW'(mant1));
    end
  assign zfmt2 = os2[OSW-23-:22];
  assign zfr2 = ZFW'($signed(os2[OSW-45-2*GF_W-:XF_W])) + ZFW'(MF) +
      ZFW'($signed(os2[OSW-45-2*GF_W-XF_W-:SHIFT_W]));
  // O3..: z = requant(p, x_frac + MANT_FRAC + k -> z_fmt)
  logic [Z_W-1:0] z3[LANES];
  for (genvar j = 0; j < LANES; j++) begin : g_z
    logic ovf_unused;  // no overflow counter in the engine
    requant_rt #(
        .IN_W(PW),
        .FRAC_W(ZFW),
        .OUT_W(Z_W),
        .LAT(RQL)
    ) rq_z (
        .clk(ap_clk),
        .en(en_o),
        .x(p2[j]),
        .x_frac(zfr2),
        .fmt(zfmt2),
        .y(z3[j]),
        .ovf(ovf_unused)
    );
  end
  delay #(
      .W  (OSW),
      .LAT(RQL)
  ) os_delay (
      .clk(ap_clk),
      .en(en_o),
      .d(os2),
      .q(os3)
  );
  // z * gamma + beta * 2**bsh, exact
  logic signed [7:0] zf3;
  logic [6:0] zw_unused;
  logic zs_unused;
  logic [2:0] zq_unused;
  logic [1:0] zo_unused;
  fmt_decode zdec (
      .word(os3[OSW-23-:22]),
      .width(zw_unused),
      .frac(zf3),
      .signed_(zs_unused),
      .quant(zq_unused),
      .ovf(zo_unused)
  );
  logic signed [GF_W-1:0] gf3, bf3;
  logic signed [YFW-1:0] yfr3, bsh3f;
  logic [BSW-1:0] bsh3;
  assign bf3 = os3[OSW-45-:GF_W];
  assign gf3 = os3[OSW-45-GF_W-:GF_W];
  assign yfr3 = YFW'(zf3) + YFW'(gf3);
  assign bsh3f = yfr3 - YFW'(bf3);
  assign bsh3 = (bsh3f < 0) ? '0 : (bsh3f > YFW'(BSH_MAX)) ? BSW'(BSH_MAX) : BSW'(bsh3f);
  logic signed [WW-1:0] w4[LANES];
  logic signed [YFW-1:0] yfr4;
  logic [21:0] ofmt4;
  logic [LW-1:0] nv4;
  logic last4;
  always_ff @(posedge ap_clk)
    if (en_o) begin
      for (int j = 0; j < LANES; j++)
        w4[j] <= WW'($signed(z3[j])) * WW'($signed(os3[j*G_W+:G_W])) +
                 (WW'($signed(os3[LANES*G_W+j*B_W+:B_W])) <<< bsh3);
      yfr4 <= yfr3;
      ofmt4 <= os3[OSW-1-:22];
      nv4 <= os3[LANES*(G_W+B_W)+1+:LW];
      last4 <= os3[LANES*(G_W+B_W)];
    end
  // y = requant(w, zf + g_frac -> out_fmt), the output registers
  logic [OUT_W-1:0] y5[LANES];
  for (genvar j = 0; j < LANES; j++) begin : g_y
    logic ovf_unused;  // no overflow counter in the engine
    requant_rt #(
        .IN_W(WW),
        .FRAC_W(YFW),
        .OUT_W(OUT_W),
        .LAT(RQL)
    ) rq_y (
        .clk(ap_clk),
        .en(en_o),
        .x(w4[j]),
        .x_frac(yfr4),
        .fmt(ofmt4),
        .y(y5[j]),
        .ovf(ovf_unused)
    );
  end
  logic [LW-1:0] nv5;
  logic last5;
  delay #(
      .W  (LW + 1),
      .LAT(RQL)
  ) tail_delay (
      .clk(ap_clk),
      .en(en_o),
      .d({nv4, last4}),
      .q({nv5, last5})
  );
  always_comb begin
    out_din[LANES*OUT_W] = last5;
    for (int j = 0; j < LANES; j++) out_din[j*OUT_W+:OUT_W] = (LW'(j) < nv5) ? y5[j] : '0;
  end
  assign out_write = ap_ce & ov[NO] & out_full_n;
endmodule

`default_nettype wire
