// One weight port's streamer (edgemoe_linear.cpp stream_port): for every job of
// a list that streams its weights from DDR, for every output tile, the rows of
// the tile this port carries (port p: rows [p * per, (p + 1) * per) of each
// tile of TOe rows, per = ceil(TOe / WEIGHT_PORTS)), one read request per row
// (row_beats beats from w_off + row * stride + w_col0_beats), into a FIFO of
// DEPTH beats. A request is issued only when the FIFO has room for all of its
// beats (requested and not yet taken), so the read data path never stalls and
// requests run ahead of the compute by up to DEPTH beats: the DDR latency is
// paid once per list, not per tile.
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module lin_wstream #(
    // this port's index
    parameter int P     = 0,
    // weight ports
    parameter int PORTS = 4,
    // DSP columns of the MAC array (TOe = TO, or 2 TO packed)
    parameter int TO    = 8,
    // FIFO beats
    parameter int DEPTH = 256
) (
    input  wire                        clk,
    input  wire                        rst,
    // the list: start pulse, its length, and a read port of the job registers
    input  wire                        list_start,
    input  wire  [                7:0] n_jobs,
    output logic [                7:0] job_idx,
    input  engine_pkg::job_t           job,
    // read requests: beat offset from this port's base address, length in beats
    output logic                       req_valid,
    input  wire                        req_ready,
    output logic [               31:0] req_beat,
    output logic [               31:0] req_len,
    // read data, in request order
    input  wire                        rd_valid,
    output logic                       rd_ready,
    input  wire  [              127:0] rd_data,
    // the beats, to the tile fill
    output logic                       out_valid,
    input  wire                        out_ready,
    output logic [              127:0] out_data
);
  import engine_pkg::*;
  localparam int CW = $clog2(DEPTH + 1);
  initial begin
    if (PORTS < 1 || P < 0 || P >= PORTS || TO < 1 || DEPTH < 1) begin
      $error("lin_wstream: P = %0d, PORTS = %0d, TO = %0d, DEPTH = %0d out of range (%m)",
             P, PORTS, TO, DEPTH);
      $finish;
    end
  end


  typedef enum logic [1:0] {
    IDLE,
    JOB,
    TILE,
    ROW
  } state_t;
  state_t st;

  logic [7:0] n;
  logic [15:0] tiles, t, nrows, r, row_beats, per, toe;
  logic [31:0] stride, addr;
  logic [CW:0] reserved;  // beats requested and not yet taken from the FIFO
  logic [CW-1:0] count;

  wire fifo_pop = out_valid && out_ready;
  wire issue = (st == ROW) && (r != nrows) && req_ready &&
      (reserved + (CW + 1)'(row_beats) <= (CW + 1)'(DEPTH));

  assign job_idx = n;
  assign req_valid = (st == ROW) && (r != nrows) &&
      (reserved + (CW + 1)'(row_beats) <= (CW + 1)'(DEPTH));
  assign req_beat = addr;
  assign req_len = 32'(row_beats);

  sfifo #(
      .W(128),
      .DEPTH(DEPTH)
  ) fifo (
      .clk(clk),
      .rst(rst),
      .in_valid(rd_valid),
      .in_ready(rd_ready),
      .in_data(rd_data),
      .out_valid(out_valid),
      .out_ready(out_ready),
      .out_data(out_data),
      .count(count)
  );

  always_ff @(posedge clk) begin
    if (rst) begin
      st <= IDLE;
      reserved <= '0;
      n <= '0;
    end else begin
      reserved <= reserved + (issue ? (CW + 1)'(row_beats) : '0) - ((CW + 1)'(fifo_pop));
      case (st)
        IDLE:
        if (list_start) begin
          n <= '0;
          st <= JOB;
        end
        JOB:
        if (n == n_jobs) st <= IDLE;
        else if (job.w_src != WS_DDR) n <= n + 1'b1;
        else begin
          int te;
          int rb;
          te = packed_mode(job) ? 2 * TO : TO;
          rb = wrow_beats(int'(job.in_features) + int'(job.in_tail), int'(job.w_width));
          toe <= 16'(te);
          per <= 16'(div_up(te, PORTS));
          tiles <= 16'(div_up(int'(job.out_features), te));
          row_beats <= 16'(rb);
          stride <= (job.w_row_beats != 0) ? 32'(job.w_row_beats) : 32'(rb);
          t <= '0;
          st <= TILE;
        end
        TILE:
        if (t == tiles) begin
          n <= n + 1'b1;
          st <= JOB;
        end else begin
          int n0;
          int lim;
          int k;
          n0 = int'(t) * int'(toe) + P * int'(per);
          lim = int'(toe) - P * int'(per);
          k = int'(per);
          if (lim < k) k = lim;
          if (int'(job.out_features) - n0 < k) k = int'(job.out_features) - n0;
          if (k < 0) k = 0;
          nrows <= 16'(k);
          r <= '0;
          addr <= job.w_off + 32'(n0) * stride + 32'(job.w_col0_beats);
          st <= ROW;
        end
        ROW:
        if (r == nrows) begin
          t <= t + 1'b1;
          st <= TILE;
        end else if (issue) begin
          r <= r + 1'b1;
          addr <= addr + stride;
        end
        default: st <= IDLE;
      endcase
    end
  end

  logic unused;
  assign unused = ^count;
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
