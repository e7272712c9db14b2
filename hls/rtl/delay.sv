// LAT-stage delay line under an enable: side-band data that must stay
// aligned with a datapath core of latency LAT.
`default_nettype none

module delay #(
    // bits delayed
    parameter int W   = 1,
    // register stages
    parameter int LAT = 1
) (
    input  wire          clk,
    input  wire          en,
    input  wire  [W-1:0] d,
    output logic [W-1:0] q
);
  initial begin
    if (W < 1 || LAT < 1) begin
      $error("delay: W = %0d and LAT = %0d must both be at least 1 (instance %m)", W, LAT);
      $finish;
    end
  end

  logic [W-1:0] r[LAT];
  always_ff @(posedge clk) begin
    if (en) begin
      r[0] <= d;
      for (int i = 1; i < LAT; i++) r[i] <= r[i-1];
    end
  end
  assign q = r[LAT-1];
endmodule

`default_nettype wire
