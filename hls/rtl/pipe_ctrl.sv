// Handshake and valid bits of a fixed-latency stream pipeline: the skeleton
// shared by the element units (exp_unit, recip_unit, rsqrt_unit, gelu_unit)
// and mac_tile.
//
// LAT register stages, the last one the output register. The whole pipeline
// advances together (en): it stalls only while the output register holds a
// beat the consumer does not take, so the initiation interval is 1 without
// back-pressure. in_read/out_write follow the Vitis ap_fifo port protocol
// (read/write only when the FIFO has data/space), which is also a
// valid/ready stream with valid = empty_n and ready = full_n.
//
// A stage that merges several beats into one (mac_tile's accumulator emits
// one beat per dot product) clears keep[i]: stage i then holds a beat only
// where keep[i] is set as the beat enters it. One-in one-out pipelines tie
// keep to '1. valid[i] tells the datapath whether stage i holds a beat.
`default_nettype none

module pipe_ctrl #(
    // register stages of the pipeline (the last one is the output register)
    parameter int LAT = 4
) (
    input  wire            clk,
    input  wire            rst,
    input  wire            ce,
    input  wire            in_empty_n,
    output logic           in_read,
    input  wire            out_full_n,
    output logic           out_write,
    input  wire  [LAT-1:0] keep,
    output logic           en,
    output logic [LAT-1:0] valid
);
  initial begin
    if (LAT < 1) begin
      $error("pipe_ctrl: LAT = %0d, a pipeline needs at least one stage (instance %m)", LAT);
      $finish;
    end
  end

  assign en        = ce & (~valid[LAT-1] | out_full_n);
  assign in_read   = en & in_empty_n;
  assign out_write = ce & valid[LAT-1] & out_full_n;
  always_ff @(posedge clk) begin
    if (rst) valid <= '0;
    else if (en) begin
      valid[0] <= in_empty_n & keep[0];
      for (int i = 1; i < LAT; i++) valid[i] <= valid[i-1] & keep[i];
    end
  end
endmodule

`default_nettype wire
