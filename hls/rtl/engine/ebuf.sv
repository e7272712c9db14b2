// One on-chip buffer of the engine (hls/include/edgemoe_engine.h struct Chip):
// ROWS x COLS words of W bits with NR element read ports and NW element write
// ports. Reads are synchronous (data the cycle after the address, held while
// re is low). A write port either stores its word or, with add, adds it to the
// stored one (the accumulators' read-modify-write: the MoE scatter-add and
// the hidden-chunk partial sums); two ports never write one word in a cycle
// (the units' schedules guarantee it; the engine test's golden comparison
// would see a lost write).
//
// The model is behavioural: the partitioning of each buffer into banks
// (docs/HARDWARE.md, the resource model's per-buffer widths) is what makes
// the per-cycle port counts possible in block RAM; the cycle behaviour is the
// same.
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module ebuf #(
    // rows
    parameter int ROWS = 4,
    // words per row
    parameter int COLS = 4,
    // bits per word
    parameter int W = 16,
    // element read ports
    parameter int NR = 1,
    // element write ports
    parameter int NW = 1,
    // row index bits
    parameter int RW = (ROWS > 1) ? $clog2(ROWS) : 1,
    // column index bits
    parameter int CW = (COLS > 1) ? $clog2(COLS) : 1
) (
    input  wire             clk,
    input  wire  [  NR-1:0] re,
    input  wire  [NR*RW-1:0] r_row,
    input  wire  [NR*CW-1:0] r_col,
    output logic [ NR*W-1:0] r_data,
    input  wire  [  NW-1:0] we,
    input  wire  [  NW-1:0] w_add,
    input  wire  [NW*RW-1:0] w_row,
    input  wire  [NW*CW-1:0] w_col,
    input  wire  [ NW*W-1:0] w_data
);
  initial begin
    if (ROWS < 1 || COLS < 1 || W < 1 || NR < 1 || NW < 1) begin
      $error("ebuf: ROWS = %0d, COLS = %0d, W = %0d, NR = %0d, NW = %0d out of range (%m)",
             ROWS, COLS, W, NR, NW);
      $finish;
    end
  end

  logic [W-1:0] mem[ROWS*COLS];

  always_ff @(posedge clk) begin
    for (int p = 0; p < NR; p++)
      if (re[p]) r_data[p*W+:W] <= mem[int'(r_row[p*RW+:RW])*COLS+int'(r_col[p*CW+:CW])];
  end

  always_ff @(posedge clk) begin
    for (int p = 0; p < NW; p++)
      if (we[p]) begin
        automatic int a = int'(w_row[p*RW+:RW]) * COLS + int'(w_col[p*CW+:CW]);
        mem[a] <= w_add[p] ? mem[a] + w_data[p*W+:W] : w_data[p*W+:W];
      end
  end

endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
