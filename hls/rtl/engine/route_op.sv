// The router operator of the engine (hls/src/edgemoe_layers.cpp moe_route and
// build_queues): for every token row r = 0 .. rows - 1 of the router-logit
// buffer, top-k of its model.experts logits (ties to the lower index) and the
// gates (online softmax over all experts into the gate format, renormalised
// when model.renorm is set), through RL router_rt lanes; then the per-expert
// queues, a stable counting sort: expert-major, tokens in increasing order
// within each queue (pymodel.numerics.forward FixedArith.route and
// ExpertQueues.of).
//
// Layout (the datapath's buffers): logit of token r, expert j is word (r, j)
// of the router-logit buffer; queue entry i is word (i, 0) of the queue buffer
// as {gate[GW], token row[16]} (the word lin_unit's mi_* and lin_epi's em_*
// ports read), expert e's entries are q_start[e] .. q_start[e] + q_count[e] -
// 1 (the sequencer's map0 and job rows). q_count[e] is 0 and q_start[e] the
// total entry count (rows * top_k) for e >= model.experts. Both hold from
// done until the next start.
//
// Lane l takes tokens l, l + RL, l + 2 RL, ... and reads one logit per cycle
// through its own logit-buffer read port (ebuf timing: data the cycle after
// the address, held while re is low; the buffer's output register is the
// lane's input FIFO of depth one, as in sm_op), except for router_rt's stall
// of SM_RESCALE_LAT - 1 cycles after every logit that raises a token's
// running max. Each lane's results (in its token order) go into a local
// route table (idx and gate per token and slot) and the queue counts. When
// every token is routed, one cycle forms q_start (the prefix sums), then the
// placement writes one token per cycle: its top_k entries through write
// ports 0 .. top_k - 1 (mq_wadd = 0, mq_wcol = 0; a token's experts differ,
// so two ports never write one word).
//
// A call (start, its arguments and the model fields experts, top_k, renorm
// sampled that cycle; done pulses one cycle after the last queue write):
// the slowest lane's sum of (experts + 2 U) cycles over its tokens (U: a
// token's running-max updates), plus one read cycle and router_rt's latency,
// then rows + 3 cycles (the last count, the prefix sums, one placement cycle
// per token, done). rows = 0 or model.experts = 0 (which the descriptor check
// refuses) writes nothing, sets every count to 0 and pulses done four cycles
// after start. rows must not exceed TB, top_k must be 1 .. min(experts,
// MAX_TOPK) and experts at most MAX_E (the descriptor check's bounds).
`default_nettype none
// Unused bits of the model record and of the gate format word are expected here.
/* verilator lint_off UNUSEDSIGNAL */  // file

module route_op #(
    // activation word width (a logit word)
    parameter int ACT_W    = 16,
    // router lanes: tokens in parallel
    parameter int RL       = 2,
    // experts at most (the logit buffer's columns)
    parameter int MAX_E    = 16,
    // top-k at most (the queue buffer's write ports)
    parameter int MAX_TOPK = 2,
    // token rows per block (the logit buffer's rows; TB * MAX_TOPK queue entries)
    parameter int TB       = 64,
    // bits of a gate (prob_t)
    parameter int GW       = 32
) (
    input  wire                                clk,
    input  wire                                rst,
    input  engine_pkg::model_t                 model,
    input  wire                                start,
    input  wire  [                       15:0] rows,
    input  wire  signed [                  9:0] lfrac,
    input  wire  [                       31:0] gfmt,
    output logic                               done,
    // router-logit buffer reads (ebuf)
    output logic [                     RL-1:0] g_re,
    output logic [                  RL*16-1:0] g_rrow,
    output logic [                  RL*16-1:0] g_rcol,
    input  wire  [               RL*ACT_W-1:0] g_rdata,
    // queue buffer writes (ebuf): {gate, token row}
    output logic [               MAX_TOPK-1:0] mq_we,
    output logic [               MAX_TOPK-1:0] mq_wadd,
    output logic [            MAX_TOPK*16-1:0] mq_wrow,
    output logic [            MAX_TOPK*16-1:0] mq_wcol,
    output logic [     MAX_TOPK*(GW+16)-1:0] mq_wdata,
    // the queues: entries and first entry per expert
    output logic [               MAX_E*16-1:0] q_count,
    output logic [               MAX_E*16-1:0] q_start
);
  import engine_pkg::*;  // (Icarus 11 elaborates the package's types only when imported)
  localparam int IW = (MAX_E > 1) ? $clog2(MAX_E) : 1;  // expert index bits
  localparam int KW = $clog2(MAX_TOPK + 1);
  localparam int LF_W = 10;  // logit fraction count (the descriptor's format field)
  localparam int MQW = GW + 16;
  localparam int RW = MAX_TOPK * (GW + IW);  // a router_rt result {gate[], idx[]}
  localparam int NE = TB * MAX_TOPK;  // route table entries
  localparam int NW = $clog2(RL * MAX_TOPK + 1);  // queue counts added per cycle

  initial begin
    if ((ACT_W != 16 && ACT_W != 32) || RL < 1 || RL > 64 || MAX_E < 1 || MAX_E > 256 ||
        MAX_TOPK < 1 || MAX_TOPK > MAX_E || TB < 1 || NE > 65535 || GW < 2 || GW > 62) begin
      $error("route_op: ACT_W = %0d (16 or 32), RL = %0d (1..64), MAX_E = %0d (1..256), MAX_TOPK = %0d (1..MAX_E), TB = %0d (TB * MAX_TOPK < 65536), GW = %0d (2..62) (%m)",
             ACT_W, RL, MAX_E, MAX_TOPK, TB, GW);
      $finish;
    end
  end

  // the call's arguments
  typedef enum logic [1:0] {
    S_IDLE,
    S_ROUTE,
    S_SCAN,
    S_PLACE
  } state_t;
  state_t st;
  logic [15:0] nrows, nexp, routed, pr;
  logic [KW-1:0] ktop;
  logic renorm;
  logic signed [LF_W-1:0] lf;
  logic [21:0] gf;

  // the lanes' results this cycle
  logic [RL-1:0] lw;
  logic [RL*16-1:0] ltok;
  logic [RL*RW-1:0] lres;

  genvar gl;
  generate
    for (gl = 0; gl < RL; gl++) begin : lane
      // the next read: token n, expert j (act: the lane has logits left to read)
      logic act;
      logic [15:0] n, j, otok;
      // the word in the buffer's output register: valid, last of its token
      logic v, v_last;
      logic take, issue, wr;
      logic [RW-1:0] res;
      assign issue = act & (~v | take);
      assign g_re[gl] = issue;
      assign g_rrow[gl*16+:16] = n;
      assign g_rcol[gl*16+:16] = j;
      always_ff @(posedge clk) begin
        if (rst) begin
          act <= 1'b0;
          v <= 1'b0;
        end else if (start) begin
          act <= (model.experts != 16'd0) && (int'(rows) > gl);
          n <= 16'(gl);
          j <= '0;
          v <= 1'b0;
          otok <= 16'(gl);
        end else begin
          if (issue) begin
            v_last <= (j == nexp - 16'd1);
            if (j == nexp - 16'd1) begin
              j <= '0;
              n <= n + 16'(RL);
              if (int'(n) + RL >= int'(nrows)) act <= 1'b0;
            end else j <= j + 16'd1;
          end
          v <= issue | (v & ~take);
          if (wr) otok <= otok + 16'(RL);
        end
      end
      router_rt #(
          .L_W(ACT_W),
          .LF_W(LF_W),
          .K_MAX(MAX_TOPK),
          .OUT_W(GW),
          .IW(IW),
          .SHIFT_W(10)
      ) rr (
          .ap_clk(clk),
          .ap_rst(rst),
          .ap_ce(1'b1),
          .in_dout({renorm, ktop, gf, lf, v_last, g_rdata[gl*ACT_W+:ACT_W]}),
          .in_empty_n(v),
          .in_read(take),
          .out_din(res),
          .out_full_n(1'b1),
          .out_write(wr)
      );
      assign lw[gl] = wr;
      assign ltok[gl*16+:16] = otok;
      assign lres[gl*RW+:RW] = res;
    end
  endgenerate

  // route table, counts, fill pointers, starts
  logic [IW-1:0] ridx[NE];
  logic [GW-1:0] rgate[NE];
  logic [15:0] cnt[MAX_E], fill[MAX_E], qs[MAX_E], pre[MAX_E];
  logic [NW-1:0] cinc[MAX_E];
  logic [NW-1:0] ndone;  // tokens routed this cycle (at most RL)
  always_comb begin
    ndone = '0;
    for (int l = 0; l < RL; l++) ndone = ndone + NW'(lw[l]);
    for (int e = 0; e < MAX_E; e++) begin
      cinc[e] = '0;
      for (int l = 0; l < RL; l++)
        for (int s = 0; s < MAX_TOPK; s++)
          if (lw[l] && KW'(s) < ktop && int'(lres[l*RW+s*IW+:IW]) == e) cinc[e] = cinc[e] + 1'b1;
    end
    pre[0] = '0;
    for (int e = 1; e < MAX_E; e++) pre[e] = pre[e-1] + cnt[e-1];
    for (int e = 0; e < MAX_E; e++) begin
      q_count[e*16+:16] = cnt[e];
      q_start[e*16+:16] = qs[e];
    end
  end

  always_ff @(posedge clk) begin
    done <= 1'b0;
    mq_we <= '0;
    if (rst) begin
      st <= S_IDLE;
      for (int e = 0; e < MAX_E; e++) begin
        cnt[e] <= '0;
        qs[e]  <= '0;
      end
    end else if (start) begin
      st <= S_ROUTE;
      nrows <= (model.experts == 16'd0) ? 16'd0 : rows;
      nexp <= model.experts;
      ktop <= KW'(model.top_k);
      renorm <= model.renorm != 16'd0;
      lf <= lfrac;
      gf <= gfmt[21:0];
      routed <= '0;
      for (int e = 0; e < MAX_E; e++) cnt[e] <= '0;
    end else begin
      case (st)
        S_ROUTE: begin
          for (int l = 0; l < RL; l++)
            if (lw[l])
              for (int s = 0; s < MAX_TOPK; s++) begin
                ridx[int'(ltok[l*16+:16])*MAX_TOPK+s] <= lres[l*RW+s*IW+:IW];
                rgate[int'(ltok[l*16+:16])*MAX_TOPK+s] <= lres[l*RW+MAX_TOPK*IW+s*GW+:GW];
              end
          for (int e = 0; e < MAX_E; e++) cnt[e] <= cnt[e] + 16'(cinc[e]);
          routed <= routed + 16'(ndone);
          if (routed + 16'(ndone) == nrows) st <= S_SCAN;
        end
        S_SCAN: begin
          for (int e = 0; e < MAX_E; e++) begin
            qs[e]   <= pre[e];  // the total for e >= experts (their counts are 0)
            fill[e] <= '0;
          end
          pr <= '0;
          st <= S_PLACE;
        end
        S_PLACE:
        if (pr == nrows) begin
          done <= 1'b1;
          st   <= S_IDLE;
        end else begin
          for (int s = 0; s < MAX_TOPK; s++)
            if (KW'(s) < ktop) begin
              mq_we[s] <= 1'b1;
              mq_wrow[s*16+:16] <= qs[ridx[int'(pr)*MAX_TOPK+s]] + fill[ridx[int'(pr)*MAX_TOPK+s]];
              mq_wdata[s*MQW+:MQW] <= {rgate[int'(pr)*MAX_TOPK+s], pr};
              fill[ridx[int'(pr)*MAX_TOPK+s]] <= fill[ridx[int'(pr)*MAX_TOPK+s]] + 16'd1;
            end
          pr <= pr + 16'd1;
        end
        default: ;
      endcase
    end
  end
  assign mq_wadd = '0;
  assign mq_wcol = '0;
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
