// The unified linear unit (edgemoe_linear.cpp): lists of jobs on one R x TI x TO
// MAC array. A list is written into the job registers and started; then, as
// in the C++ DATAFLOW region,
//   lin_wstream (one per weight port)  every DDR tile of every job, ahead;
//   lin_bias                           every job's bias, ahead;
//   this module                        per job: its bias from the FIFO, tile 0
//       (unless prefilled), then per tile: tile t + 1 fills (tile_fill) while
//       the row groups of tile t issue one MAC beat per cycle (x: R rows x TI
//       inputs read from the source buffer two cycles ahead; w: the tile);
//       the sums of each group go to the epilogue (lin_epi) through a
//       two-group FIFO; a job ends when its last group is stored.
// A second tile_fill (probabilities only) fills tile buffer 2 for a job that
// starts prefilled (the attention's values), while the unit runs other jobs.
// Addresses to the buffers are 16-bit row and column indices.
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module lin_unit #(
    // activation bits
    parameter int ACT_W = 16,
    // exact accumulator bits
    parameter int ACC_W = 2 * ACT_W + 16,
    // MAC array rows (output rows per tile)
    parameter int R     = 4,
    // inputs per MAC beat
    parameter int TI    = 32,
    // DSP columns of the MAC array
    parameter int TO    = 8,
    // weight ports
    parameter int PORTS = 4,
    // epilogue lanes: plain
    parameter int EL    = 64,
    // epilogue lanes: GELU
    parameter int GL    = 16,
    // epilogue lanes: accumulator
    parameter int AL    = 16,
    // probability lanes
    parameter int PL    = 64,
    // query rows per score slot
    parameter int QB    = 48,
    // widest bias vector (out_features)
    parameter int MAX_K = 1536,
    // widest x row (inputs, keys) rounded up to TI
    parameter int KP    = 1536,
    // longest job list
    parameter int NJ    = 32,
    // router task feature words
    parameter int TAILN = 64,
    // probability / gate bits
    parameter int GW    = 32
) (
    input  wire                         clk,
    input  wire                         rst,
    // job list
    input  wire                         job_we,
    input  wire  [                 7:0] job_waddr,
    input  engine_pkg::job_t            job_wdata,
    input  wire                         list_start,
    input  wire  [                 7:0] n_jobs,
    output logic                        list_done,
    // a prefill of tile buffer 2 (a WS_PROB job's tile 0)
    input  wire                         pf_start,
    input  engine_pkg::job_t            pf_job,
    output logic                        pf_done,
    // weight ports: requests (beat offsets from each port's base) and data
    output logic [           PORTS-1:0] w_req_valid,
    input  wire  [           PORTS-1:0] w_req_ready,
    output logic [        PORTS*32-1:0] w_req_beat,
    output logic [        PORTS*32-1:0] w_req_len,
    input  wire  [           PORTS-1:0] w_rd_valid,
    output logic [           PORTS-1:0] w_rd_ready,
    input  wire  [       PORTS*128-1:0] w_rd_data,
    // biases: gmem_io read client (params beats)
    output logic                        b_req_valid,
    input  wire                         b_req_ready,
    output logic [                31:0] b_req_beat,
    output logic [                31:0] b_req_len,
    input  wire                         b_rd_valid,
    output logic                        b_rd_ready,
    input  wire  [               127:0] b_rd_data,
    // x operand reads (the buffer of x_src; row/column already transposed for V)
    output logic [                 2:0] xf_src,
    output logic [              R*TI-1:0] xf_re,
    output logic [           R*TI*16-1:0] xf_row,
    output logic [           R*TI*16-1:0] xf_col,
    input  wire  [        R*TI*ACT_W-1:0] xf_data,
    // expert queue: token row of entries (gathered x rows)
    output logic [                 R-1:0] mi_re,
    output logic [              R*16-1:0] mi_idx,
    input  wire  [              R*16-1:0] mi_data,
    input  wire  [       TAILN*ACT_W-1:0] tail,
    // tile fills: query reads (main), score and statistics reads (main, prefill)
    output logic [                TI-1:0] q_re,
    output logic [             TI*16-1:0] q_row,
    output logic [             TI*16-1:0] q_col,
    input  wire  [          TI*ACT_W-1:0] q_data,
    output logic [              2*PL-1:0] s_re,
    output logic [           2*PL*16-1:0] s_row,
    output logic [           2*PL*16-1:0] s_col,
    input  wire  [        2*PL*ACT_W-1:0] s_data,
    output logic [           2*PL*16-1:0] st_row,
    input  wire  [2*PL*(ACT_W+hwmath_pkg::MANT_FRAC+9)-1:0] st_data,
    // epilogue reads and stores (lin_epi)
    output logic [                EL-1:0] ex_re,
    output logic [             EL*16-1:0] ex_row,
    output logic [             EL*16-1:0] ex_col,
    input  wire  [          EL*ACT_W-1:0] ex_data,
    output logic [                EL-1:0] ea_re,
    output logic [             EL*16-1:0] ea_row,
    output logic [             EL*16-1:0] ea_col,
    input  wire  [          EL*ACC_W-1:0] ea_data,
    output logic [                AL-1:0] em_re,
    output logic [             AL*16-1:0] em_idx,
    input  wire  [             AL*16-1:0] em_row,
    input  wire  [             AL*GW-1:0] em_gate,
    output logic [                EL-1:0] y_we,
    output logic [                 3:0] y_sink,
    output logic [                EL-1:0] y_add,
    output logic [             EL*16-1:0] y_row,
    output logic [             EL*16-1:0] y_col,
    output logic [          EL*ACC_W-1:0] y_data,
    // cycle accounting: MAC beats issued (busy cycles of the array)
    output logic [                63:0] mac_beats
);
  import engine_pkg::*;
  localparam int WW = ACT_W + 1;  // tile words: an unsigned probability
  localparam int KW = $clog2(KP);
  localparam int STW = ACT_W + hwmath_pkg::MANT_FRAC + 9;
  localparam int NWP = (PORTS * 16 > PL) ? ((PORTS * 16 > TI) ? PORTS * 16 : TI) : ((PL > TI) ? PL : TI);
  localparam int XW_IN = R * TI * ACT_W + 2 * TO * TI * WW + 3;
  localparam int JW = $clog2(NJ);  // job register index
  localparam int OW = $clog2(2 * TO);  // tile row index

  initial begin
    if (KP % TI != 0 || NJ > 255 || 2 * TO > 32) begin
      $error("lin_unit: KP = %0d must be a multiple of TI = %0d; NJ = %0d <= 255; TO = %0d <= 16 (%m)",
             KP, TI, NJ, TO);
      $finish;
    end
  end

  // ------------------------------------------------------------ job registers
  job_t jobs[NJ];
  always_ff @(posedge clk) if (job_we) jobs[job_waddr[JW-1:0]] <= job_wdata;

  logic [7:0] ws_idx[PORTS];
  logic [7:0] bias_idx;
  logic [PORTS-1:0] wf_valid, wf_ready;
  logic [PORTS*128-1:0] wf_data;
  genvar gp;
  generate
    for (gp = 0; gp < PORTS; gp++) begin : port
      lin_wstream #(
          .P(gp),
          .PORTS(PORTS),
          .TO(TO),
          .DEPTH(256)
      ) ws (
          .clk(clk),
          .rst(rst),
          .list_start(list_start),
          .n_jobs(n_jobs),
          .job_idx(ws_idx[gp]),
          .job(jobs[ws_idx[gp][JW-1:0]]),
          .req_valid(w_req_valid[gp]),
          .req_ready(w_req_ready[gp]),
          .req_beat(w_req_beat[gp*32+:32]),
          .req_len(w_req_len[gp*32+:32]),
          .rd_valid(w_rd_valid[gp]),
          .rd_ready(w_rd_ready[gp]),
          .rd_data(w_rd_data[gp*128+:128]),
          .out_valid(wf_valid[gp]),
          .out_ready(wf_ready[gp]),
          .out_data(wf_data[gp*128+:128])
      );
    end
  endgenerate

  logic bf_valid, bf_ready;
  logic [127:0] bf_data;
  lin_bias #(
      .DEPTH(256),
      .CHUNK(64)
  ) bias (
      .clk(clk),
      .rst(rst),
      .list_start(list_start),
      .n_jobs(n_jobs),
      .job_idx(bias_idx),
      .job(jobs[bias_idx[JW-1:0]]),
      .req_valid(b_req_valid),
      .req_ready(b_req_ready),
      .req_beat(b_req_beat),
      .req_len(b_req_len),
      .rd_valid(b_rd_valid),
      .rd_ready(b_rd_ready),
      .rd_data(b_rd_data),
      .out_valid(bf_valid),
      .out_ready(bf_ready),
      .out_data(bf_data)
  );

  // ------------------------------------------------------------- compute FSM
  typedef enum logic [2:0] {
    IDLE,
    JOB,
    BIAS,
    FILL0,
    TILE,
    WAIT_FILL,
    DRAIN
  } state_t;
  state_t st;
  logic [7:0] jn;
  job_t job;  // the job in progress (stable while it runs: the epilogue reads it)
  logic [15:0] toe, tiles, groups, ksteps, t, g, kk, nbias, bcnt;
  logic [15:0] kt;
  logic packed_;
  logic [1:0] cur;
  logic [MAX_K*16-1:0] bvec;
  logic [31:0] groups_issued, groups_done;

  // the fills
  logic f_start, f_done, f_busy;
  logic [15:0] f_tile;
  logic [1:0] f_buf;
  logic fill_pending;

  // MAC input FIFO with credits for the two fetch stages
  logic [3:0] mf_count;
  logic [1:0] fetch_inflight;
  wire mac_room = (32'(mf_count) + 32'(fetch_inflight)) < 32'd7;
  wire issue = (st == TILE) && mac_room;
  wire last_k = kk + 1 == ksteps;
  wire last_g = g + 1 == groups;
  wire epi_idle;
  logic sums_valid, ctx_valid, epi_ready;

  assign bf_ready = (st == BIAS) && (bcnt != nbias);

  always_ff @(posedge clk) begin
    list_done <= 1'b0;
    f_start <= 1'b0;
    if (rst) begin
      st <= IDLE;
      groups_issued <= '0;
      mac_beats <= '0;
      fill_pending <= 1'b0;
    end else begin
      if (issue) mac_beats <= mac_beats + 1'b1;
      if (st == JOB) groups_issued <= '0;
      else if (issue && last_k) groups_issued <= groups_issued + 1'b1;
      if (f_done) fill_pending <= 1'b0;
      case (st)
        IDLE:
        if (list_start) begin
          jn <= '0;
          st <= JOB;
        end
        JOB:
        if (jn == n_jobs) begin
          list_done <= 1'b1;
          st <= IDLE;
        end else begin
          job_t j;
          int te;
          int k;
          j = jobs[jn[JW-1:0]];
          te = packed_mode(j) ? 2 * TO : TO;
          k = int'(j.in_features) + int'(j.in_tail);
          job <= j;
          packed_ <= packed_mode(j);
          toe <= 16'(te);
          kt <= 16'(k);
          tiles <= 16'(div_up(int'(j.out_features), te));
          groups <= 16'(div_up(int'(j.rows), R));
          ksteps <= 16'(div_up(k, TI));
          nbias <= j.bias ? 16'(div_up(int'(j.out_features), 8)) : 16'd0;
          bcnt <= '0;
          t <= '0;
          st <= BIAS;
        end
        BIAS:
        if (bcnt == nbias) begin
          if (tiles == 0 || groups == 0) st <= DRAIN;
          else if (job.prefilled) begin
            cur <= 2'd2;
            st <= TILE;
            g <= '0;
            kk <= '0;
            if (tiles > 1) begin
              f_start <= 1'b1;
              f_tile <= 16'd1;
              f_buf <= 2'd1;
              fill_pending <= 1'b1;
            end
          end else begin
            f_start <= 1'b1;
            f_tile <= '0;
            f_buf <= 2'd0;
            fill_pending <= 1'b1;
            st <= FILL0;
          end
        end else if (bf_valid) begin
          for (int i = 0; i < 8; i++)
            if (int'(bcnt) * 8 + i < MAX_K) bvec[(int'(bcnt)*8+i)*16+:16] <= bf_data[i*16+:16];
          bcnt <= bcnt + 1'b1;
        end
        FILL0:
        if (!fill_pending && !f_start) begin
          cur <= 2'd0;
          g <= '0;
          kk <= '0;
          st <= TILE;
          if (tiles > 1) begin
            f_start <= 1'b1;
            f_tile <= 16'd1;
            f_buf <= 2'd1;
            fill_pending <= 1'b1;
          end
        end
        TILE:
        if (issue) begin
          if (!last_k) kk <= kk + 1'b1;
          else begin
            kk <= '0;
            if (!last_g) g <= g + 1'b1;
            else begin
              g <= '0;
              st <= WAIT_FILL;
            end
          end
        end
        WAIT_FILL:
        if (!fill_pending && !f_start) begin
          if (t + 1 == tiles) st <= DRAIN;
          else begin
            t <= t + 1'b1;
            cur <= {1'b0, ~t[0]};  // tile t + 1 is in buffer (t + 1) & 1
            st <= TILE;
            if (t + 2 < tiles) begin
              f_start <= 1'b1;
              f_tile <= t + 16'd2;
              f_buf <= {1'b0, t[0]};  // (t + 2) & 1
              fill_pending <= 1'b1;
            end
          end
        end
        DRAIN:
        if (groups_done == groups_issued && epi_idle && !sums_valid) begin
          jn <= jn + 1'b1;
          st <= JOB;
        end
        default: st <= IDLE;
      endcase
    end
  end

  // ---------------------------------------------------------------- tile buffers
  logic [WW-1:0] wt[3][2*TO][KP];
  logic [NWP-1:0] f_we, p_we;
  logic [NWP*5-1:0] f_o, p_o;
  logic [NWP*KW-1:0] f_k, p_k;
  logic [NWP*WW-1:0] f_d, p_d;
  always_ff @(posedge clk) begin
    for (int i = 0; i < NWP; i++) begin
      if (f_we[i]) wt[f_buf][f_o[i*5+:OW]][f_k[i*KW+:KW]] <= f_d[i*WW+:WW];
      if (p_we[i]) wt[2][p_o[i*5+:OW]][p_k[i*KW+:KW]] <= p_d[i*WW+:WW];
    end
  end

  logic pf_busy;
  tile_fill #(
      .ACT_W(ACT_W),
      .TI(TI),
      .TO(TO),
      .PORTS(PORTS),
      .PL(PL),
      .QB(QB),
      .QRW(16),
      .QCW(16),
      .SRW(16),
      .SCW(16),
      .KW(KW),
      .HAS_DDR(1),
      .NWP(NWP)
  ) fill (
      .clk(clk),
      .rst(rst),
      .start(f_start),
      .job(job),
      .tile(f_tile),
      .done(f_done),
      .busy(f_busy),
      .wv(wf_valid),
      .wr(wf_ready),
      .wd(wf_data),
      .q_re(q_re),
      .q_row(q_row),
      .q_col(q_col),
      .q_data(q_data),
      .s_re(s_re[0+:PL]),
      .s_row(s_row[0+:PL*16]),
      .s_col(s_col[0+:PL*16]),
      .s_data(s_data[0+:PL*ACT_W]),
      .st_row(st_row[0+:PL*16]),
      .st_data(st_data[0+:PL*STW]),
      .t_we(f_we),
      .t_o(f_o),
      .t_k(f_k),
      .t_d(f_d)
  );

  logic [TI-1:0] pq_re_unused;
  logic [TI*16-1:0] pq_row_unused, pq_col_unused;
  logic [PORTS-1:0] pw_ready_unused;
  tile_fill #(
      .ACT_W(ACT_W),
      .TI(TI),
      .TO(TO),
      .PORTS(PORTS),
      .PL(PL),
      .QB(QB),
      .QRW(16),
      .QCW(16),
      .SRW(16),
      .SCW(16),
      .KW(KW),
      .HAS_DDR(0),
      .NWP(NWP)
  ) prefill (
      .clk(clk),
      .rst(rst),
      .start(pf_start),
      .job(pf_job),
      .tile(16'd0),
      .done(pf_done),
      .busy(pf_busy),
      .wv('0),
      .wr(pw_ready_unused),
      .wd('0),
      .q_re(pq_re_unused),
      .q_row(pq_row_unused),
      .q_col(pq_col_unused),
      .q_data('0),
      .s_re(s_re[PL+:PL]),
      .s_row(s_row[PL*16+:PL*16]),
      .s_col(s_col[PL*16+:PL*16]),
      .s_data(s_data[PL*ACT_W+:PL*ACT_W]),
      .st_row(st_row[PL*16+:PL*16]),
      .st_data(st_data[PL*STW+:PL*STW]),
      .t_we(p_we),
      .t_o(p_o),
      .t_k(p_k),
      .t_d(p_d)
  );

  // ------------------------------------------------------------ x fetch (F0-F2)
  // F0: the issue; gathered rows read their token row from the queue.
  assign xf_src = job.x_src;
  always_comb begin
    for (int r = 0; r < R; r++) begin
      mi_re[r] = issue && job.x_gather;
      mi_idx[r*16+:16] = job.map0 + g * 16'(R) + 16'(r);
    end
  end
  logic f1_v, f1_first, f1_last;
  logic [15:0] f1_g, f1_kk, f1_t;
  logic [1:0] f1_cur;
  always_ff @(posedge clk) begin
    f1_v <= issue;
    f1_t <= t;
    f1_g <= g;
    f1_kk <= kk;
    f1_first <= kk == 0;
    f1_last <= last_k;
    f1_cur <= cur;
  end
  // F1: element reads of R rows x TI inputs.
  always_comb begin
    for (int r = 0; r < R; r++)
      for (int i = 0; i < TI; i++) begin
        int p;
        int xr;
        int src;
        int k;
        p = r * TI + i;
        xr = int'(f1_g) * R + r;  // row of the job
        src = job.x_gather ? int'(mi_data[r*16+:16]) : int'(job.x_row0) + xr;
        k = int'(f1_kk) * TI + i;
        xf_re[p] = f1_v && xr < int'(job.rows) && k < int'(job.in_features);
        if (job.x_src == XS_VALUES_T) begin  // x[n][key] = V[key][x_col0 + n]
          xf_row[p*16+:16] = 16'(k);
          xf_col[p*16+:16] = 16'(int'(job.x_col0) + src);
        end else begin
          xf_row[p*16+:16] = 16'(src);
          xf_col[p*16+:16] = 16'(((job.x_src == XS_KEYS) ? int'(job.x_col0) : 0) + k);
        end
      end
  end
  logic f2_v, f2_first, f2_last;
  logic [15:0] f2_g, f2_kk, f2_t;
  logic [1:0] f2_cur;
  logic [R*TI-1:0] f2_in;
  always_ff @(posedge clk) begin
    f2_v <= f1_v;
    f2_t <= f1_t;
    f2_g <= f1_g;
    f2_kk <= f1_kk;
    f2_first <= f1_first;
    f2_last <= f1_last;
    f2_cur <= f1_cur;
    f2_in <= xf_re;
  end
  // F2: the MAC beat: x (zero past the rows and inputs; the task feature after
  // the inputs) and the w slice of the tile (zero past the inputs and outputs).
  logic [XW_IN-1:0] beat;
  always_comb begin
    /* verilator lint_off WIDTHCONCAT */  // one wide beat (R x TI + 2TO x TI words) cleared
    beat = '0;
    /* verilator lint_on WIDTHCONCAT */
    for (int r = 0; r < R; r++)
      for (int i = 0; i < TI; i++) begin
        int p;
        int xr;
        int k;
        logic [ACT_W-1:0] v;
        p = r * TI + i;
        xr = int'(f2_g) * R + r;
        k = int'(f2_kk) * TI + i;
        v = '0;
        if (f2_in[p]) v = xf_data[p*ACT_W+:ACT_W];
        else if (xr < int'(job.rows) && k >= int'(job.in_features) && k < int'(kt))
          v = tail[(k-int'(job.in_features))*ACT_W+:ACT_W];
        beat[p*ACT_W+:ACT_W] = v;
      end
    for (int o = 0; o < 2 * TO; o++)
      for (int i = 0; i < TI; i++) begin
        int k;
        int n;
        logic ok;
        k = int'(f2_kk) * TI + i;
        n = int'(f2_t) * int'(toe) + o;
        ok = k < int'(kt) && n < int'(job.out_features) && o < int'(toe);
        beat[R*TI*ACT_W+(o*TI+i)*WW+:WW] = ok ? wt[f2_cur][o][k] : '0;
      end
    beat[XW_IN-3] = packed_;
    beat[XW_IN-2] = f2_first;
    beat[XW_IN-1] = f2_last;
  end
  always_ff @(posedge clk) begin
    if (rst) fetch_inflight <= '0;
    else fetch_inflight <= fetch_inflight + 2'(issue) - 2'(f2_v);
  end

  logic mf_valid, mf_read;
  logic [XW_IN-1:0] mf_data;
  logic mf_in_ready_unused;
  sfifo #(
      .W(XW_IN),
      .DEPTH(8)
  ) mac_in (
      .clk(clk),
      .rst(rst),
      .in_valid(f2_v),
      .in_ready(mf_in_ready_unused),
      .in_data(beat),
      .out_valid(mf_valid),
      .out_ready(mf_read),
      .out_data(mf_data),
      .count(mf_count)
  );

  // -------------------------------------------------------------- MAC array
  logic [R*2*TO*ACC_W-1:0] mac_out;
  logic mac_write, sums_ready, sums_in_ready;
  mac_array #(
      .R(R),
      .TI(TI),
      .TO(TO),
      .X_W(ACT_W),
      .W_W(WW),
      .ACC_W(ACC_W)
  ) mac (
      .ap_clk(clk),
      .ap_rst(rst),
      .ap_ce(1'b1),
      .in_dout(mf_data),
      .in_empty_n(mf_valid),
      .in_read(mf_read),
      .out_din(mac_out),
      .out_full_n(sums_in_ready),
      .out_write(mac_write)
  );

  // The sums of two groups, and the (r0, n0) of every group issued.
  logic [R*2*TO*ACC_W-1:0] sums;
  logic [1:0] sums_count_unused;
  sfifo #(
      .W(R * 2 * TO * ACC_W),
      .DEPTH(2)
  ) sums_q (
      .clk(clk),
      .rst(rst),
      .in_valid(mac_write),
      .in_ready(sums_in_ready),
      .in_data(mac_out),
      .out_valid(sums_valid),
      .out_ready(sums_ready),
      .out_data(sums),
      .count(sums_count_unused)
  );
  logic [31:0] ctx;
  logic [4:0] ctx_count_unused;
  logic ctx_in_ready_unused;
  sfifo #(
      .W(32),
      .DEPTH(16)
  ) ctx_q (
      .clk(clk),
      .rst(rst),
      .in_valid(issue && last_k),
      .in_ready(ctx_in_ready_unused),
      .in_data({g * 16'(R), t * toe}),
      .out_valid(ctx_valid),
      .out_ready(sums_ready),
      .out_data(ctx),
      .count(ctx_count_unused)
  );
  assign sums_ready = sums_valid && ctx_valid && epi_ready;

  always_ff @(posedge clk) begin
    if (rst || (st == JOB)) groups_done <= '0;
    else if (sums_ready) groups_done <= groups_done + 1'b1;
  end

  lin_epi #(
      .ACT_W(ACT_W),
      .ACC_W(ACC_W),
      .R(R),
      .TO(TO),
      .EL(EL),
      .GL(GL),
      .AL(AL),
      .QB(QB),
      .MAX_K(MAX_K),
      .GW(GW),
      .RW(16),
      .CW(16),
      .EW(16)
  ) epi (
      .clk(clk),
      .rst(rst),
      .job(job),
      .bvec(bvec),
      .in_valid(sums_valid && ctx_valid),
      .in_ready(epi_ready),
      .in_sums(sums),
      .in_r0(ctx[31:16]),
      .in_n0(ctx[15:0]),
      .idle(epi_idle),
      .x_re(ex_re),
      .x_row(ex_row),
      .x_col(ex_col),
      .x_data(ex_data),
      .a_re(ea_re),
      .a_row(ea_row),
      .a_col(ea_col),
      .a_data(ea_data),
      .m_re(em_re),
      .m_idx(em_idx),
      .m_row(em_row),
      .m_gate(em_gate),
      .y_we(y_we),
      .y_sink(y_sink),
      .y_add(y_add),
      .y_row(y_row),
      .y_col(y_col),
      .y_data(y_data)
  );

  // Status and count outputs this module does not need (kept for the submodules' other users).
  /* verilator lint_off UNUSEDSIGNAL */
  logic unused;
  assign unused = f_busy ^ pf_busy ^ mf_in_ready_unused ^ ctx_in_ready_unused ^ (^sums_count_unused) ^
      (^ctx_count_unused) ^ (^pq_re_unused) ^ (^pq_row_unused) ^ (^pq_col_unused) ^ (^pw_ready_unused);
  /* verilator lint_on UNUSEDSIGNAL */
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
