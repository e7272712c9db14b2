// The linear unit's epilogue (edgemoe_linear.cpp epilogue): the R x TOe exact
// sums of a row group -> bias and residual aligned into the sum, one
// requantisation, optional GELU, and the store into the job's sink, LANES
// outputs per cycle (EL; GL for a GELU job; AL into the accumulators). Groups
// queue in front (double-buffered sums), so a group's epilogue overlaps the
// next group's MAC cycles.
//
// Per lane, fixed stages: E0 element select and buffer reads (residual x,
// accumulator, expert queue entry); E1 the aligned sum (raw accumulator
// writes leave here); requant_rt (REQUANT_RT_LAT); GELU (GELU_RT_LAT, a delay
// line when the job has none); the store (the MoE scatter-add multiplies by
// the gate here and adds in the accumulator buffer).
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module lin_epi #(
    // activation bits
    parameter int ACT_W = 16,
    // exact accumulator bits
    parameter int ACC_W = 2 * ACT_W + 16,
    // MAC array rows
    parameter int R     = 4,
    // DSP columns of the MAC array
    parameter int TO    = 8,
    // lanes of the plain epilogue
    parameter int EL    = 64,
    // lanes of the GELU epilogue
    parameter int GL    = 16,
    // lanes of the accumulator epilogue
    parameter int AL    = 16,
    // query rows per score slot
    parameter int QB    = 48,
    // widest bias vector
    parameter int MAX_K = 1536,
    // probability / gate bits (prob_t)
    parameter int GW    = 32,
    // sink buffer row index bits
    parameter int RW    = 11,
    // sink buffer column index bits
    parameter int CW    = 11,
    // queue entry index bits
    parameter int EW    = 10
) (
    input  wire                   clk,
    input  wire                   rst,
    input  engine_pkg::job_t      job,
    // bias of the job (16-bit words)
    input  wire  [MAX_K*16-1:0]   bvec,
    // groups: sums and their first row / first output
    input  wire                   in_valid,
    output logic                  in_ready,
    input  wire  [R*2*TO*ACC_W-1:0] in_sums,
    input  wire  [15:0]           in_r0,
    input  wire  [15:0]           in_n0,
    output logic                  idle,
    // E0 reads: residual x, accumulators, queue entries (row of a token, gate)
    output logic [EL-1:0]         x_re,
    output logic [EL*RW-1:0]      x_row,
    output logic [EL*CW-1:0]      x_col,
    input  wire  [EL*ACT_W-1:0]   x_data,
    output logic [EL-1:0]         a_re,
    output logic [EL*RW-1:0]      a_row,
    output logic [EL*CW-1:0]      a_col,
    input  wire  [EL*ACC_W-1:0]   a_data,
    output logic [AL-1:0]         m_re,
    output logic [AL*EW-1:0]      m_idx,
    input  wire  [AL*16-1:0]      m_row,
    input  wire  [AL*GW-1:0]      m_gate,
    // stores: one per lane, to the buffer of `sink`
    output logic [EL-1:0]         y_we,
    output logic [3:0]            y_sink,
    output logic [EL-1:0]         y_add,
    output logic [EL*RW-1:0]      y_row,
    output logic [EL*CW-1:0]      y_col,
    output logic [EL*ACC_W-1:0]   y_data
);
  import engine_pkg::*;
  localparam int RQL = hwmath_pkg::REQUANT_RT_LAT;
  localparam int GLAT = hwmath_pkg::GELU_RT_LAT;
  localparam int SW = ACC_W + 2;  // the aligned sum (the check keeps it in ACC_W - 1 bits)
  localparam int NS = R * 2 * TO;

  initial begin
    if (EL < GL || EL < AL || EL < 1 || R * 2 * TO > 1024) begin
      $error("lin_epi: EL = %0d must be at least GL = %0d and AL = %0d (%m)", EL, GL, AL);
      $finish;
    end
  end

  // ------------------------------------------------------------ group control
  logic have;  // a group is being processed
  logic [NS*ACC_W-1:0] sums;
  logic [15:0] r0, n0, e0;
  wire [15:0] toe = packed_mode(job) ? 16'(2 * TO) : 16'(TO);
  wire [15:0] lanes = job.gelu ? 16'(GL) : acc_sink(job.y_sink) ? 16'(AL) : 16'(EL);
  wire [15:0] total = 16'(R) * toe;
  wire last_step = have && (e0 + lanes >= total);
  logic [7:0] inflight;  // cycles until the pipeline is empty

  assign in_ready = !have || last_step;
  assign idle = !have && (inflight == 0) && !in_valid;

  always_ff @(posedge clk) begin
    if (rst) begin
      have <= 1'b0;
      inflight <= '0;
    end else begin
      if (in_valid && in_ready) begin
        have <= 1'b1;
        sums <= in_sums;
        r0 <= in_r0;
        n0 <= in_n0;
        e0 <= '0;
      end else if (last_step) have <= 1'b0;
      else if (have) e0 <= e0 + lanes;
      inflight <= have ? 8'(3 + RQL + GLAT) : (inflight != 0 ? inflight - 1'b1 : 8'd0);
    end
  end

  // ------------------------------------------------------------------- E0
  logic [EL-1:0] v0;
  logic [15:0] r_of[EL], o_of[EL];
  always_comb begin
    m_re = '0;
    m_idx = '0;
    for (int l = 0; l < EL; l++) begin
      int e;
      int r;
      int o;
      int row;
      int n;
      e = int'(e0) + l;
      r = e / int'(toe);
      o = e - r * int'(toe);
      row = int'(job.y_row0) + int'(r0) + r;
      n = int'(n0) + o;
      v0[l] = have && (l < int'(lanes)) && (e < int'(total)) && (int'(r0) + r < int'(job.rows)) &&
          (n < int'(job.out_features));
      r_of[l] = 16'(r);
      o_of[l] = 16'(o);
      x_re[l] = v0[l] && job.residual;
      x_row[l*RW+:RW] = RW'(row);
      x_col[l*CW+:CW] = CW'(n);
      a_re[l] = v0[l] && job.acc_in;
      a_row[l*RW+:RW] = RW'(row);
      a_col[l*CW+:CW] = CW'(n);
      if (l < AL) begin
        m_re[l] = v0[l] && (job.y_sink == YS_ACC);
        m_idx[l*EW+:EW] = EW'(int'(job.map0) + int'(r0) + r);
      end
    end
  end

  // ------------------------------------------------------------------- E1
  logic [EL-1:0] v1;
  logic [15:0] r1[EL], n1[EL];
  logic signed [ACC_W-1:0] s1[EL];
  logic signed [15:0] b1[EL];
  always_ff @(posedge clk) begin
    for (int l = 0; l < EL; l++) begin
      v1[l] <= v0[l];
      r1[l] <= r0 + r_of[l];  // x row of the job (absolute within the job)
      n1[l] <= n0 + o_of[l];
      s1[l] <= $signed(sums[(int'(r_of[l]) * 2 * TO + int'(o_of[l])) * ACC_W+:ACC_W]);
      b1[l] <= $signed(bvec[(int'(n0) + int'(o_of[l])) * 16+:16]);
    end
  end
  wire signed [9:0] acc_frac = job.x_frac + job.w_frac;
  logic signed [SW-1:0] wide1[EL];
  always_comb begin
    for (int l = 0; l < EL; l++) begin
      logic signed [SW-1:0] a;
      a = SW'(s1[l]);
      if (job.acc_in) a = a + SW'($signed(a_data[l*ACC_W+:ACC_W]));
      if (job.bias) a = a + (SW'(b1[l]) <<< (acc_frac - job.b_frac));
      if (job.residual) a = a + (SW'($signed(x_data[l*ACT_W+:ACT_W])) <<< (acc_frac - job.r_frac));
      wide1[l] = a;
    end
  end

  // --------------------------------------------- requant_rt, GELU, side band
  localparam int DL = RQL + GLAT;  // E1 -> store
  logic [EL-1:0] vs;
  logic [15:0] rs[EL], ns[EL];
  logic [ACT_W-1:0] ys[EL];
  genvar gl;
  generate
    for (gl = 0; gl < EL; gl++) begin : lane
      logic [ACT_W-1:0] yq, yg, yd;
      logic ovf_q, ovf_g;
      requant_rt #(
          .IN_W(SW),
          .FRAC_W(10),
          .OUT_W(ACT_W),
          .LAT(RQL)
      ) rq (
          .clk(clk),
          .en(1'b1),
          .x(wide1[gl]),
          .x_frac(acc_frac),
          .fmt(job.y_fmt),
          .y(yq),
          .ovf(ovf_q)
      );
      if (gl < GL) begin : g
        gelu_rt #(
            .X_W(ACT_W),
            .XF_W(10),
            .XF_MAX(2 * ACT_W),
            .OUT_W(ACT_W)
        ) ge (
            .clk(clk),
            .en(1'b1),
            .x($signed(yq)),
            .x_frac(10'(fmt_decode_frac(job.y_fmt))),
            .fmt(job.g_fmt),
            .y(yg),
            .ovf(ovf_g)
        );
      end else begin : ng
        assign yg = '0;
        assign ovf_g = 1'b0;
      end
      delay #(
          .W(ACT_W),
          .LAT(GLAT)
      ) yd_line (
          .clk(clk),
          .en(1'b1),
          .d(yq),
          .q(yd)
      );
      delay #(
          .W(1 + 32),
          .LAT(DL)
      ) side (
          .clk(clk),
          .en(1'b1),
          .d({v1[gl], r1[gl], n1[gl]}),
          .q({vs[gl], rs[gl], ns[gl]})
      );
      assign ys[gl] = job.gelu ? yg : yd;
      logic unused;
      assign unused = ovf_q ^ ovf_g;
    end
  endgenerate

  function automatic logic signed [7:0] fmt_decode_frac(input logic [21:0] w);
    fmt_decode_frac = w[15:8];
  endfunction

  // Queue entries read at E0 arrive at E1; they wait for the store.
  logic [15:0] qrow[AL];
  logic [GW-1:0] qgate[AL];
  generate
    for (gl = 0; gl < AL; gl++) begin : qline
      delay #(
          .W(16 + GW),
          .LAT(DL)
      ) qd (
          .clk(clk),
          .en(1'b1),
          .d({m_row[gl*16+:16], m_gate[gl*GW+:GW]}),
          .q({qrow[gl], qgate[gl]})
      );
    end
  endgenerate

  // ------------------------------------------------------------------ stores
  wire raw = (job.y_sink == YS_ACC_SET) || (job.y_sink == YS_ACC_ADD);
  always_comb begin
    y_sink = job.y_sink;
    for (int l = 0; l < EL; l++) begin
      int row;
      int rr;
      row = int'(job.y_row0) + int'(rs[l]);
      rr = int'(job.y_row0) + int'(r1[l]);
      y_we[l] = 1'b0;
      y_add[l] = 1'b0;
      y_row[l*RW+:RW] = '0;
      y_col[l*CW+:CW] = '0;
      y_data[l*ACC_W+:ACC_W] = '0;
      if (raw) begin  // exact sums straight from E1
        y_we[l] = v1[l];
        y_add[l] = job.y_sink == YS_ACC_ADD;
        y_row[l*RW+:RW] = RW'(rr);
        y_col[l*CW+:CW] = CW'(n1[l]);
        y_data[l*ACC_W+:ACC_W] = s1[l];
      end else begin
        y_we[l] = vs[l];
        y_data[l*ACC_W+:ACC_W] = ACC_W'($signed(ys[l]));
        case (job.y_sink)
          YS_SCORE_T: begin
            y_row[l*RW+:RW] = RW'(int'(job.slot) * QB + int'(ns[l]));
            y_col[l*CW+:CW] = CW'(rs[l]);
          end
          YS_A_T: begin
            y_row[l*RW+:RW] = RW'(int'(job.y_row0) + int'(ns[l]));
            y_col[l*CW+:CW] = CW'(int'(job.y_col0) + int'(rs[l]));
          end
          YS_ACC: begin
            y_add[l] = 1'b1;
            if (l < AL) begin
              y_row[l*RW+:RW] = RW'(qrow[l]);
              y_data[l*ACC_W+:ACC_W] = ACC_W'($signed(qgate[l]) * $signed(ys[l]));
            end
            y_col[l*CW+:CW] = CW'(ns[l]);
          end
          default: begin
            y_row[l*RW+:RW] = RW'(row);
            y_col[l*CW+:CW] = CW'(ns[l]);
          end
        endcase
      end
    end
  end
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
