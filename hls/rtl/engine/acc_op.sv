// The accumulator operator of the engine's MoE combine (hls/src/edgemoe_layers.cpp
// moe_acc_init and moe_combine), rows r = 0 .. rows - 1 of D = model.dim
// values, AL values per cycle:
//   combine = 0 (accumulator init): acc[r][c] = x[r][c] << shift, the residual
//     x (ACT_W-bit raw words, sign-extended) aligned exactly to the
//     accumulators' fraction count (shift = cfrac - x_frac);
//   combine = 1 (combine): x[r][c] = requant(acc[r][c], frac, fmt), the exact
//     ACC_W-bit sum (frac fraction bits) assigned to the format word fmt
//     (bits 21:0, at most ACT_W bits wide) by requant_rt; the low ACT_W bits
//     of its result are written.
// The sequencer keeps rows, shift, frac and fmt from the init call for the
// combine call; here every call samples them at start.
//
// A call (start, its arguments sampled that cycle; done pulses one cycle after
// the last word is written): every row is read one beat of AL words per cycle
// (x_re or acc_re per lane, lanes past D not read; ebuf timing: data the cycle
// after the address) and written back to back, rows and columns unchanged, with
// *_wadd = 0. No back-pressure: one beat per cycle, rows ceil(D / AL) cycles
// plus the pipeline (init: 2 cycles from a read to its write, the data register
// and the write register; combine: 1 + REQUANT_RT_LAT, requant_rt's output is the
// write register).
//
// shift is used as 0 .. ACC_W: a negative shift counts as 0 and a larger one as
// ACC_W (every bit shifted out, as the C++'s truncation to acc_t). The
// descriptor check refuses a residual with more fraction bits than the
// accumulator and keeps every aligned term below 2**(ACC_W - 3), so in the
// engine no bit is shifted out. The combine requantises the whole ACC_W-bit
// accumulator (the C++ casts it to int64_t first: equal for every sum below
// 2**63 in magnitude).
`default_nettype none
// Unused bits of the model record (only dim is read) and of the format word.
/* verilator lint_off UNUSEDSIGNAL */  // file

module acc_op #(
    // activation word width (x words)
    parameter int ACT_W = 16,
    // accumulator width (2 ACT_W + 16 in the engine)
    parameter int ACC_W = 48,
    // accumulator lanes: values per cycle
    parameter int AL    = 4
) (
    input  wire                       clk,
    input  wire                       rst,
    input  engine_pkg::model_t        model,
    input  wire                       start,
    input  wire                       combine,
    input  wire  [              15:0] rows,
    input  wire signed [           9:0] shift,
    input  wire signed [           9:0] frac,
    input  wire  [              31:0] fmt,
    output logic                      done,
    // x buffer reads (ebuf; init)
    output logic [            AL-1:0] x_re,
    output logic [         AL*16-1:0] x_rrow,
    output logic [         AL*16-1:0] x_rcol,
    input  wire  [      AL*ACT_W-1:0] x_rdata,
    // accumulator reads (ebuf; combine)
    output logic [            AL-1:0] acc_re,
    output logic [         AL*16-1:0] acc_rrow,
    output logic [         AL*16-1:0] acc_rcol,
    input  wire  [      AL*ACC_W-1:0] acc_rdata,
    // accumulator writes (ebuf; init)
    output logic [            AL-1:0] acc_we,
    output logic [            AL-1:0] acc_wadd,
    output logic [         AL*16-1:0] acc_wrow,
    output logic [         AL*16-1:0] acc_wcol,
    output logic [      AL*ACC_W-1:0] acc_wdata,
    // x buffer writes (ebuf; combine)
    output logic [            AL-1:0] x_we,
    output logic [            AL-1:0] x_wadd,
    output logic [         AL*16-1:0] x_wrow,
    output logic [         AL*16-1:0] x_wcol,
    output logic [      AL*ACT_W-1:0] x_wdata
);
  import engine_pkg::*;  // (Icarus 11 elaborates the package's types only when imported)
  localparam int RQL = hwmath_pkg::REQUANT_RT_LAT;
  localparam int SHW = $clog2(ACC_W + 1);

  initial begin
    if ((ACT_W != 16 && ACT_W != 32) || ACC_W < ACT_W + 2 || ACC_W > 128 || AL < 1 || AL > 64)
    begin
      $error("acc_op: ACT_W = %0d (16 or 32), ACC_W = %0d (ACT_W + 2 .. 128), AL = %0d (1..64) (%m)",
             ACT_W, ACC_W, AL);
      $finish;
    end
  end

  typedef enum logic [1:0] {
    IDLE,
    RUN,
    DRAIN
  } state_t;
  state_t st;

  // the call's arguments
  logic [15:0] d, nrows;
  logic comb;
  logic [SHW-1:0] sh;
  logic signed [9:0] cfrac;
  logic [21:0] ofmt;

  // ------------------------------------------------------------------ reads
  logic [15:0] ir, ik;  // next read beat: row, first column
  wire issue = (st == RUN) && (ir != nrows);
  logic [AL-1:0] lanes;  // lanes of the beat inside the row
  always_comb
    for (int j = 0; j < AL; j++) begin
      lanes[j] = (32'(ik) + 32'(j)) < 32'(d);
      x_re[j] = issue && !comb && lanes[j];
      acc_re[j] = issue && comb && lanes[j];
      x_rrow[j*16+:16] = ir;
      x_rcol[j*16+:16] = ik + 16'(j);
      acc_rrow[j*16+:16] = ir;
      acc_rcol[j*16+:16] = ik + 16'(j);
    end

  // stage 1: the buffer's data (the beat's row, column and lanes registered)
  logic v1;
  logic [AL-1:0] m1;
  logic [15:0] row1, col1;
  always_ff @(posedge clk) begin
    v1 <= issue;
    m1 <= lanes;
    row1 <= ir;
    col1 <= ik;
    if (rst) v1 <= 1'b0;
  end

  // ------------------------------------------------------------- init: acc writes
  always_ff @(posedge clk) begin
    acc_we <= '0;
    if (v1 && !comb)
      for (int j = 0; j < AL; j++) begin
        acc_we[j] <= m1[j];
        acc_wrow[j*16+:16] <= row1;
        acc_wcol[j*16+:16] <= col1 + 16'(j);
        acc_wdata[j*ACC_W+:ACC_W] <= ACC_W'($signed(x_rdata[j*ACT_W+:ACT_W])) << sh;
      end
    if (rst) acc_we <= '0;
  end
  assign acc_wadd = '0;

  // ---------------------------------------------------------- combine: x writes
  logic [ACT_W-1:0] y[AL];
  for (genvar j = 0; j < AL; j++) begin : g_rq
    logic ovf_unused;
    requant_rt #(
        .IN_W(ACC_W),
        .FRAC_W(10),
        .OUT_W(ACT_W),
        .LAT(RQL)
    ) rq (
        .clk(clk),
        .en(1'b1),
        .x(acc_rdata[j*ACC_W+:ACC_W]),
        .x_frac(cfrac),
        .fmt(ofmt),
        .y(y[j]),
        .ovf(ovf_unused)
    );
  end
  // the beat's tags beside requant_rt's pipeline
  logic dv[RQL];
  logic [AL-1:0] dm[RQL];
  logic [15:0] drow[RQL];
  logic [15:0] dcol[RQL];
  always_ff @(posedge clk) begin
    dv[0] <= v1 && comb;
    dm[0] <= m1;
    drow[0] <= row1;
    dcol[0] <= col1;
    for (int i = 1; i < RQL; i++) begin
      dv[i] <= dv[i-1];
      dm[i] <= dm[i-1];
      drow[i] <= drow[i-1];
      dcol[i] <= dcol[i-1];
    end
    if (rst) for (int i = 0; i < RQL; i++) dv[i] <= 1'b0;
  end
  always_comb
    for (int j = 0; j < AL; j++) begin
      x_we[j] = dv[RQL-1] && dm[RQL-1][j];
      x_wrow[j*16+:16] = drow[RQL-1];
      x_wcol[j*16+:16] = dcol[RQL-1] + 16'(j);
      x_wdata[j*ACT_W+:ACT_W] = y[j];
    end
  assign x_wadd = '0;

  // ------------------------------------------------------------------ control
  logic busy;  // a beat still to be written after this cycle
  always_comb begin
    busy = v1;
    for (int i = 0; i < RQL - 1; i++) busy = busy || dv[i];
  end
  always_ff @(posedge clk) begin
    done <= 1'b0;
    if (rst) st <= IDLE;
    else
      case (st)
        IDLE:
        if (start) begin
          d <= model.dim;
          nrows <= (model.dim == 16'd0) ? 16'd0 : rows;
          comb <= combine;
          sh <= (shift < 0) ? '0 : ((int'(shift) > ACC_W) ? SHW'(ACC_W) : SHW'(shift));
          cfrac <= frac;
          ofmt <= fmt[21:0];
          ir <= '0;
          ik <= '0;
          st <= RUN;
        end
        RUN:
        if (ir == nrows) st <= DRAIN;
        else if (32'(ik) + 32'(AL) >= 32'(d)) begin
          ik <= '0;
          ir <= ir + 16'd1;
        end else ik <= ik + 16'(AL);
        default:
        if (!busy) begin
          done <= 1'b1;
          st <= IDLE;
        end
      endcase
  end
endmodule

`default_nettype wire
