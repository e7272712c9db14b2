// Test wrapper (not part of the engine): one requant per quantisation and
// overflow mode, all N_QUANT x N_OVF of them on the same input, behind a
// stream handshake with an output register (latency 1, II 1).
//
// Input word {rsh[SH_W], x[IN_W]}; output word: for mode m = q * N_OVF + o
// (q, o the codes of hwmath_pkg::Q_* and O_*), bits m*(OUT_W+1) +: OUT_W+1
// hold {ovf, y} of requant #(.QUANT(q), .OVF(o)). sim/cocotb/test_requant_modes.py
// compares every field with pymodel.numerics.fixed.FixedFormat.convert.
`default_nettype none

module requant_modes #(
    // bits of the source value x (signed)
    parameter int IN_W       = 32,
    // bits of each result y
    parameter int OUT_W      = 16,
    // results are ap_fixed (1) or ap_ufixed (0)
    parameter bit OUT_SIGNED = 1'b1,
    // bits of the run-time shift rsh (signed)
    parameter int SH_W       = 8,
    // largest left shift (-rsh) the instances support
    parameter int LSH_MAX    = 0
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [SH_W+IN_W-1:0] in_dout,
    input  wire                  in_empty_n,
    output logic                 in_read,

    output logic [hwmath_pkg::N_QUANT*hwmath_pkg::N_OVF*(OUT_W+1)-1:0] out_din,
    input  wire                                                         out_full_n,
    output logic                                                        out_write
);
  localparam int NO = hwmath_pkg::N_OVF;
  localparam int NM = hwmath_pkg::N_QUANT * NO;
  localparam int FW = OUT_W + 1;

  logic en;
  logic [0:0] valid_unused;  // one stage: nothing to gate
  pipe_ctrl #(
      .LAT(1)
  ) ctrl (
      .clk(ap_clk),
      .rst(ap_rst),
      .ce(ap_ce),
      .in_empty_n(in_empty_n),
      .in_read(in_read),
      .out_full_n(out_full_n),
      .out_write(out_write),
      .keep(1'b1),
      .en(en),
      .valid(valid_unused)
  );

  logic [NM*FW-1:0] all;
  for (genvar q = 0; q < hwmath_pkg::N_QUANT; q++) begin : g_quant
    for (genvar o = 0; o < NO; o++) begin : g_ovf
      logic [OUT_W-1:0] y;
      logic f;
      requant #(
          .IN_W(IN_W),
          .OUT_W(OUT_W),
          .OUT_SIGNED(OUT_SIGNED),
          .QUANT(q),
          .OVF(o),
          .SH_W(SH_W),
          .LSH_MAX(LSH_MAX)
      ) rq (
          .x(in_dout[IN_W-1:0]),
          .rsh(in_dout[IN_W+:SH_W]),
          .y(y),
          .ovf(f)
      );
      assign all[(q*NO+o)*FW+:FW] = {f, y};
    end
  end
  always_ff @(posedge ap_clk) if (en) out_din <= all;
endmodule

`default_nettype wire
