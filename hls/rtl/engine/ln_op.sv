// The LayerNorm operator of the engine (hls/src/edgemoe_layers.cpp
// layernorm_rows): h[r] = LN(x[row0 + r]) for r = 0 .. rows - 1, D = model.dim
// values per row, through one layernorm_rt (LL values per beat).
//
// With src_io = 1 (LayerNorm 1 streamed from io_x, layernorm_rows_io) row r
// is read from the io image instead: ceil(D / APW) beats (APW = 128 / ACT_W
// words each, the export's row layout) from io beat model.io_x + (row0 + r)
// * ceil(D / APW), and the x buffer is not read.
//
// A call (start, its arguments sampled that cycle; done pulses one cycle after
// the last h word is written):
//   1. gamma and beta (D 16-bit words each, eight per beat, the export's
//      pack_rows layout) are read from the params image: one request of
//      ceil(D / 8) beats from g_off, then one from b_off, on the gmem_io read
//      client (rd_req_*: beats from the params base, rd_req_io = 0). Their
//      beats arrive in request order and are always taken (rd_ready = 1:
//      the client never asks for more than it has room for).
//   2. Every row is read from the x buffer, LL words per cycle (x_re per
//      lane, lanes past D not read; ebuf timing: data the cycle after the
//      address, held while re is low), or, with src_io, from one of NS local
//      row slots that the io rows stream into (one request per row, issued
//      only for a free slot: row r + NS is asked for once row r is read out,
//      so every returned beat is taken); paired with its gamma and beta and
//      the call's configuration (x_frac; the fraction counts of g_fmt and
//      b_fmt, bits 15:8; eps; z_fmt and o_fmt, bits 21:0) and fed to
//      layernorm_rt; a read is issued only when the word of the previous one
//      is taken (or none is waiting), so the buffer's held data is the skid.
//   3. layernorm_rt's output beats are written to h rows 0 .. rows - 1
//      (h_we per lane, lanes past D not written, h_wadd = 0), the low ACT_W
//      bits of each y (the output format is at most ACT_W bits wide).
// Rows stream back to back (row II = ceil(D / LL) beats) once gamma and beta
// are in; a call costs about 2 ceil(D / 8) + DDR latency + rows ceil(D / LL)
// + the unit's latency (LN_LATENCY of layernorm_rt) cycles.
//
// gamma, beta and the io row slots are held as word arrays (behavioural, like
// ebuf: the synthesis banking is the resource model's).
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module ln_op #(
    // activation word width (x and h words)
    parameter int ACT_W = 16,
    // LayerNorm lanes: values per cycle
    parameter int LL    = 4,
    // longest row (the model dimension's synthesis maximum)
    parameter int MAX_D = 64
) (
    input  wire                        clk,
    input  wire                        rst,
    input  engine_pkg::model_t         model,
    input  wire                        start,
    input  wire                        src_io,
    input  wire  [               15:0] row0,
    input  wire  [               15:0] rows,
    input  wire signed [            9:0] x_frac,
    input  wire  [               31:0] g_off,
    input  wire  [               31:0] b_off,
    input  wire  [               31:0] g_fmt,
    input  wire  [               31:0] b_fmt,
    input  wire  [               31:0] z_fmt,
    input  wire  [               31:0] o_fmt,
    input  wire  [               31:0] eps,
    output logic                       done,
    // gmem_io read client: beats from the params (io = 0) or io (io = 1) base
    output logic                       rd_req_valid,
    input  wire                        rd_req_ready,
    output logic                       rd_req_io,
    output logic [               31:0] rd_req_beat,
    output logic [               31:0] rd_req_len,
    input  wire                        rd_valid,
    output logic                       rd_ready,
    input  wire  [              127:0] rd_data,
    // x buffer reads (ebuf)
    output logic [             LL-1:0] x_re,
    output logic [          LL*16-1:0] x_rrow,
    output logic [          LL*16-1:0] x_rcol,
    input  wire  [       LL*ACT_W-1:0] x_rdata,
    // h buffer writes (ebuf)
    output logic [             LL-1:0] h_we,
    output logic [             LL-1:0] h_wadd,
    output logic [          LL*16-1:0] h_wrow,
    output logic [          LL*16-1:0] h_wcol,
    output logic [       LL*ACT_W-1:0] h_wdata
);
  import engine_pkg::*;  // (Icarus 11 elaborates the package's types only when imported)
  localparam int DW = $clog2(MAX_D + 1);
  localparam int NB8 = (MAX_D + 7) / 8;  // parameter beats of the longest vector
  localparam int XF_W = 10;
  localparam int GF_W = 8;
  localparam int EPS_W = 32;
  localparam int CFGW = 44 + EPS_W + 2 * GF_W + XF_W + DW;
  localparam int INW = CFGW + LL * (ACT_W + 16 + 16);
  localparam int APW = 128 / ACT_W;  // words per io beat
  localparam int NS = 4;  // io row slots
  localparam int RWORDS = ((MAX_D + APW - 1) / APW) * APW;  // words of one io row slot

  initial begin
    if ((ACT_W != 16 && ACT_W != 32) || LL < 1 || LL > 64 || MAX_D < 1 || MAX_D > 32767) begin
      $error("ln_op: ACT_W = %0d (16 or 32), LL = %0d (1..64), MAX_D = %0d (1..32767) (%m)",
             ACT_W, LL, MAX_D);
      $finish;
    end
  end

  typedef enum logic [2:0] {
    IDLE,
    G_REQ,
    B_REQ,
    RUN
  } state_t;
  state_t st;

  // the call's arguments
  logic [15:0] d, nrows, r0;
  logic [31:0] goff, boff, iox;
  logic io;
  logic [CFGW-1:0] cfg;
  wire [15:0] nb = (d + 16'd7) >> 3;  // beats of one parameter vector

  // ------------------------------------------------------ gamma and beta
  logic [15:0] g_mem[NB8*8];
  logic [15:0] b_mem[NB8*8];
  logic [16:0] rcv;  // parameter beats received
  wire loaded = rcv == {nb, 1'b0};
  wire [16:0] bsel = (rcv < {1'b0, nb}) ? rcv : rcv - {1'b0, nb};
  logic [15:0] ir, ik;  // next x read: row, first column
  // io rows: requests and arrivals
  wire [15:0] stride = 16'((32'(d) + 32'(APW) - 1) / 32'(APW));  // io beats of one row
  logic [15:0] rq, rrow, rbeat;  // next row to ask for; row and beat arriving
  wire row_req = (st == RUN) && io && (rq != nrows) && (32'(rq) < 32'(ir) + 32'(NS));
  assign rd_ready = 1'b1;
  assign rd_req_valid = (st == G_REQ) || (st == B_REQ) || row_req;
  assign rd_req_io = (st == RUN);
  always_comb begin
    rd_req_len = {16'd0, nb};
    rd_req_beat = goff;
    if (st == B_REQ) rd_req_beat = boff;
    if (st == RUN) begin
      rd_req_len = {16'd0, stride};
      rd_req_beat = iox + 32'(r0 + rq) * 32'(stride);
    end
  end
  logic [ACT_W-1:0] s_mem[NS*RWORDS];
  wire row_beat = rd_valid && loaded && (st == RUN);
  always_ff @(posedge clk)
    if (row_beat)
      for (int i = 0; i < APW; i++)
        if (int'(rbeat) * APW + i < RWORDS)
          s_mem[(int'(rrow) % NS)*RWORDS+int'(rbeat)*APW+i] <= rd_data[i*ACT_W+:ACT_W];
  always_ff @(posedge clk)
    if (rd_valid && (st != IDLE) && !loaded)
      for (int i = 0; i < 8; i++)
        if (int'(bsel) * 8 + i < NB8 * 8) begin
          if (rcv < {1'b0, nb}) g_mem[int'(bsel)*8+i] <= rd_data[i*16+:16];
          else b_mem[int'(bsel)*8+i] <= rd_data[i*16+:16];
        end

  // ---------------------------------------------------- x reads -> layernorm_rt
  logic v1;  // a beat waits at the unit's input (x data held by the buffer)
  logic signed [15:0] g1[LL];
  logic signed [15:0] b1[LL];
  logic [ACT_W-1:0] xs1[LL];  // io source: the words from the row slot
  logic ln_read;
  wire want = (st == RUN) && loaded && (ir != nrows) && (!io || ir != rrow);
  wire issue = want && (!v1 || ln_read);
  always_comb
    for (int j = 0; j < LL; j++) begin
      x_re[j] = issue && !io && (ik + 16'(j) < d);
      x_rrow[j*16+:16] = r0 + ir;
      x_rcol[j*16+:16] = ik + 16'(j);
    end
  always_ff @(posedge clk) begin
    if (rst) v1 <= 1'b0;
    else if (issue) v1 <= 1'b1;
    else if (ln_read) v1 <= 1'b0;
    if (issue)
      for (int j = 0; j < LL; j++) begin
        g1[j] <= (ik + 16'(j) < d) ? g_mem[int'(ik)+j] : '0;
        b1[j] <= (ik + 16'(j) < d) ? b_mem[int'(ik)+j] : '0;
        xs1[j] <= (ik + 16'(j) < d) ? s_mem[(int'(ir) % NS)*RWORDS+int'(ik)+j] : '0;
      end
  end
  logic [INW-1:0] ln_in;
  always_comb begin
    ln_in[INW-1-:CFGW] = cfg;
    for (int j = 0; j < LL; j++) begin
      ln_in[j*ACT_W+:ACT_W] = io ? xs1[j] : x_rdata[j*ACT_W+:ACT_W];
      ln_in[LL*ACT_W+j*16+:16] = g1[j];
      ln_in[LL*(ACT_W+16)+j*16+:16] = b1[j];
    end
  end
  logic [LL*ACT_W:0] ln_out;
  logic ln_write;
  layernorm_rt #(
      .LANES(LL),
      .MAX_D(MAX_D),
      .X_W(ACT_W),
      .XF_W(XF_W),
      .G_W(16),
      .B_W(16),
      .GF_W(GF_W),
      .Z_W(32),
      .OUT_W(ACT_W),
      .EPS_W(EPS_W),
      .BSH_MAX(32),
      .SHIFT_W(9),
      .DW(DW)
  ) unit (
      .ap_clk(clk),
      .ap_rst(rst),
      .ap_ce(1'b1),
      .in_dout(ln_in),
      .in_empty_n(v1),
      .in_read(ln_read),
      .out_din(ln_out),
      .out_full_n(1'b1),
      .out_write(ln_write)
  );

  // ------------------------------------------------------------ h writes
  logic [15:0] orow, ok;  // next output beat: h row, first column
  always_ff @(posedge clk) begin
    h_we <= '0;
    if (ln_write)
      for (int j = 0; j < LL; j++) begin
        h_we[j] <= (ok + 16'(j)) < d;
        h_wrow[j*16+:16] <= orow;
        h_wcol[j*16+:16] <= ok + 16'(j);
        h_wdata[j*ACT_W+:ACT_W] <= ln_out[j*ACT_W+:ACT_W];
      end
    if (rst) h_we <= '0;
  end
  assign h_wadd = '0;

  // ------------------------------------------------------------ control
  always_ff @(posedge clk) begin
    done <= 1'b0;
    if (rst) begin
      st <= IDLE;
      rcv <= '0;
    end else begin
      if (rd_valid && (st != IDLE) && !loaded) rcv <= rcv + 1'b1;
      case (st)
        IDLE:
        if (start) begin
          d <= model.dim;
          nrows <= rows;
          r0 <= row0;
          goff <= g_off;
          iox <= model.io_x;
          io <= src_io;
          rq <= '0;
          rrow <= '0;
          rbeat <= '0;
          boff <= b_off;
          cfg <= {o_fmt[21:0], z_fmt[21:0], eps, b_fmt[15:8], g_fmt[15:8], x_frac, DW'(model.dim)};
          rcv <= '0;
          ir <= '0;
          ik <= '0;
          orow <= '0;
          ok <= '0;
          st <= G_REQ;
        end
        G_REQ: if (rd_req_ready) st <= B_REQ;
        B_REQ: if (rd_req_ready) st <= RUN;
        RUN: begin
          if (row_req && rd_req_ready) rq <= rq + 1'b1;
          if (row_beat) begin
            if (rbeat + 1'b1 == stride) begin
              rbeat <= '0;
              rrow <= rrow + 1'b1;
            end else rbeat <= rbeat + 1'b1;
          end
          if (issue) begin
            if (ik + 16'(LL) >= d) begin
              ik <= '0;
              ir <= ir + 1'b1;
            end else ik <= ik + 16'(LL);
          end
          if (ln_write) begin
            if (ln_out[LL*ACT_W]) begin
              ok <= '0;
              orow <= orow + 1'b1;
            end else ok <= ok + 16'(LL);
          end
          // every row written (the last write is in h_we this cycle)
          if (loaded && orow == nrows && !ln_write) begin
            done <= 1'b1;
            st <= IDLE;
          end
        end
        default: st <= IDLE;
      endcase
    end
  end
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
