// The softmax statistics operator of the engine (hls/src/edgemoe_attention.cpp
// statistics): for every query row n = 0 .. rows - 1 of score slot `slot`,
// the online max m and sum s of its model.tokens scores in key order and 1/s,
// exactly softmax_first / softmax_update and recip_fixed(s, SOFTMAX_SUM_FRAC)
// (pymodel.numerics.hwmath.online_softmax_fixed), through SL softmax_lane
// instances.
//
// Layout (the datapath's buffers, S[slot][query n][key row]): score n, key j
// is word (slot * QB + n, j) of the score buffer; the statistics word of row
// n is written to word (slot * QB + n, 0) of the statistics buffer as
// {shift[8], mant[MANT_FRAC+1], m[ACT_W]} (tile_fill's and prob_lane's
// packing, STW = ACT_W + MANT_FRAC + 9 bits), 1/s = mant * 2**-(MANT_FRAC +
// shift).
//
// Lane l takes rows l, l + SL, l + 2 SL, ... (the C++'s row groups, without
// the group barrier: a lane starts its next row as soon as its current one is
// read, so no lane waits for a slower one; every row's statistics are those
// of its own scores, so the result is the same). Each lane reads one score
// per cycle through its own score-buffer read port (s_re per lane; ebuf
// timing: data the cycle after the address, held while re is low, so the
// buffer's output register is the lane's input FIFO of depth one: a read is
// issued when the word before it is taken, or none is waiting), except for
// the softmax_lane stall of SM_RESCALE_LAT - 1 cycles after every score that
// raises a row's running max. Results are written as the lanes give them
// (st_we per lane, st_wadd = 0, st_wcol = 0; the lanes' rows differ, so two
// ports never write one word).
//
// A call (start, its arguments sampled that cycle; done pulses one cycle after
// the last statistics word is written): lane l costs, for its rows, the sum
// of (tokens + 2 U_row) cycles (U_row: the row's max updates after its first
// score), plus one read cycle and the lane's latency (softmax_lane: 12 cycles
// from a row's last score to its result). rows = 0, or model.tokens = 0
// (which the descriptor check refuses), writes nothing and is done after two
// cycles. rows must not exceed QB (the sequencer's query blocks never do).
`default_nettype none
// Unused bits of the model record are expected here (the operator reads tokens).
/* verilator lint_off UNUSEDSIGNAL */  // file

module sm_op #(
    // activation word width (a score word)
    parameter int ACT_W = 16,
    // softmax lanes: score rows in parallel
    parameter int SL    = 4,
    // query rows per score slot (the score and statistics buffers' row stride)
    parameter int QB    = 16
) (
    input  wire                                              clk,
    input  wire                                              rst,
    input  engine_pkg::model_t                               model,
    input  wire                                              start,
    input  wire  [                                      1:0] slot,
    input  wire  [                                     15:0] rows,
    input  wire  signed [                                9:0] frac,
    output logic                                             done,
    // score buffer reads (ebuf)
    output logic [                                   SL-1:0] s_re,
    output logic [                                SL*16-1:0] s_rrow,
    output logic [                                SL*16-1:0] s_rcol,
    input  wire  [                             SL*ACT_W-1:0] s_rdata,
    // statistics buffer writes (ebuf)
    output logic [                                   SL-1:0] st_we,
    output logic [                                   SL-1:0] st_wadd,
    output logic [                                SL*16-1:0] st_wrow,
    output logic [                                SL*16-1:0] st_wcol,
    output logic [SL*(ACT_W+hwmath_pkg::MANT_FRAC+9)-1:0] st_wdata
);
  import engine_pkg::*;  // (Icarus 11 elaborates the package's types only when imported)
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int STW = ACT_W + MF + 9;  // {shift[8], mant[MF+1], m[ACT_W]}
  localparam int XF_W = 10;  // score fraction count (the descriptor's format field)
  localparam int SH_W = 8;  // shift of 1/s
  localparam int SD_W = 16;  // side band: the statistics row
  localparam int OUT_W = SD_W + SH_W + MF + 1 + ACT_W;
  localparam int CW = $clog2(SL + 1);

  initial begin
    if ((ACT_W != 16 && ACT_W != 32) || SL < 1 || SL > 64 || QB < 1 || 3 * QB > 65535) begin
      $error("sm_op: ACT_W = %0d (16 or 32), SL = %0d (1..64), QB = %0d (1..21845) (%m)",
             ACT_W, SL, QB);
      $finish;
    end
  end

  // the call's arguments
  logic run;
  logic [15:0] nrows, ntok, base, wrote;
  logic signed [XF_W-1:0] xf;
  logic [CW-1:0] nw;  // statistics words written this cycle
  always_comb begin
    nw = '0;
    for (int l = 0; l < SL; l++) nw = nw + CW'(st_we[l]);
  end
  always_ff @(posedge clk) begin
    done <= 1'b0;
    if (rst) begin
      run <= 1'b0;
    end else if (start) begin
      run <= 1'b1;
      nrows <= (model.tokens == 16'd0) ? 16'd0 : rows;
      ntok <= model.tokens;
      base <= 16'(int'(slot) * QB);
      xf <= frac;
      wrote <= '0;
    end else if (run) begin
      wrote <= wrote + 16'(nw);
      if (wrote + 16'(nw) == nrows) begin
        run <= 1'b0;
        done <= 1'b1;
      end
    end
  end

  genvar gl;
  generate
    for (gl = 0; gl < SL; gl++) begin : lane
      // the next read: row n, key j (act: the lane has scores left to read)
      logic act;
      logic [15:0] n, j;
      // the word in the buffer's output register: valid, last of its row, its row
      logic v, v_last;
      logic [15:0] v_row;
      logic take, issue;
      logic [OUT_W-1:0] res;
      logic wr;
      assign issue = act & (~v | take);
      assign s_re[gl] = issue;
      assign s_rrow[gl*16+:16] = base + n;
      assign s_rcol[gl*16+:16] = j;
      always_ff @(posedge clk) begin
        if (rst) begin
          act <= 1'b0;
          v <= 1'b0;
        end else if (start) begin
          act <= (model.tokens != 16'd0) && (int'(rows) > gl);
          n <= 16'(gl);
          j <= '0;
          v <= 1'b0;
        end else begin
          if (issue) begin
            v_last <= (j == ntok - 16'd1);
            v_row  <= base + n;
            if (j == ntok - 16'd1) begin
              j <= '0;
              n <= n + 16'(SL);
              if (int'(n) + SL >= int'(nrows)) act <= 1'b0;
            end else j <= j + 16'd1;
          end
          v <= issue | (v & ~take);
        end
      end
      softmax_lane #(
          .X_W(ACT_W),
          .XF_W(XF_W),
          .SHIFT_W(SH_W),
          .SIDE_W(SD_W)
      ) sm (
          .ap_clk(clk),
          .ap_rst(rst),
          .ap_ce(1'b1),
          .in_dout({v_row, xf, v_last, s_rdata[gl*ACT_W+:ACT_W]}),
          .in_empty_n(v),
          .in_read(take),
          .out_din(res),
          .out_full_n(1'b1),
          .out_write(wr)
      );
      assign st_we[gl] = wr;
      assign st_wadd[gl] = 1'b0;
      assign st_wrow[gl*16+:16] = res[OUT_W-1-:SD_W];
      assign st_wcol[gl*16+:16] = '0;
      assign st_wdata[gl*STW+:STW] = res[STW-1:0];
    end
  endgenerate
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
