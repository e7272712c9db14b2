// Online softmax over rows of N scores (pymodel.numerics.hwmath.online_softmax_fixed).
//
// Scores stream in, one per cycle, in index order. The ingest side keeps the
// running max m and sum s of the single-pass recurrence
//     j = 0: m = x0, s = 1;   x > m: s = round(s * e(m - x)) + 1, m = x;
//     else:  s += e(x - m)
// (s has SOFTMAX_SUM_FRAC fraction bits, so the adds are exact; the only
// roundings are at max updates, half up), and writes the row into one bank of
// a two-bank row buffer. At the row's end 1/s is computed (recip_core, a
// pseudo-float (mant, shift)). The output side then reads the bank back and
// emits e(x - m) * mant requantised once to OUT_W bits (fraction bits
// EXP_OUT_FRAC + MANT_FRAC + shift dropped to OUT_FRAC, QUANT/OVF modes).
//
// The recurrence is pipelined without stalls: the max update is a one-cycle
// compare-and-select loop, the differences go through exp_core (4 cycles)
// with their flags in a delay line, and the sum update (a multiply for max
// updates, an add otherwise) is the only other loop, also one cycle. The two
// buffer banks let row r+1 stream in while row r streams out.
//
// Ports: Vitis ap_fifo protocol (see elementwise_units.sv). Output word
//   {last, m[X_W], mant[MANT_FRAC+1], shift[SHIFT_W], y[OUT_W]}
// so that the row's max and 1/sum come out with every normalised value.
module softmax_row #(
    parameter int N          = 64,
    parameter int X_W        = 16,
    parameter int X_FRAC     = 8,
    parameter int OUT_W      = 16,
    parameter int OUT_FRAC   = 14,
    parameter bit OUT_SIGNED = 1'b1,
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    parameter int OVF        = hwmath_pkg::O_SAT,
    parameter int SHIFT_W    = 8
) (
    input  logic ap_clk,
    input  logic ap_rst,
    input  logic ap_ce,

    input  logic [X_W-1:0] in_dout,
    input  logic           in_empty_n,
    output logic           in_read,

    output logic [1+SHIFT_W+hwmath_pkg::MANT_FRAC+1+X_W+OUT_W-1:0] out_din,
    input  logic                                                    out_full_n,
    output logic                                                    out_write
);
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int EF = hwmath_pkg::EXP_OUT_FRAC;
  localparam int SF = hwmath_pkg::SOFTMAX_SUM_FRAC;
  localparam int SW = hwmath_pkg::SOFTMAX_SUM_INT + SF;  // running sum width
  localparam int IW = (N > 1) ? $clog2(N) : 1;
  localparam int DW = X_W + 1;  // x - m
  localparam int LE = 4;  // exp_core latency
  localparam int LR = 4;  // recip_core latency
  localparam logic [SW-1:0] ONE = SW'(1) << SF;
  localparam int SCW = SW + EF + 1;  // s * e before rounding
  localparam logic [SCW-1:0] HALF = SCW'(1) << (SF - 1);
  localparam int AW = IW + 1;  // buffer address: bank b holds entries b*N .. b*N+N-1
  localparam logic [AW-1:0] NB = AW'(N);

  // ------------------------------------------------------------------ buffer
  logic [X_W-1:0] buffer[2*N];
  logic [1:0] busy;  // bank holds a row not yet read out completely
  logic [1:0] ready;  // bank's statistics are final
  logic signed [X_W-1:0] mfin[2];  // row max per bank
  logic [MF:0] smant[2];  // 1/sum per bank
  logic signed [SHIFT_W-1:0] sshift[2];

  // ------------------------------------------------------------------ ingest
  logic wbank;
  logic [IW-1:0] widx;
  logic signed [X_W-1:0] m_run, x_in, m_new;
  logic can_in, take, first, last, event_in;
  logic signed [DW-1:0] d_in;
  assign x_in = in_dout;
  assign can_in = ap_ce & ((widx != '0) | ~busy[wbank]);
  assign in_read = can_in & in_empty_n;
  assign take = in_read;
  assign first = widx == '0;
  assign last = widx == IW'(N - 1);
  always_comb begin
    event_in = first || (x_in > m_run);
    m_new = event_in ? x_in : m_run;
    // e's argument: 0 for the first, m - x at a max update, x - m otherwise
    if (first) d_in = '0;
    else if (x_in > m_run) d_in = DW'(m_run) - DW'(x_in);
    else d_in = DW'(x_in) - DW'(m_run);
  end
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      wbank <= 1'b0;
      widx  <= '0;
    end else if (take) begin
      buffer[(wbank ? NB : '0) + AW'(widx)] <= x_in;
      m_run <= m_new;
      if (last) begin
        mfin[wbank] <= m_new;
        widx <= '0;
        wbank <= ~wbank;
      end else widx <= widx + 1'b1;
    end
  end

  // exp of the differences; flags {valid, first, event, last, bank} alongside
  logic [EF:0] e_sum;
  logic [4:0] fl_in, fl_e;
  assign fl_in = {take, first, event_in, last, wbank};
  exp_core #(
      .D_W(DW),
      .D_FRAC(X_FRAC)
  ) exp_sum (
      .clk(ap_clk),
      .en(ap_ce),
      .d(d_in),
      .y(e_sum)
  );
  delay #(
      .W(5),
      .LAT(LE)
  ) fl_delay (
      .clk(ap_clk),
      .en(ap_ce),
      .d(fl_in),
      .q(fl_e)
  );
  logic e_vld, e_first, e_event, e_last, e_bank;
  assign {e_vld, e_first, e_event, e_last, e_bank} = fl_e;

  // running sum: one-cycle loop
  logic [SW-1:0] s_acc, s_next;
  logic [SCW-1:0] scaled;
  always_comb begin
    scaled = SCW'(s_acc) * SCW'(e_sum) + HALF;  // s * e(m_old - m_new)
    if (e_first) s_next = ONE;
    else if (e_event) s_next = SW'(scaled >> SF) + ONE;
    else s_next = s_acc + SW'(e_sum);
  end
  logic r_vld, r_bank;
  logic [SW-1:0] r_in;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) r_vld <= 1'b0;
    else if (ap_ce) begin
      if (e_vld) s_acc <= s_next;
      r_vld  <= e_vld & e_last;
      r_bank <= e_bank;
      r_in   <= s_next;
    end
  end

  // 1/s at the row's end
  logic [MF:0] mant_r;
  logic signed [SHIFT_W-1:0] shift_r;
  logic [1:0] rfl;
  recip_core #(
      .S_W(SW),
      .S_FRAC(SF),
      .SHIFT_W(SHIFT_W)
  ) rcp (
      .clk(ap_clk),
      .en(ap_ce),
      .s(r_in),
      .mant(mant_r),
      .shift(shift_r)
  );
  delay #(
      .W(2),
      .LAT(LR)
  ) rfl_delay (
      .clk(ap_clk),
      .en(ap_ce),
      .d({r_vld, r_bank}),
      .q(rfl)
  );

  // ------------------------------------------------------------------ output
  // Pipeline: R (buffer read) -> exp_core (LE) -> P (e * mant) -> Q (requant,
  // output register). It stalls as a whole while Q holds a beat not taken.
  localparam int SBW = 1 + X_W + MF + 1 + SHIFT_W;  // {last, m, mant, shift}
  logic rbank;
  logic [IW-1:0] ridx;
  logic q_vld;
  logic en_o, issue, rlast;
  assign en_o  = ap_ce & (~q_vld | out_full_n);
  assign issue = en_o & ready[rbank];
  assign rlast = ridx == IW'(N - 1);

  logic [X_W-1:0] rd_x;
  logic rd_vld;
  logic [SBW-1:0] rd_sb;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      rbank  <= 1'b0;
      ridx   <= '0;
      rd_vld <= 1'b0;
    end else if (en_o) begin
      rd_vld <= issue;
      if (issue) begin
        rd_x  <= buffer[(rbank ? NB : '0) + AW'(ridx)];
        rd_sb <= {rlast, mfin[rbank], smant[rbank], sshift[rbank]};
        if (rlast) begin
          ridx  <= '0;
          rbank <= ~rbank;
        end else ridx <= ridx + 1'b1;
      end
    end
  end

  // bank state: set by ingest / statistics, cleared when read out
  always_ff @(posedge ap_clk) begin
    if (ap_rst) begin
      busy  <= '0;
      ready <= '0;
    end else begin
      for (int b = 0; b < 2; b++) begin
        if (issue && rlast && rbank == 1'(b)) begin
          busy[b]  <= 1'b0;
          ready[b] <= 1'b0;
        end else begin
          if (take && first && wbank == 1'(b)) busy[b] <= 1'b1;
          if (ap_ce && rfl[1] && rfl[0] == 1'(b)) ready[b] <= 1'b1;
        end
      end
      if (ap_ce && rfl[1]) begin
        smant[rfl[0]]  <= mant_r;
        sshift[rfl[0]] <= shift_r;
      end
    end
  end

  // exp of x - m for the outputs
  logic signed [DW-1:0] d_out;
  logic [SBW-1:0] e_sb;
  logic [EF:0] e_out;
  logic e_ovld;
  assign d_out = DW'($signed(rd_x)) - DW'($signed(rd_sb[SBW-2-:X_W]));
  exp_core #(
      .D_W(DW),
      .D_FRAC(X_FRAC)
  ) exp_out (
      .clk(ap_clk),
      .en(en_o),
      .d(d_out),
      .y(e_out)
  );
  delay #(
      .W(SBW + 1),
      .LAT(LE)
  ) sb_delay (
      .clk(ap_clk),
      .en(en_o),
      .d({rd_vld, rd_sb}),
      .q({e_ovld, e_sb})
  );

  // P: exact product e * (1/s), then Q: one requantisation
  localparam int PW = EF + 1 + MF + 1 + 1;  // signed product width
  logic signed [PW-1:0] p_prod;
  logic [SBW-1:0] p_sb;
  logic p_vld;
  always_ff @(posedge ap_clk) begin
    if (ap_rst) p_vld <= 1'b0;
    else if (en_o) begin
      p_vld  <= e_ovld;
      p_prod <= $signed(PW'(e_out) * PW'(e_sb[SHIFT_W+:MF+1]));  // < 2**(PW-1)
      p_sb   <= e_sb;
    end
  end
  logic signed [SHIFT_W-1:0] p_shift;
  localparam int RSW = SHIFT_W + 2;
  logic signed [RSW-1:0] p_rsh;
  logic [OUT_W-1:0] yq;
  logic oq_unused;
  assign p_shift = p_sb[SHIFT_W-1:0];
  assign p_rsh   = RSW'(EF + MF - OUT_FRAC) + RSW'(p_shift);
  requant #(
      .IN_W(PW),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED),
      .QUANT(QUANT),
      .OVF(OVF),
      .SH_W(RSW),
      .LSH_MAX((OUT_FRAC > EF + MF) ? OUT_FRAC - EF - MF : 0)
  ) rq (
      .x(p_prod),
      .rsh(p_rsh),
      .y(yq),
      .ovf(oq_unused)
  );
  always_ff @(posedge ap_clk) begin
    if (ap_rst) q_vld <= 1'b0;
    else if (en_o) begin
      q_vld   <= p_vld;
      out_din <= {p_sb, yq};
    end
  end
  assign out_write = ap_ce & q_vld & out_full_n;
endmodule
