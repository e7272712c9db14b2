// Fill of one stationary w tile of the linear unit (edgemoe_linear.cpp
// fill_tile): TOe rows of kpad words into tile buffer `buf`, for tile t of a
// job, from
//   WS_DDR      the weight ports' FIFOs: port p fills its rows of the tile
//               (rows [p * per, (p + 1) * per)), one beat per cycle each, all
//               ports in parallel; 16 8-bit words (w_width <= 8) or 8 16-bit
//               words per beat, sign-extended;
//   WS_QUERIES  the query buffer: TI words of one row per cycle
//               (w[o][k] = q[w_row0 + n0 + o][w_col0 + k]);
//   WS_PROB     the probability lanes: PL words per cycle, each
//               e(s - m) / sum of its score, row max and 1 / sum
//               (w[o][k] = P[slot][n0 + o][k], prob_lane).
// Words past the job's inputs or rows are left as they are: the linear unit
// masks them when it reads the tile. Writes leave as element write ports
// (NWP of them); done pulses once every word of the tile is written.
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module tile_fill #(
    // activation bits
    parameter int ACT_W  = 16,
    // tile word bits (ACT_W + 1: an unsigned probability)
    parameter int WW     = ACT_W + 1,
    // inputs per MAC beat (query words per cycle)
    parameter int TI     = 32,
    // DSP columns (TOe = TO or 2 TO)
    parameter int TO     = 8,
    // weight ports
    parameter int PORTS  = 4,
    // probability lanes
    parameter int PL     = 64,
    // query rows per score slot (row of a slot in the score buffer)
    parameter int QB     = 48,
    // query buffer row index bits
    parameter int QRW    = 8,
    // query buffer column index bits
    parameter int QCW    = 9,
    // score buffer row index bits
    parameter int SRW    = 8,
    // score buffer column index bits
    parameter int SCW    = 11,
    // tile column bits (kpad <= 2**KW)
    parameter int KW     = 11,
    // with DDR: 0 for a fill that only ever computes probabilities
    parameter bit HAS_DDR = 1,
    // element write ports (>= PORTS * 16, TI, PL where used)
    parameter int NWP    = 64
) (
    input  wire                            clk,
    input  wire                            rst,
    input  wire                            start,
    input  engine_pkg::job_t               job,
    input  wire  [                   15:0] tile,
    output logic                           done,
    output logic                           busy,
    // weight port FIFOs
    input  wire  [              PORTS-1:0] wv,
    output logic [              PORTS-1:0] wr,
    input  wire  [          PORTS*128-1:0] wd,
    // query buffer reads
    output logic [                 TI-1:0] q_re,
    output logic [             TI*QRW-1:0] q_row,
    output logic [             TI*QCW-1:0] q_col,
    input  wire  [           TI*ACT_W-1:0] q_data,
    // score buffer and row statistics reads ({shift, mant, m} per row)
    output logic [                 PL-1:0] s_re,
    output logic [             PL*SRW-1:0] s_row,
    output logic [             PL*SCW-1:0] s_col,
    input  wire  [           PL*ACT_W-1:0] s_data,
    output logic [             PL*SRW-1:0] st_row,
    input  wire  [PL*(ACT_W+hwmath_pkg::MANT_FRAC+9)-1:0] st_data,
    // tile element writes
    output logic [                NWP-1:0] t_we,
    output logic [              NWP*5-1:0] t_o,
    output logic [             NWP*KW-1:0] t_k,
    output logic [             NWP*WW-1:0] t_d
);
  import engine_pkg::*;
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int STW = ACT_W + MF + 9;  // {shift[8], mant[MF+1], m[ACT_W]}
  localparam int PLAT = hwmath_pkg::PROB_LAT;
  localparam int NDDR = HAS_DDR ? PORTS * 16 : 0;

  initial begin
    if (2 * TO > 32 || NWP < PL || NWP < TI || NWP < NDDR) begin
      $error("tile_fill: TO = %0d, NWP = %0d too small for PL = %0d, TI = %0d, PORTS = %0d (%m)",
             TO, NWP, PL, TI, PORTS);
      $finish;
    end
  end

  // ------------------------------------------------------------ the tile's shape
  logic [1:0] mode;
  logic [15:0] toe, n0, nrow, kin, kpad, per, row_beats;
  logic narrow;
  always_ff @(posedge clk) begin
    if (start) begin
      int te;
      int kt;
      int base;
      int left;
      te = packed_mode(job) ? 2 * TO : TO;
      kt = int'(job.in_features) + int'(job.in_tail);
      base = int'(tile) * te;
      left = int'(job.out_features) - base;
      mode <= job.w_src;
      toe <= 16'(te);
      n0 <= 16'(base);
      nrow <= 16'((left < te) ? left : te);
      kin <= job.in_features;
      kpad <= 16'(div_up(kt, TI) * TI);
      per <= 16'(div_up(te, PORTS));
      row_beats <= 16'(wrow_beats(kt, int'(job.w_width)));
      narrow <= job.w_width <= 7'd8;
    end
  end

  // ------------------------------------------------------------------ control
  typedef enum logic [1:0] {
    IDLE,
    SETUP,
    RUN,
    DRAIN
  } state_t;
  state_t st;
  logic [PORTS-1:0] pdone;
  logic [15:0] po[PORTS], pb[PORTS];  // per port: row of the tile, beat of the row
  logic [15:0] qo, qk;  // queries: row, first column of the cycle
  logic [31:0] pe, ptotal;  // probabilities: first element of the cycle, element count
  logic [7:0] drain;
  logic [1:0] slot;
  logic signed [9:0] s_frac;
  logic [21:0] p_fmt;
  logic [15:0] w_row0, w_col0;

  assign busy = st != IDLE;

  always_ff @(posedge clk) begin
    if (start) begin
      slot <= job.slot;
      s_frac <= job.s_frac;
      p_fmt <= job.w_fmt;
      w_row0 <= job.w_row0;
      w_col0 <= job.w_col0;
    end
  end

  // Port p's rows of the tile: [p * per, min((p + 1) * per, nrow)).
  function automatic logic [15:0] port_first(input int p);
    port_first = 16'(p * int'(per));
  endfunction
  function automatic logic [15:0] port_end(input int p);
    int e;
    e = (p + 1) * int'(per);
    port_end = 16'((e < int'(nrow)) ? e : int'(nrow));
  endfunction

  wire run_done = (mode == WS_DDR) ? &pdone :
                  (mode == WS_QUERIES) ? (qo >= nrow) : (pe >= ptotal);

  always_ff @(posedge clk) begin
    done <= 1'b0;
    if (rst) st <= IDLE;
    else
      case (st)
        IDLE: if (start) st <= SETUP;
        SETUP: begin
          for (int p = 0; p < PORTS; p++) begin
            po[p] <= port_first(p);
            pb[p] <= '0;
            pdone[p] <= (mode != WS_DDR) || (HAS_DDR == 0) || (port_first(p) >= port_end(p));
          end
          qo <= '0;
          qk <= '0;
          pe <= '0;
          ptotal <= 32'(nrow) * 32'(kpad);
          st <= RUN;
        end
        RUN: begin
          if (mode == WS_DDR) begin
            for (int p = 0; p < PORTS; p++)
              if (!pdone[p] && wv[p]) begin
                if (pb[p] + 1 == row_beats) begin
                  pb[p] <= '0;
                  po[p] <= po[p] + 1'b1;
                  if (po[p] + 1 >= port_end(p)) pdone[p] <= 1'b1;
                end else pb[p] <= pb[p] + 1'b1;
              end
          end else if (mode == WS_QUERIES) begin
            if (!run_done) begin
              if (qk + 16'(TI) >= kpad) begin
                qk <= '0;
                qo <= qo + 1'b1;
              end else qk <= qk + 16'(TI);
            end
          end else if (!run_done) pe <= pe + 32'(PL);
          if (run_done) begin
            drain <= (mode == WS_PROB) ? 8'(PLAT + 1) : 8'd1;
            st <= DRAIN;
          end
        end
        DRAIN:
        if (drain == 0) begin
          done <= 1'b1;
          st <= IDLE;
        end else drain <= drain - 1'b1;
        default: st <= IDLE;
      endcase
  end

  // -------------------------------------------------------------- DDR words
  always_comb begin
    for (int p = 0; p < PORTS; p++) wr[p] = (st == RUN) && (mode == WS_DDR) && !pdone[p];
  end

  // --------------------------------------------------------- query reads (1 cycle)
  logic q_v1;
  logic [15:0] q_o1, q_k1;
  always_comb begin
    for (int i = 0; i < TI; i++) begin
      q_re[i] = (st == RUN) && (mode == WS_QUERIES) && !run_done;
      q_row[i*QRW+:QRW] = QRW'(w_row0 + n0 + qo);
      q_col[i*QCW+:QCW] = QCW'(w_col0 + qk + 16'(i));
    end
  end
  always_ff @(posedge clk) begin
    q_v1 <= (st == RUN) && (mode == WS_QUERIES) && !run_done;
    q_o1 <= qo;
    q_k1 <= qk;
  end

  // ------------------------------------------------ probability lanes (1 + PLAT)
  logic [PL-1:0] p_v1;
  logic [4:0] p_o1[PL];
  logic [KW-1:0] p_k1[PL];
  always_comb begin
    for (int l = 0; l < PL; l++) begin
      int e;
      int o;
      int k;
      logic v;
      e = int'(pe) + l;
      o = e / int'(kpad);
      k = e - o * int'(kpad);
      v = (st == RUN) && (mode == WS_PROB) && (e < int'(ptotal)) && (k < int'(kin));
      s_re[l] = v;
      s_row[l*SRW+:SRW] = SRW'(int'(slot) * QB + int'(n0) + o);
      s_col[l*SCW+:SCW] = SCW'(k);
      st_row[l*SRW+:SRW] = SRW'(int'(slot) * QB + int'(n0) + o);
    end
  end
  always_ff @(posedge clk) begin
    for (int l = 0; l < PL; l++) begin
      int e;
      int o;
      e = int'(pe) + l;
      o = e / int'(kpad);
      p_v1[l] <= s_re[l];
      p_o1[l] <= 5'(o);
      p_k1[l] <= KW'(e - o * int'(kpad));
    end
  end

  logic [PL-1:0] p_vd;
  logic [4:0] p_od[PL];
  logic [KW-1:0] p_kd[PL];
  logic [WW-1:0] p_y[PL];
  genvar gl;
  generate
    for (gl = 0; gl < PL; gl++) begin : lane
      logic [STW-1:0] stw;
      logic ovf_unused;
      assign stw = st_data[gl*STW+:STW];
      prob_lane #(
          .X_W(ACT_W),
          .XF_W(10),
          .SHIFT_W(8),
          .OUT_W(WW)
      ) pl (
          .clk(clk),
          .en(1'b1),
          .x($signed(s_data[gl*ACT_W+:ACT_W])),
          .m($signed(stw[ACT_W-1:0])),
          .x_frac(s_frac),
          .mant(stw[ACT_W+:MF+1]),
          .shift($signed(stw[ACT_W+MF+1+:8])),
          .fmt(p_fmt),
          .y(p_y[gl]),
          .ovf(ovf_unused)
      );
      delay #(
          .W(1 + 5 + KW),
          .LAT(PLAT)
      ) side (
          .clk(clk),
          .en(1'b1),
          .d({p_v1[gl], p_o1[gl], p_k1[gl]}),
          .q({p_vd[gl], p_od[gl], p_kd[gl]})
      );
    end
  endgenerate

  // ------------------------------------------------------------ element writes
  always_comb begin
    int wpb, k, slot_;  // temporaries of the DDR words (assigned on every path: no latch)
    logic signed [15:0] v;
    wpb = 0;
    k = 0;
    slot_ = 0;
    v = '0;
    t_we = '0;
    t_o = '0;
    t_k = '0;
    t_d = '0;
    if (mode == WS_DDR && HAS_DDR) begin
      for (int p = 0; p < PORTS; p++)
        for (int i = 0; i < 16; i++) begin
          wpb = narrow ? 16 : 8;
          k = int'(pb[p]) * wpb + i;
          slot_ = p * 16 + i;
          v = narrow ? 16'($signed(wd[p*128+i*8+:8])) : $signed(wd[p*128+(i%8)*16+:16]);
          if (st == RUN && !pdone[p] && wv[p] && i < wpb && k < (1 << KW)) begin
            t_we[slot_] = 1'b1;
            t_o[slot_*5+:5] = 5'(po[p]);
            t_k[slot_*KW+:KW] = KW'(k);
            t_d[slot_*WW+:WW] = WW'(v);
          end
        end
    end else if (mode == WS_QUERIES) begin
      for (int i = 0; i < TI; i++)
        if (q_v1) begin
          t_we[i] = 1'b1;
          t_o[i*5+:5] = 5'(q_o1);
          t_k[i*KW+:KW] = KW'(q_k1 + 16'(i));
          t_d[i*WW+:WW] = WW'($signed(q_data[i*ACT_W+:ACT_W]));
        end
    end else begin
      for (int l = 0; l < PL; l++)
        if (p_vd[l]) begin
          t_we[l] = 1'b1;
          t_o[l*5+:5] = p_od[l];
          t_k[l*KW+:KW] = p_kd[l];
          t_d[l*WW+:WW] = p_y[l];
        end
    end
  end
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
