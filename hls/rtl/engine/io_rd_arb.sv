// The datapath's clients of the gmem_io read path (params and io share one
// AXI master, as in the HLS top): a round-robin arbiter over N request ports
// in front of the shell's single request stream, and the return of each
// request's beats (in request order, `last` on each request's last beat) to
// the client that asked. Clients only ask for beats they can take the cycle
// they arrive (their FIFOs have room), so the return path never blocks one
// client behind another. Addresses are beats from the params or io base.
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module io_rd_arb #(
    // clients
    parameter int N     = 4,
    // requests in flight (tag FIFO)
    parameter int DEPTH = 32
) (
    input  wire                clk,
    input  wire                rst,
    input  wire  [       63:0] params_addr,
    input  wire  [       63:0] io_addr,
    input  wire  [      N-1:0] c_req_valid,
    output logic [      N-1:0] c_req_ready,
    input  wire  [      N-1:0] c_req_io,
    input  wire  [   N*32-1:0] c_req_beat,
    input  wire  [   N*32-1:0] c_req_len,
    output logic [      N-1:0] c_rd_valid,
    input  wire  [      N-1:0] c_rd_ready,
    output logic [      127:0] c_rd_data,
    // the shell's gmem_io read port
    output logic               req_valid,
    input  wire                req_ready,
    output logic [       63:0] req_addr,
    output logic [       31:0] req_len,
    input  wire                rd_valid,
    output logic               rd_ready,
    input  wire  [      127:0] rd_data,
    input  wire                rd_last
);
  localparam int IW = (N > 1) ? $clog2(N) : 1;
  localparam int CW = $clog2(DEPTH + 1);
  initial begin
    if (N < 1 || DEPTH < 1) begin
      $error("io_rd_arb: N = %0d, DEPTH = %0d must be positive (%m)", N, DEPTH);
      $finish;
    end
  end


  logic [IW-1:0] rr, pick;
  logic any;
  always_comb begin
    any = 1'b0;
    pick = rr;
    for (int k = N - 1; k >= 0; k--) begin
      automatic int c = (int'(rr) + k) % N;
      if (c_req_valid[c]) begin
        any = 1'b1;
        pick = IW'(c);
      end
    end
  end

  logic tag_in_ready, tag_valid;
  logic [IW-1:0] tag;
  logic [CW-1:0] tag_count;
  // zero-length requests carry no beats: they are acknowledged and dropped
  wire [31:0] plen = c_req_len[int'(pick)*32+:32];
  wire fire = any && tag_in_ready && (plen == 0 || req_ready);

  always_comb begin
    c_req_ready = '0;
    if (fire) c_req_ready[pick] = 1'b1;
  end
  assign req_valid = any && tag_in_ready && plen != 0;
  assign req_addr = (c_req_io[pick] ? io_addr : params_addr) +
      {28'd0, c_req_beat[int'(pick)*32+:32], 4'd0};
  assign req_len = plen;

  always_ff @(posedge clk) begin
    if (rst) rr <= '0;
    else if (fire) rr <= IW'((int'(pick) + 1) % N);
  end

  sfifo #(
      .W(IW),
      .DEPTH(DEPTH)
  ) tags (
      .clk(clk),
      .rst(rst),
      .in_valid(fire && plen != 0),
      .in_ready(tag_in_ready),
      .in_data(pick),
      .out_valid(tag_valid),
      .out_ready(rd_valid && rd_ready && rd_last),
      .out_data(tag),
      .count(tag_count)
  );

  always_comb begin
    c_rd_valid = '0;
    if (tag_valid) c_rd_valid[tag] = rd_valid;
  end
  assign rd_ready = tag_valid && c_rd_ready[tag];
  assign c_rd_data = rd_data;

  logic unused;
  assign unused = ^tag_count;
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
