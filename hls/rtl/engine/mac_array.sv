// The engine's MAC array: R rows x TI inputs x TO DSP columns with exact accumulation
// (edgemoe_linear.cpp mac_group; one compute instance for every matrix product).
//
// One beat per cycle carries the x slice of R rows x TI inputs and the w slice of
// 2*TO rows x TI inputs of the stationary tile. DSP column d of row r multiplies x
// by A = w[d] (wide mode) or by the pre-added pair A = w[d + TO] * 2**18 + w[d]
// (packed mode: both operands fit 8 bits), one 27 x 18 multiplication: the low 18
// bits of the product, sign-extended, are x * w[d] and the rest x * w[d + TO]
// (edgemoe_engine.h pack_mul) -- two MACs per DSP. Stages (hwmath_pkg::MAC_LAT):
//   1 products (R*TI*TO multipliers)   2 adder tree per (row, output)
//   3 accumulate (a beat with `first` starts a dot product)   4 output register.
// A beat with `last` closes the R x 2TO dot products; only those leave stage 3.
// Input word (low bits first): x[R][TI] (X_W each, row-major), w[2TO][TI] (W_W each,
// output-major), packed, first, last. Output word: acc[R][2TO] (ACC_W each,
// row-major; in wide mode outputs TO..2TO-1 are zero). Ports: the ap_fifo protocol.
`default_nettype none

module mac_array #(
    // x rows per beat
    parameter int R     = 4,
    // inputs per beat (the adder tree of each output)
    parameter int TI    = 8,
    // DSP columns (outputs per beat in wide mode; twice as many packed)
    parameter int TO    = 4,
    // bits of an x element (signed: an activation)
    parameter int X_W   = 16,
    // bits of a w element (signed: a weight, a query, or a probability, whose
    // unsigned ACT_W bits need ACT_W + 1)
    parameter int W_W   = 17,
    // bits of the exact accumulators
    parameter int ACC_W = 48
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [R*TI*X_W+2*TO*TI*W_W+2:0] in_dout,
    input  wire                               in_empty_n,
    output logic                              in_read,

    output logic [R*2*TO*ACC_W-1:0] out_din,
    input  wire                     out_full_n,
    output logic                    out_write
);
  localparam int LAT = hwmath_pkg::MAC_LAT;
  localparam int A_W = W_W + 19;  // pre-adder output: w_hi * 2**18 + w_lo
  localparam int P_W = X_W + A_W;  // product
  localparam int S_W = P_W + $clog2(TI + 1);  // adder tree sum
  localparam int OWV = R * TI * X_W;  // offsets in the input word
  localparam int OPK = OWV + 2 * TO * TI * W_W;

  initial begin
    if (LAT != 4) begin
      $error("mac_array has 4 stages but hwmath_pkg::MAC_LAT = %0d (instance %m)", LAT);
      $finish;
    end
    if (R < 1 || TI < 1 || TO < 1 || X_W < 8 || W_W < 9 || ACC_W < S_W - 18) begin
      $error("mac_array: R = %0d, TI = %0d, TO = %0d, X_W = %0d, W_W = %0d, ACC_W = %0d out of range (%m)",
             R, TI, TO, X_W, W_W, ACC_W);
      $finish;
    end
  end

  logic en;
  /* verilator lint_off UNUSEDSIGNAL */  // only stage 2's valid bit gates the accumulators
  logic [LAT-1:0] valid;
  /* verilator lint_on UNUSEDSIGNAL */
  logic keep2;
  pipe_ctrl #(.LAT(LAT)) ctrl (
      .clk(ap_clk), .rst(ap_rst), .ce(ap_ce), .in_empty_n(in_empty_n), .in_read(in_read),
      .out_full_n(out_full_n), .out_write(out_write), .keep({1'b1, keep2, 1'b1, 1'b1}),
      .en(en), .valid(valid)
  );

  function automatic logic signed [X_W-1:0] x_at(input int r, input int i);
    return $signed(in_dout[(r*TI+i)*X_W+:X_W]);
  endfunction
  function automatic logic signed [W_W-1:0] w_at(input int o, input int i);
    return $signed(in_dout[OWV+(o*TI+i)*W_W+:W_W]);
  endfunction

  // 1: one product per (row, column, input): x * (w_hi * 2**18 + w_lo) or x * w
  logic signed [P_W-1:0] prod[R][TO][TI];
  logic packed1, first1, last1;
  always_ff @(posedge ap_clk) begin
    if (en) begin
      packed1 <= in_dout[OPK];
      first1 <= in_dout[OPK+1];
      last1 <= in_dout[OPK+2];
      for (int r = 0; r < R; r++)
        for (int d = 0; d < TO; d++)
          for (int i = 0; i < TI; i++) begin
            logic signed [A_W-1:0] a;
            a = in_dout[OPK] ? (A_W'(w_at(d + TO, i)) <<< 18) + A_W'(w_at(d, i)) : A_W'(w_at(d, i));
            prod[r][d][i] <= P_W'(x_at(r, i)) * P_W'(a);
          end
    end
  end

  // 2: split packed products, then the adder tree of each output
  logic signed [S_W-1:0] sum_lo[R][TO], sum_hi[R][TO];
  logic first2, last2;
  always_ff @(posedge ap_clk) begin
    if (en) begin
      first2 <= first1;
      last2 <= last1;
      for (int r = 0; r < R; r++)
        for (int d = 0; d < TO; d++) begin
          logic signed [S_W-1:0] lo, hi;
          lo = '0;
          hi = '0;
          for (int i = 0; i < TI; i++) begin
            logic signed [P_W-1:0] p, p_lo, p_hi;
            p = prod[r][d][i];
            p_lo = packed1 ? P_W'($signed(p[17:0])) : p;
            p_hi = (p - p_lo) >>> 18;
            lo = lo + S_W'(p_lo);
            hi = hi + S_W'(p_hi);
          end
          sum_lo[r][d] <= lo;
          sum_hi[r][d] <= packed1 ? hi : '0;
        end
    end
  end

  // 3: exact accumulation; only dot products closed by `last` move on
  logic signed [ACC_W-1:0] acc[R][2*TO];
  assign keep2 = last2;
  always_ff @(posedge ap_clk) begin
    if (en && valid[1])
      for (int r = 0; r < R; r++)
        for (int d = 0; d < TO; d++) begin
          acc[r][d] <= (first2 ? '0 : acc[r][d]) + ACC_W'(sum_lo[r][d]);
          acc[r][d+TO] <= (first2 ? '0 : acc[r][d+TO]) + ACC_W'(sum_hi[r][d]);
        end
  end

  // 4: output register
  always_ff @(posedge ap_clk) begin
    if (en)
      for (int r = 0; r < R; r++)
        for (int o = 0; o < 2 * TO; o++) out_din[(r*2*TO+o)*ACC_W+:ACC_W] <= acc[r][o];
  end
endmodule

`default_nettype wire
