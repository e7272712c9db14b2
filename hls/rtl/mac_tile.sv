// TI x TO multiply-accumulate tile with exact wide accumulation and one
// requantisation (the linear unit of pymodel.numerics.forward: exact sum of
// x*w products plus bias and residual aligned into the accumulator, then one
// requant to the output format; QUANT/OVF fixed per instance).
//
// One beat per cycle carries TI inputs, the TO x TI weights, and TO biases
// and residuals (used on the first beat of a dot product only). A beat with
// `last` set closes the dot product and its TO results leave 4 cycles later:
//   1 products (TO*TI multipliers)  2 adder tree per output
//   3 accumulate (first beat: bias * 2**(X_FRAC+W_FRAC-B_FRAC)
//     + residual * 2**(X_FRAC+W_FRAC-R_FRAC) + sum)
//   4 requantisation, output register.
// The pipeline stalls as a whole while the output register is not taken.
// Input word (low bits first): x[TI], w[TO][TI] (output-major), b[TO], r[TO], last.
// Output word: y[TO] (y[0] in the low bits). Ports: Vitis ap_fifo protocol.
module mac_tile #(
    parameter int TI         = 4,
    parameter int TO         = 4,
    parameter int X_W        = 16,
    parameter int X_FRAC     = 10,
    parameter int W_W        = 16,
    parameter int W_FRAC     = 14,
    parameter int B_W        = 16,
    parameter int B_FRAC     = 12,
    parameter int R_W        = 16,
    parameter int R_FRAC     = 10,
    parameter int ACC_W      = 48,
    parameter int OUT_W      = 16,
    parameter int OUT_FRAC   = 10,
    parameter bit OUT_SIGNED = 1'b1,
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    parameter int OVF        = hwmath_pkg::O_SAT
) (
    input  logic ap_clk,
    input  logic ap_rst,
    input  logic ap_ce,

    input  logic [TI*X_W+TO*TI*W_W+TO*B_W+TO*R_W:0] in_dout,
    input  logic                                    in_empty_n,
    output logic                                    in_read,

    output logic [TO*OUT_W-1:0] out_din,
    input  logic                out_full_n,
    output logic                out_write
);
  localparam int AF = X_FRAC + W_FRAC;  // accumulator fraction bits
  localparam int BSH = AF - B_FRAC;  // >= 0: bias aligned exactly
  localparam int RSH = AF - R_FRAC;  // >= 0: residual aligned exactly
  localparam int PW = X_W + W_W;
  localparam int SW = PW + $clog2(TI + 1);
  localparam int OW = TI * X_W;  // field offsets in the input word
  localparam int OB = OW + TO * TI * W_W;
  localparam int OR = OB + TO * B_W;
  localparam int OL = OR + TO * R_W;

  logic en, v1, v2, v3, o_vld;
  assign en = ap_ce & (~o_vld | out_full_n);
  assign in_read = en & in_empty_n;
  assign out_write = ap_ce & o_vld & out_full_n;

  // a beat after `last` (or after reset) starts a dot product
  logic first_in;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) first_in <= 1'b1;
    else if (in_read) first_in <= in_dout[OL];
  end

  // 1: products, and the aligned initial value of the accumulator
  logic signed [PW-1:0] prod[TO][TI];
  logic signed [ACC_W-1:0] init1[TO];
  logic first1, last1;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) v1 <= 1'b0;
    else if (en) begin
      v1 <= in_read;
      first1 <= first_in;
      last1 <= in_dout[OL];
      for (int o = 0; o < TO; o++) begin
        for (int i = 0; i < TI; i++)
          prod[o][i] <= PW'($signed(in_dout[i*X_W+:X_W])) * PW'($signed(in_dout[OW+(o*TI+i)*W_W+:W_W]));
        init1[o] <= (ACC_W'($signed(in_dout[OB+o*B_W+:B_W])) <<< BSH)
                  + (ACC_W'($signed(in_dout[OR+o*R_W+:R_W])) <<< RSH);
      end
    end
  end

  // 2: adder tree (a loop; synthesis balances it)
  logic signed [SW-1:0] sum2[TO];
  logic signed [ACC_W-1:0] init2[TO];
  logic first2, last2;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) v2 <= 1'b0;
    else if (en) begin
      v2 <= v1;
      first2 <= first1;
      last2 <= last1;
      for (int o = 0; o < TO; o++) begin
        logic signed [SW-1:0] s;
        s = '0;
        for (int i = 0; i < TI; i++) s = s + SW'(prod[o][i]);
        sum2[o]  <= s;
        init2[o] <= init1[o];
      end
    end
  end

  // 3: exact accumulation
  logic signed [ACC_W-1:0] acc[TO];
  logic last3;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) v3 <= 1'b0;
    else if (en) begin
      v3 <= v2 & last2;
      last3 <= last2;
      if (v2)
        for (int o = 0; o < TO; o++) acc[o] <= (first2 ? init2[o] : acc[o]) + ACC_W'(sum2[o]);
    end
  end

  // 4: one requantisation per output
  logic [OUT_W-1:0] yq[TO];
  logic [TO-1:0] ovf_unused;
  for (genvar o = 0; o < TO; o++) begin : g_rq
    requant #(
        .IN_W(ACC_W),
        .OUT_W(OUT_W),
        .OUT_SIGNED(OUT_SIGNED),
        .QUANT(QUANT),
        .OVF(OVF),
        .LSH_MAX((OUT_FRAC > AF) ? OUT_FRAC - AF : 0)
    ) rq (
        .x(acc[o]),
        .rsh(8'(AF - OUT_FRAC)),
        .y(yq[o]),
        .ovf(ovf_unused[o])
    );
  end
  always_ff @(posedge ap_clk) begin
    if (ap_rst) o_vld <= 1'b0;
    else if (en) begin
      o_vld <= v3;
      for (int o = 0; o < TO; o++) out_din[o*OUT_W+:OUT_W] <= yq[o];
    end
  end
endmodule
