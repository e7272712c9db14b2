// The bias streamer of a job list (edgemoe_linear.cpp stream_biases): every
// job's bias vector (16-bit words, eight per beat, from params beat b_off), in
// job order, into a FIFO the compute side empties at the start of each job.
// Requests are at most CHUNK beats and issued only when the FIFO has room for
// them (the shared gmem_io read path never stalls on this client).
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module lin_bias #(
    // FIFO beats
    parameter int DEPTH = 256,
    // longest request in beats
    parameter int CHUNK = 64
) (
    input  wire                        clk,
    input  wire                        rst,
    input  wire                        list_start,
    input  wire  [                7:0] n_jobs,
    output logic [                7:0] job_idx,
    input  engine_pkg::job_t           job,
    // gmem_io read requests: params beat and length
    output logic                       req_valid,
    input  wire                        req_ready,
    output logic [               31:0] req_beat,
    output logic [               31:0] req_len,
    input  wire                        rd_valid,
    output logic                       rd_ready,
    input  wire  [              127:0] rd_data,
    output logic                       out_valid,
    input  wire                        out_ready,
    output logic [              127:0] out_data
);
  localparam int CW = $clog2(DEPTH + 1);
  initial begin
    if (CHUNK < 1 || DEPTH < CHUNK) begin
      $error("lin_bias: CHUNK = %0d must be in 1..DEPTH = %0d (%m)", CHUNK, DEPTH);
      $finish;
    end
  end


  typedef enum logic [1:0] {
    IDLE,
    JOB,
    REQ
  } state_t;
  state_t st;

  logic [7:0] n;
  logic [31:0] addr, left;
  logic [CW:0] reserved;
  logic [CW-1:0] count;
  wire [31:0] len = (left > 32'(CHUNK)) ? 32'(CHUNK) : left;
  wire room = reserved + (CW + 1)'(len) <= (CW + 1)'(DEPTH);
  wire issue = (st == REQ) && (left != 0) && room && req_ready;
  wire fifo_pop = out_valid && out_ready;

  assign job_idx = n;
  assign req_valid = (st == REQ) && (left != 0) && room;
  assign req_beat = addr;
  assign req_len = len;

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
      reserved <= reserved + (issue ? (CW + 1)'(len) : '0) - ((CW + 1)'(fifo_pop));
      case (st)
        IDLE:
        if (list_start) begin
          n <= '0;
          st <= JOB;
        end
        JOB:
        if (n == n_jobs) st <= IDLE;
        else if (!job.bias) n <= n + 1'b1;
        else begin
          addr <= job.b_off;
          left <= 32'(engine_pkg::div_up(int'(job.out_features), 8));
          st <= REQ;
        end
        REQ:
        if (left == 0) begin
          n <= n + 1'b1;
          st <= JOB;
        end else if (issue) begin
          addr <= addr + len;
          left <= left - len;
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
