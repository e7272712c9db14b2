// TI x TO multiply-accumulate tile with exact wide accumulation and one
// requantisation (the linear unit of pymodel.numerics.forward: exact sum of
// x*w products plus bias and residual aligned into the accumulator, then one
// requant to the output format; QUANT/OVF fixed per instance).
//
// One beat per cycle carries TI inputs, the TO x TI weights, and TO biases
// and residuals (used on the first beat of a dot product only). A beat with
// `last` set closes the dot product and its TO results leave
// hwmath_pkg::MAC_LAT = 4 cycles later (pipe_ctrl; stage 3 keeps only the
// beats that close a dot product):
//   1 products (TO*TI multipliers)  2 adder tree per output
//   3 accumulate (first beat: bias * 2**(X_FRAC+W_FRAC-B_FRAC)
//     + residual * 2**(X_FRAC+W_FRAC-R_FRAC) + sum)
//   4 requantisation, output register.
// The pipeline stalls as a whole while the output register is not taken.
// Input word (low bits first): x[TI], w[TO][TI] (output-major), b[TO], r[TO], last.
// Output word: y[TO] (y[0] in the low bits). Ports: Vitis ap_fifo protocol.
`default_nettype none

module mac_tile #(
    // inputs per beat (dot product lanes)
    parameter int TI         = 4,
    // outputs per beat (dot products computed side by side)
    parameter int TO         = 4,
    // bits of an input x (signed)
    parameter int X_W        = 16,
    // fraction bits of x
    parameter int X_FRAC     = 10,
    // bits of a weight w (signed)
    parameter int W_W        = 16,
    // fraction bits of w
    parameter int W_FRAC     = 14,
    // bits of a bias b (signed)
    parameter int B_W        = 16,
    // fraction bits of b (at most X_FRAC + W_FRAC: aligned exactly)
    parameter int B_FRAC     = 12,
    // bits of a residual r (signed)
    parameter int R_W        = 16,
    // fraction bits of r (at most X_FRAC + W_FRAC: aligned exactly)
    parameter int R_FRAC     = 10,
    // bits of the exact accumulator (X_FRAC + W_FRAC fraction bits)
    parameter int ACC_W      = 48,
    // bits of an output y
    parameter int OUT_W      = 16,
    // fraction bits of y
    parameter int OUT_FRAC   = 10,
    // y is ap_fixed (1) or ap_ufixed (0)
    parameter bit OUT_SIGNED = 1'b1,
    // quantisation mode of y (hwmath_pkg::Q_*)
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    // overflow mode of y (hwmath_pkg::O_*)
    parameter int OVF        = hwmath_pkg::O_SAT
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [TI*X_W+TO*TI*W_W+TO*B_W+TO*R_W:0] in_dout,
    input  wire                                     in_empty_n,
    output logic                                    in_read,

    output logic [TO*OUT_W-1:0] out_din,
    input  wire                 out_full_n,
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
  localparam int LAT = hwmath_pkg::MAC_LAT;

  initial begin
    if (LAT != 4) begin
      $error("mac_tile has 4 stages but hwmath_pkg::MAC_LAT = %0d (instance %m)", LAT);
      $finish;
    end
    if (TI < 1 || TO < 1 || BSH < 0 || RSH < 0 || AF - OUT_FRAC < -128 || AF - OUT_FRAC > 127)
    begin
      $error("mac_tile: TI = %0d, TO = %0d, bias/residual/output fraction bits out of range (instance %m)",
             TI, TO);
      $finish;
    end
    if (ACC_W <= SW || ACC_W <= B_W + BSH || ACC_W <= R_W + RSH) begin
      $error("mac_tile: ACC_W = %0d cannot hold a beat's sum (%0d bits) or the aligned bias (%0d) / residual (%0d) (instance %m)",
             ACC_W, SW, B_W + BSH, R_W + RSH);
      $finish;
    end
  end

  // handshake and valid bits; stage 3 (the accumulator) emits a beat per dot product
  logic en, first_in, last2;
  logic [LAT-1:0] v;
  logic v_unused;  // only stage 2's valid bit (v[1]) gates state here
  assign v_unused = ^{v[LAT-1:2], v[0]};
  pipe_ctrl #(
      .LAT(LAT)
  ) ctrl (
      .clk(ap_clk),
      .rst(ap_rst),
      .ce(ap_ce),
      .in_empty_n(in_empty_n),
      .in_read(in_read),
      .out_full_n(out_full_n),
      .out_write(out_write),
      .keep({1'b1, last2, 2'b11}),
      .en(en),
      .valid(v)
  );

  // a beat after `last` (or after reset) starts a dot product
  always_ff @(posedge ap_clk) begin
    if (ap_rst) first_in <= 1'b1;
    else if (in_read) first_in <= in_dout[OL];
  end

  // 1: products, and the aligned initial value of the accumulator
  logic signed [PW-1:0] prod[TO][TI];
  logic signed [ACC_W-1:0] init1[TO];
  logic first1, last1;
  always_ff @(posedge ap_clk) begin
    if (en) begin
      first1 <= first_in;
      last1  <= in_dout[OL];
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
  logic first2;
  always_ff @(posedge ap_clk) begin
    if (en) begin
      first2 <= first1;
      last2  <= last1;
      for (int o = 0; o < TO; o++) begin
        logic signed [SW-1:0] s;
        s = '0;
        for (int i = 0; i < TI; i++) s = s + SW'(prod[o][i]);
        sum2[o]  <= s;
        init2[o] <= init1[o];
      end
    end
  end

  // 3: exact accumulation (only beats that stage 2 holds: v[1])
  logic signed [ACC_W-1:0] acc[TO];
  always_ff @(posedge ap_clk) begin
    if (en && v[1])
      for (int o = 0; o < TO; o++) acc[o] <= (first2 ? init2[o] : acc[o]) + ACC_W'(sum2[o]);
  end

  // 4: one requantisation per output, into the output register
  logic [OUT_W-1:0] yq[TO];
  logic [TO-1:0] ovf_unused;  // overflow flags: no counter in this unit
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
    if (en) for (int o = 0; o < TO; o++) out_din[o*OUT_W+:OUT_W] <= yq[o];
  end
endmodule

`default_nettype wire
