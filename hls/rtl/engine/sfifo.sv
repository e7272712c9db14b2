// A synchronous first-word-fall-through FIFO with an occupancy count: the
// streams between the engine's processes (weight beats per port, biases,
// MAC sums). in_ready is low when full; out_valid is high when not empty and
// out_data is the oldest word; a word moves on a cycle with valid and ready.
`default_nettype none

module sfifo #(
    // bits per word
    parameter int W = 8,
    // words (a power of two)
    parameter int DEPTH = 16,
    // occupancy count bits
    parameter int CW = $clog2(DEPTH + 1)
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          in_valid,
    output logic         in_ready,
    input  wire  [W-1:0] in_data,
    output logic         out_valid,
    input  wire          out_ready,
    output logic [W-1:0] out_data,
    output logic [CW-1:0] count
);
  localparam int AW = $clog2(DEPTH);
  initial begin
    if (DEPTH < 2 || (1 << AW) != DEPTH || W < 1) begin
      $error("sfifo: DEPTH = %0d (a power of two >= 2), W = %0d (%m)", DEPTH, W);
      $finish;
    end
  end

  logic [W-1:0] mem[DEPTH];
  logic [AW-1:0] rd, wr;
  wire push = in_valid && in_ready;
  wire pop = out_valid && out_ready;

  assign in_ready = count != CW'(DEPTH);
  assign out_valid = count != '0;
  assign out_data = mem[rd];

  always_ff @(posedge clk) begin
    if (rst) begin
      rd <= '0;
      wr <= '0;
      count <= '0;
    end else begin
      if (push) begin
        mem[wr] <= in_data;
        wr <= wr + 1'b1;
      end
      if (pop) rd <= rd + 1'b1;
      count <= count + CW'(push) - CW'(pop);
    end
  end
endmodule

`default_nettype wire
