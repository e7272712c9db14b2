// MoE router of one token: top-k of its E expert logits (ties to the lower
// index) and the online softmax over all E experts into the gate format,
// the k gates of the chosen experts, optionally renormalised to sum 1; bit
// exact with route_token in hls/src/edgemoe_layers.cpp (topk_row,
// softmax_row, recip_fixed, requant) and pymodel.numerics.forward's route.
//
// Logits stream in, one per cycle, in expert order. K_MAX slots keep the best
// logits so far sorted by decreasing value (a new logit goes below every slot
// whose value is >= its own, as topk_router does), and the same logits feed a
// softmax_lane (running max and sum, 1/s), which stalls 2 cycles after every
// logit that raises the running max. At the token's last logit the slots and
// the token's configuration travel with the lane's result (its side band);
// the gate pipeline then computes, for the K_MAX slots in parallel,
//     g = softmax_output(val, m, 1/s)               (prob_lane, into gate_fmt)
// and with renormalisation
//     (mant, sh) = recip_fixed(max(1, sum of the first k g), gate frac bits)
//     g = requant(g * mant, gate frac + MANT_FRAC + sh -> gate_fmt)
// A token of E logits with U running-max updates takes E + 2 U cycles; the
// next token may follow at once. Latency from a token's last logit to its
// output: the lane's 12 cycles + PROB_LAT + RECIP_LAT + REQUANT_RT_LAT + 3.
//
// Ports: Vitis ap_fifo protocol (see hls/rtl/exp_unit.sv). Input word (low
// bits first): {renorm, k[KW], gate_fmt[22], logit_frac[LF_W], last,
// logit[L_W]}: the configuration (renormalise, top-k count 1..K_MAX, the
// gate format word, the logits' fraction count) is read on a token's first
// logit; `last` ends the token (E = its logit count, k <= E <= 2**IW).
// Output word, one per token: {gate[K_MAX], idx[K_MAX]} (slot 0 the largest
// logit, gates OUT_W bits raw as requant_rt gives them, indices IW bits;
// slots k..K_MAX-1 are 0).
`default_nettype none

module router_rt #(
    // bits of a logit (signed)
    parameter int L_W     = 16,
    // bits of the run-time logit fraction count (signed)
    parameter int LF_W    = 8,
    // largest top-k
    parameter int K_MAX   = 4,
    // bits of a gate: the widest gate format
    parameter int OUT_W   = 16,
    // bits of an expert index (2**IW experts at most)
    parameter int IW      = 4,
    // bits of the exponent shifts of 1/s and of the renormalisation
    parameter int SHIFT_W = 10
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [1+$clog2(K_MAX+1)+22+LF_W+L_W:0] in_dout,
    input  wire                                    in_empty_n,
    output logic                                   in_read,

    output logic [K_MAX*(OUT_W+IW)-1:0] out_din,
    input  wire                         out_full_n,
    output logic                        out_write
);
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int KW = $clog2(K_MAX + 1);
  localparam int CFW = 1 + KW + 22 + LF_W;  // {renorm, k, gate_fmt, logit_frac}
  localparam int SLW = K_MAX * (L_W + IW);  // the slots {val[K_MAX], idx[K_MAX]}
  localparam int SDW = CFW + SLW;  // the lane's side band
  localparam int LP = hwmath_pkg::PROB_LAT;
  localparam int LR = hwmath_pkg::RECIP_LAT;
  localparam int RQL = hwmath_pkg::REQUANT_RT_LAT;
  localparam int LT = LP + 1 + LR + 1 + RQL + 1;  // gate pipeline stages
  localparam int GW = OUT_W + 1;  // a gate as a signed value
  localparam int SUMW = GW + $clog2(K_MAX + 1);  // sum of the gates (signed)
  localparam int PW = GW + MF + 2;  // g * mant (signed)
  localparam int RFW = ((SHIFT_W > 8) ? SHIFT_W : 8) + 2;  // gate frac + MANT_FRAC + sh

  initial begin
    if (L_W < 2 || LF_W < 2 || LF_W > 16 || K_MAX < 1 || K_MAX > (1 << IW) || OUT_W < 2 ||
        OUT_W > 62 || IW < 1 || SHIFT_W < 4) begin
      $error("router_rt: L_W = %0d, LF_W = %0d, K_MAX = %0d, OUT_W = %0d, IW = %0d out of range (instance %m)",
             L_W, LF_W, K_MAX, OUT_W, IW);
      $finish;
    end
  end

  // ------------------------------------------------------------------ ingest
  logic signed [L_W-1:0] x;
  logic last_in, first, take;
  logic [CFW-1:0] cfg_in, cfg_row, cfg_use;
  assign x = in_dout[L_W-1:0];
  assign last_in = in_dout[L_W];
  assign cfg_in = in_dout[L_W+1+:CFW];
  assign cfg_use = first ? cfg_in : cfg_row;
  logic signed [L_W-1:0] val[K_MAX], nval[K_MAX];
  logic [IW-1:0] idx[K_MAX], nidx[K_MAX];
  logic [K_MAX-1:0] vld, nvld, ahead;
  logic [IW-1:0] cnt;
  always_comb begin  // the slots after inserting x (a token's first logit sees none)
    for (int j = 0; j < K_MAX; j++) ahead[j] = vld[j] & ~first & (val[j] >= x);
    for (int j = 0; j < K_MAX; j++) begin
      if (ahead[j]) begin
        nval[j] = val[j];
        nidx[j] = idx[j];
        nvld[j] = 1'b1;
      end else if (j == 0 || ahead[(j>0)?j-1:0]) begin
        nval[j] = x;
        nidx[j] = first ? '0 : cnt;
        nvld[j] = 1'b1;
      end else begin  // shifted down from slot j-1
        nval[j] = val[(j>0)?j-1:0];
        nidx[j] = idx[(j>0)?j-1:0];
        nvld[j] = vld[(j>0)?j-1:0] & ~first;
      end
    end
  end
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      first <= 1'b1;
      cnt <= '0;
      vld <= '0;
    end else if (take) begin
      first <= last_in;
      cnt <= last_in ? '0 : (first ? IW'(1) : cnt + 1'b1);
      vld <= nvld;
    end
    if (take) begin
      for (int j = 0; j < K_MAX; j++) begin
        val[j] <= nval[j];
        idx[j] <= nidx[j];
      end
      cfg_row <= cfg_use;
    end
  end
  logic [SLW-1:0] slots;
  always_comb
    for (int j = 0; j < K_MAX; j++) begin
      slots[j*IW+:IW] = nidx[j];
      slots[K_MAX*IW+j*L_W+:L_W] = nval[j];
    end

  // ------------------------------------------------- the softmax statistics
  localparam int LOW = SDW + SHIFT_W + MF + 1 + L_W;  // the lane's output word
  logic [LOW-1:0] lane_out;
  logic lane_write, t_en;
  softmax_lane #(
      .X_W(L_W),
      .XF_W(LF_W),
      .SHIFT_W(SHIFT_W),
      .SIDE_W(SDW)
  ) lane (
      .ap_clk(ap_clk),
      .ap_rst(ap_rst),
      .ap_ce(ap_ce),
      .in_dout({cfg_use, slots, cfg_use[LF_W-1:0], last_in, x}),
      .in_empty_n(in_empty_n),
      .in_read(in_read),
      .out_din(lane_out),
      .out_full_n(t_en),
      .out_write(lane_write)
  );
  assign take = in_read;

  // ---------------------------------------------------------- gate pipeline
  logic [LT-1:0] valid_unused;  // stage valid bits: only the last one matters (out_write)
  logic read_unused;  // = lane_write: the lane's output is taken whenever it is written
  pipe_ctrl #(
      .LAT(LT)
  ) ctrl (
      .clk(ap_clk),
      .rst(ap_rst),
      .ce(ap_ce),
      .in_empty_n(lane_write),
      .in_read(read_unused),
      .out_full_n(out_full_n),
      .out_write(out_write),
      .keep({LT{1'b1}}),
      .en(t_en),
      .valid(valid_unused)
  );
  logic signed [L_W-1:0] m0;
  logic [MF:0] mant0;
  logic signed [SHIFT_W-1:0] sh0;
  logic [SDW-1:0] sd0;
  assign {sd0, sh0, mant0, m0} = lane_out;
  logic [CFW-1:0] cfg0;
  logic [SLW-1:0] sl0;
  assign {cfg0, sl0} = sd0;
  // P: the K_MAX probabilities of the slots' logits
  logic [OUT_W-1:0] g1[K_MAX];
  for (genvar j = 0; j < K_MAX; j++) begin : g_prob
    logic ovf_unused;  // no overflow counter in the engine
    prob_lane #(
        .X_W(L_W),
        .XF_W(LF_W),
        .SHIFT_W(SHIFT_W),
        .OUT_W(OUT_W)
    ) pl (
        .clk(ap_clk),
        .en(t_en),
        .x(sl0[K_MAX*IW+j*L_W+:L_W]),
        .m(m0),
        .x_frac(cfg0[LF_W-1:0]),
        .mant(mant0),
        .shift(sh0),
        .fmt(cfg0[LF_W+:22]),
        .y(g1[j]),
        .ovf(ovf_unused)
    );
  end
  localparam int XSW = CFW + K_MAX * IW;  // {cfg, idx[]} down the pipeline
  logic [XSW-1:0] xs1;
  delay #(
      .W  (XSW),
      .LAT(LP)
  ) xs_delay1 (
      .clk(ap_clk),
      .en(t_en),
      .d({cfg0, sl0[K_MAX*IW-1:0]}),
      .q(xs1)
  );
  logic [KW-1:0] k1;
  logic gs1;  // the gate format is signed
  logic [6:0] gw_unused;
  logic signed [7:0] gfr1;
  logic [2:0] gq_unused;
  logic [1:0] go_unused;
  fmt_decode gdec (
      .word(xs1[K_MAX*IW+LF_W+:22]),
      .width(gw_unused),
      .frac(gfr1),
      .signed_(gs1),
      .quant(gq_unused),
      .ovf(go_unused)
  );
  assign k1 = xs1[K_MAX*IW+LF_W+22+:KW];
  // S: the sum of the first k gates, at least 1
  logic signed [GW-1:0] gx1[K_MAX];
  logic signed [SUMW-1:0] sum1;
  always_comb begin
    sum1 = '0;
    for (int j = 0; j < K_MAX; j++) begin
      gx1[j] = gs1 ? GW'($signed(g1[j])) : $signed({1'b0, g1[j]});
      if (KW'(j) < k1) sum1 = sum1 + SUMW'(gx1[j]);
    end
  end
  logic [SUMW-2:0] sum2;
  logic signed [7:0] gfr2;
  logic [K_MAX*GW-1:0] gp2;
  logic [XSW-1:0] xs2;
  always_ff @(posedge ap_clk)
    if (t_en) begin
      sum2 <= (sum1 < SUMW'(1)) ? (SUMW - 1)'(1) : (SUMW - 1)'(sum1);
      gfr2 <= gfr1;
      for (int j = 0; j < K_MAX; j++) gp2[j*GW+:GW] <= gx1[j];
      xs2 <= xs1;
    end
  // R: 1/sum with the gate format's fraction bits (recip_core)
  logic [MF:0] mant3;
  logic signed [SHIFT_W-1:0] sh3;
  recip_core #(
      .S_W(SUMW - 1),
      .FRAC_W(8),
      .SHIFT_W(SHIFT_W)
  ) rcp (
      .clk(ap_clk),
      .en(t_en),
      .s(sum2),
      .s_frac(gfr2),
      .mant(mant3),
      .shift(sh3)
  );
  logic [K_MAX*GW-1:0] gp3;
  logic [XSW-1:0] xs3;
  logic signed [7:0] gfr3;
  delay #(
      .W  (K_MAX * GW + XSW + 8),
      .LAT(LR)
  ) gp_delay (
      .clk(ap_clk),
      .en(t_en),
      .d({gp2, xs2, gfr2}),
      .q({gp3, xs3, gfr3})
  );
  // M: g * mant, exact, and its fraction count
  logic signed [PW-1:0] pr4[K_MAX];
  logic signed [RFW-1:0] rf4;
  logic [21:0] gf4;
  logic [K_MAX*GW-1:0] gp4;
  logic [XSW-1:0] xs4;
  always_ff @(posedge ap_clk)
    if (t_en) begin
      for (int j = 0; j < K_MAX; j++)
        pr4[j] <= PW'($signed(gp3[j*GW+:GW])) * $signed(PW'(mant3));
      rf4 <= RFW'(gfr3) + RFW'(MF) + RFW'(sh3);
      gf4 <= xs3[K_MAX*IW+LF_W+:22];
      gp4 <= gp3;
      xs4 <= xs3;
    end
  // Q: the renormalised gates (requant_rt); the plain ones wait alongside
  logic [OUT_W-1:0] gn5[K_MAX];
  for (genvar j = 0; j < K_MAX; j++) begin : g_renorm
    logic ovf_unused;  // no overflow counter in the engine
    requant_rt #(
        .IN_W(PW),
        .FRAC_W(RFW),
        .OUT_W(OUT_W),
        .LAT(RQL)
    ) rq (
        .clk(ap_clk),
        .en(t_en),
        .x(pr4[j]),
        .x_frac(rf4),
        .fmt(gf4),
        .y(gn5[j]),
        .ovf(ovf_unused)
    );
  end
  logic [K_MAX*GW-1:0] gp5;
  logic [XSW-1:0] xs5;
  delay #(
      .W  (K_MAX * GW + XSW),
      .LAT(RQL)
  ) tail_delay (
      .clk(ap_clk),
      .en(t_en),
      .d({gp4, xs4}),
      .q({gp5, xs5})
  );
  // O: the output register; slots k.. are 0
  logic renorm5;
  logic [KW-1:0] k5;
  assign renorm5 = xs5[XSW-1];
  assign k5 = xs5[K_MAX*IW+LF_W+22+:KW];
  always_ff @(posedge ap_clk)
    if (t_en) begin
      for (int j = 0; j < K_MAX; j++) begin
        out_din[j*IW+:IW] <= (KW'(j) < k5) ? xs5[j*IW+:IW] : '0;
        out_din[K_MAX*IW+j*OUT_W+:OUT_W] <=
            (KW'(j) >= k5) ? '0 : renorm5 ? gn5[j] : gp5[j*GW+:OUT_W];
      end
    end
endmodule

`default_nettype wire
