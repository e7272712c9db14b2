// Table ROM with two synchronous read ports, loaded with $readmemh.
//
// An interpolation reads T[i] and T[i+1] in the same cycle. The outputs are
// registered so that Vivado can map large tables to block RAM (a RAMB18 has
// the two read ports); `en` freezes the ROM with the pipeline around it.
`default_nettype none

module rom2r #(
    // bits per entry (entries are unsigned)
    parameter int W     = 18,
    // number of entries
    parameter int DEPTH = 65,
    // $readmemh file, entry i on line i (hwmath_pkg names them), found from the simulator's cwd
    parameter     FILE  = "table.mem",
    // address bits
    parameter int AW    = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  wire          clk,
    input  wire          en,
    input  wire [AW-1:0] a0,
    input  wire [AW-1:0] a1,
    output logic [ W-1:0] d0,
    output logic [ W-1:0] d1
);
  initial begin
    if (W < 1 || DEPTH < 1 || (DEPTH > 1 && AW < $clog2(DEPTH))) begin
      $error("rom2r: W = %0d, DEPTH = %0d, AW = %0d is not a table (instance %m)", W, DEPTH, AW);
      $finish;
    end
  end

  logic [W-1:0] mem[DEPTH];
  initial $readmemh(FILE, mem, 0, DEPTH - 1);
  always_ff @(posedge clk) begin
    if (en) begin
      d0 <= mem[a0];
      d1 <= mem[a1];
    end
  end
endmodule

`default_nettype wire
