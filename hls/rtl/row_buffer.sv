// Two-bank row buffer between the ingest and output sides of a row unit
// (softmax_row, layernorm_row).
//
// The ingest side writes a row of N entries into one bank while the output
// side reads the previous row from the other, so that row r+1 streams in
// while row r streams out. A bank is
//   busy  from its row's first write until the read of its last entry is
//         issued: a new row may not start in a busy bank (wr_ok low);
//   ready from its statistics write (st_en) until that same read: the output
//         side reads a bank only when the statistics of its row are final.
// Two side words per bank travel with the entries: the head, sampled with
// the row's last write (e.g. the row max), and the statistics, written once
// the unit has computed them from the whole row (e.g. 1/sum). Every issued
// read returns the entry with its bank's head and statistics and a last flag
// one cycle later (a registered read: block RAM with one write and one read
// port). rd_ce is the enable of the output pipeline: a read is issued in
// every cycle with rd_ce while the bank being read is ready.
`default_nettype none

module row_buffer #(
    // entries per row
    parameter int N      = 64,
    // bits per entry
    parameter int W      = 16,
    // bits of the head word (sampled with the row's last entry)
    parameter int HEAD_W = 1,
    // bits of the statistics word (written when the row's statistics are final)
    parameter int STAT_W = 1
) (
    input  wire               clk,
    input  wire               rst,
    // ingest: a write (wr_en, only while wr_ok) stores wr_data as the next entry
    output logic              wr_ok,
    input  wire               wr_en,
    input  wire  [     W-1:0] wr_data,
    input  wire  [HEAD_W-1:0] wr_head,
    output logic              wr_first,
    output logic              wr_last,
    output logic              wr_bank,
    // statistics: bank st_bank becomes ready with st_data
    input  wire               st_en,
    input  wire               st_bank,
    input  wire  [STAT_W-1:0] st_data,
    // output: reads issued while rd_ce; rd_* hold the entry read one cycle before
    input  wire               rd_ce,
    output logic              rd_vld,
    output logic [     W-1:0] rd_data,
    output logic [HEAD_W-1:0] rd_head,
    output logic [STAT_W-1:0] rd_stat,
    output logic              rd_last
);
  localparam int IW = (N > 1) ? $clog2(N) : 1;
  localparam int AW = IW + 1;  // address: bank b holds entries b*N .. b*N+N-1
  localparam logic [AW-1:0] NB = AW'(N);

  initial begin
    if (N < 1 || W < 1 || HEAD_W < 1 || STAT_W < 1) begin
      $error("row_buffer: N = %0d, W = %0d, HEAD_W = %0d, STAT_W = %0d must be at least 1 (instance %m)",
             N, W, HEAD_W, STAT_W);
      $finish;
    end
  end

  logic [W-1:0] mem[2*N];
  logic [HEAD_W-1:0] head[2];
  logic [STAT_W-1:0] stat[2];
  logic [1:0] busy, ready;
  logic [IW-1:0] widx, ridx;
  logic rbank, issue, rlast;

  // ------------------------------------------------------------------ ingest
  assign wr_first = widx == '0;
  assign wr_last  = widx == IW'(N - 1);
  assign wr_ok    = ~wr_first | ~busy[wr_bank];
  always_ff @(posedge clk) begin
    if (rst) begin
      wr_bank <= 1'b0;
      widx    <= '0;
    end else if (wr_en) begin
      if (wr_last) begin
        widx    <= '0;
        wr_bank <= ~wr_bank;
      end else widx <= widx + 1'b1;
    end
  end
  always_ff @(posedge clk) begin
    if (wr_en) begin
      mem[(wr_bank ? NB : '0)+AW'(widx)] <= wr_data;
      if (wr_last) head[wr_bank] <= wr_head;
    end
    if (st_en) stat[st_bank] <= st_data;
  end

  // ------------------------------------------------------------------ output
  assign issue = rd_ce & ready[rbank];
  assign rlast = ridx == IW'(N - 1);
  always_ff @(posedge clk) begin
    if (rst) begin
      rbank  <= 1'b0;
      ridx   <= '0;
      rd_vld <= 1'b0;
    end else if (rd_ce) begin
      rd_vld <= issue;
      if (issue) begin
        if (rlast) begin
          ridx  <= '0;
          rbank <= ~rbank;
        end else ridx <= ridx + 1'b1;
      end
    end
  end
  always_ff @(posedge clk) begin
    if (issue) begin
      rd_data <= mem[(rbank ? NB : '0)+AW'(ridx)];
      rd_head <= head[rbank];
      rd_stat <= stat[rbank];
      rd_last <= rlast;
    end
  end

  // ------------------------------------------------------------- bank state
  always_ff @(posedge clk) begin
    if (rst) begin
      busy  <= '0;
      ready <= '0;
    end else begin
      for (int b = 0; b < 2; b++) begin
        if (issue && rlast && rbank == 1'(b)) begin
          busy[b]  <= 1'b0;
          ready[b] <= 1'b0;
        end else begin
          if (wr_en && wr_first && wr_bank == 1'(b)) busy[b] <= 1'b1;
          if (st_en && st_bank == 1'(b)) ready[b] <= 1'b1;
        end
      end
    end
  end
endmodule

`default_nettype wire
