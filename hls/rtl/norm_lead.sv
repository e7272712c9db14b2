// Normalisation of a positive value for the pseudo-float functions (recip_core,
// rsqrt_core), as pymodel.numerics.hwmath._normalise.
//
// v is a V_W-bit unsigned value with v_frac fraction bits (a run-time count):
// lead = floor(log2 v) - v_frac, m = the NORM_IN_FRAC bits below the leading
// one (lower bits truncated, zero-filled when v has fewer). SHIFT_W must hold
// every lead of the caller's range. Combinational.
`default_nettype none

module norm_lead #(
    // bits of the input v (unsigned, v > 0)
    parameter int V_W     = 32,
    // bits of the run-time fraction count v_frac (signed)
    parameter int FRAC_W  = 8,
    // bits of the exponent lead (signed)
    parameter int SHIFT_W = 8
) (
    input  wire         [                     V_W-1:0] v,
    input  wire  signed [                  FRAC_W-1:0] v_frac,
    output logic        [hwmath_pkg::NORM_IN_FRAC-1:0] m,
    output logic signed [                 SHIFT_W-1:0] lead
);
  localparam int NF = hwmath_pkg::NORM_IN_FRAC;

  initial begin
    if (V_W < 1 || FRAC_W < 2 || FRAC_W > 24 || SHIFT_W < 2) begin
      $error("norm_lead: V_W = %0d, FRAC_W = %0d, SHIFT_W = %0d out of range (instance %m)", V_W,
             FRAC_W, SHIFT_W);
      $finish;
    end
  end

  int p;
  always_comb begin
    p = 0;
    for (int i = 0; i < V_W; i++) if (v[i]) p = i;  // highest set bit wins
    // leading one moved to the top bit of {v, NF zeros}; m = the NF bits below it
    m = NF'(({v, {NF{1'b0}}} << (V_W - 1 - p)) >> (V_W - 1));
    lead = SHIFT_W'(p - int'(v_frac));
  end
endmodule

`default_nettype wire
