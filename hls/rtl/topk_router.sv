// Router top-k over E logits (pymodel.numerics.hwmath.topk_fixed).
//
// Logits stream in index order, one per cycle. K slots hold the best logits
// so far, sorted by decreasing value; a new logit is inserted below every
// slot whose value is >= its own (so an equal, earlier logit stays ahead:
// ties go to the lower index) and the slots below it shift down by one. All
// K comparisons happen in parallel, so the insertion is a one-cycle loop and
// the unit takes one logit per cycle. After the E-th logit the K indices and
// values go to the output register (latency 1); the next row may stream in
// at once. Output word: {val[K-1], ..., val[0], idx[K-1], ..., idx[0]}, slot 0
// the largest. Ports: Vitis ap_fifo protocol (see exp_unit.sv).
`default_nettype none

module topk_router #(
    // logits per row (experts)
    parameter int E   = 16,
    // experts selected per row
    parameter int K   = 2,
    // bits of a logit (signed)
    parameter int L_W = 16,
    // bits of an expert index
    parameter int IW  = (E > 1) ? $clog2(E) : 1
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [L_W-1:0] in_dout,
    input  wire            in_empty_n,
    output logic           in_read,

    output logic [K*(L_W+IW)-1:0] out_din,
    input  wire                   out_full_n,
    output logic                  out_write
);
  initial begin
    if (E < 2 || K < 1 || K > E || IW < $clog2(E)) begin
      $error("topk_router: E = %0d, K = %0d, IW = %0d: need 1 <= K <= E, E >= 2, 2**IW >= E (instance %m)",
             E, K, IW);
      $finish;
    end
  end

  logic signed [L_W-1:0] val[K];
  logic [IW-1:0] idx[K];
  logic [K-1:0] vld;
  logic [IW-1:0] cnt;
  logic o_vld;
  logic signed [L_W-1:0] x;
  logic first, last, take;
  assign x = in_dout;
  assign first = cnt == '0;
  assign last = cnt == IW'(E - 1);
  // the row's last logit needs the output register free (or leaving now)
  assign in_read = ap_ce & in_empty_n & (~last | ~o_vld | out_full_n);
  assign take = in_read;
  assign out_write = ap_ce & o_vld & out_full_n;

  // slots after inserting x (the first logit of a row sees empty slots)
  logic [K-1:0] ahead;  // slot j keeps its place
  logic signed [L_W-1:0] nval[K];
  logic [IW-1:0] nidx[K];
  logic [K-1:0] nvld;
  always_comb begin
    for (int j = 0; j < K; j++) ahead[j] = vld[j] & ~first & (val[j] >= x);
    for (int j = 0; j < K; j++) begin
      if (ahead[j]) begin
        nval[j] = val[j];
        nidx[j] = idx[j];
        nvld[j] = 1'b1;
      end else if (j == 0 || ahead[(j>0)?j-1:0]) begin
        nval[j] = x;
        nidx[j] = cnt;
        nvld[j] = 1'b1;
      end else begin  // shifted down from slot j-1
        nval[j] = val[(j>0)?j-1:0];
        nidx[j] = idx[(j>0)?j-1:0];
        nvld[j] = vld[(j>0)?j-1:0] & ~first;
      end
    end
  end
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      cnt   <= '0;
      vld   <= '0;
      o_vld <= 1'b0;
    end else begin
      if (out_write) o_vld <= 1'b0;
      if (take) begin
        for (int j = 0; j < K; j++) begin
          val[j] <= nval[j];
          idx[j] <= nidx[j];
        end
        vld <= nvld;
        if (last) begin
          cnt   <= '0;
          o_vld <= 1'b1;
          for (int j = 0; j < K; j++) begin
            out_din[j*IW+:IW] <= nidx[j];
            out_din[K*IW+j*L_W+:L_W] <= nval[j];
          end
        end else cnt <= cnt + 1'b1;
      end
    end
  end
endmodule

`default_nettype wire
