// The engine's DDR transfers other than weights and biases (edgemoe_top.cpp
// load_x / store_x, edgemoe_layers.cpp patch_embed's gathers, the router's
// task feature): one command at a time, one beat per cycle.
//   XF_LOAD   rows [row0, row0 + rows) of io_x -> x rows 0 .. (one request)
//   XF_STORE  x rows 0 .. -> io_x rows [row0, row0 + rows) (one request)
//   XF_PATCH  the patches of tokens [row0, row0 + rows) (token 0 is cls) into
//             u, reading each image row the block touches once and scattering
//             its beats to their patches; then the position rows into x
//   XF_CLS    x[0] = cls + pos[0], aligned to the finer format and requantised
//             once into the embedding format
//   XF_TAIL   `rows` activation words from params beat `off` (the router's
//             task feature) into `tail`
// Activations are ACT_W-bit words, APW = 128 / ACT_W per beat.
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module xfer_unit #(
    // activation bits
    parameter int ACT_W = 16,
    // widest token row (model dim)
    parameter int MAX_D = 384,
    // router task feature words
    parameter int TAILN = 64
) (
    input  wire                      clk,
    input  wire                      rst,
    input  engine_pkg::model_t       model,
    input  wire                      start,
    input  wire  [              2:0] cmd,
    input  wire  [             15:0] row0,
    input  wire  [             15:0] rows,
    input  wire  [             31:0] off,
    output logic                     done,
    // gmem_io reads (io: 1 = io image, 0 = params)
    output logic                     rd_req_valid,
    input  wire                      rd_req_ready,
    output logic                     rd_req_io,
    output logic [             31:0] rd_req_beat,
    output logic [             31:0] rd_req_len,
    input  wire                      rd_valid,
    output logic                     rd_ready,
    input  wire  [            127:0] rd_data,
    // gmem_io writes (io image)
    output logic                     wr_req_valid,
    input  wire                      wr_req_ready,
    output logic [             31:0] wr_req_beat,
    output logic [             31:0] wr_req_len,
    output logic                     wr_valid,
    input  wire                      wr_ready,
    output logic [            127:0] wr_data,
    // x reads (store) and writes (load, position rows, cls); u writes (patches)
    output logic [      128/ACT_W-1:0] x_re,
    output logic [   128/ACT_W*16-1:0] x_rrow,
    output logic [   128/ACT_W*16-1:0] x_rcol,
    input  wire  [            127:0] x_rdata,
    output logic [      128/ACT_W-1:0] x_we,
    output logic [   128/ACT_W*16-1:0] x_wrow,
    output logic [   128/ACT_W*16-1:0] x_wcol,
    output logic [            127:0] x_wdata,
    output logic [      128/ACT_W-1:0] u_we,
    output logic [   128/ACT_W*16-1:0] u_wrow,
    output logic [   128/ACT_W*16-1:0] u_wcol,
    output logic [            127:0] u_wdata,
    output logic [  TAILN*ACT_W-1:0] tail
);
  import engine_pkg::*;
  localparam int APW = 128 / ACT_W;
  initial begin
    if (128 % ACT_W != 0 || MAX_D < 1 || TAILN < 1) begin
      $error("xfer_unit: ACT_W = %0d must divide 128; MAX_D = %0d, TAILN = %0d positive (%m)",
             ACT_W, MAX_D, TAILN);
      $finish;
    end
  end

  typedef enum logic [3:0] {
    IDLE,
    REQ,
    DATA,
    ST_RUN,
    PT_ROW,
    PT_DATA,
    POS_REQ,
    CLS_REQ,
    CLS_DATA,
    FINISH
  } state_t;
  state_t st;
  logic [2:0] c;
  logic [15:0] r0, nr, first;
  logic [31:0] beats, got, stride;
  // patches: the grid row, channel and pixel row of the image row being read
  logic [15:0] gy, gy_end, ch, py, img_row;
  // cls: the cls row, then pos[0]
  logic [ACT_W-1:0] cls_w[MAX_D];
  logic cls_second;

  wire [31:0] act_beats_dim = 32'(div_up(int'(model.dim), APW));

  assign rd_ready = 1'b1;  // every beat lands in a buffer the cycle it arrives

  always_ff @(posedge clk) begin
    done <= 1'b0;
    if (rst) begin
      st <= IDLE;
      rd_req_valid <= 1'b0;
      wr_req_valid <= 1'b0;
    end else begin
      if (rd_req_valid && rd_req_ready) rd_req_valid <= 1'b0;
      if (wr_req_valid && wr_req_ready) wr_req_valid <= 1'b0;
      case (st)
        IDLE:
        if (start) begin
          c <= cmd;
          r0 <= row0;
          nr <= rows;
          stride <= act_beats_dim;
          got <= '0;
          first <= (row0 == 0) ? 16'd1 : 16'd0;
          st <= REQ;
        end
        REQ: begin
          case (c)
            XF_LOAD: begin
              rd_req_valid <= 1'b1;
              rd_req_io <= 1'b1;
              rd_req_beat <= model.io_x + 32'(r0) * stride;
              rd_req_len <= 32'(nr) * stride;
              beats <= 32'(nr) * stride;
              st <= DATA;
            end
            XF_STORE: begin
              wr_req_valid <= 1'b1;
              wr_req_beat <= model.io_x + 32'(r0) * stride;
              wr_req_len <= 32'(nr) * stride;
              beats <= 32'(nr) * stride;
              st <= ST_RUN;
            end
            XF_TAIL: begin
              rd_req_valid <= 1'b1;
              rd_req_io <= 1'b0;
              rd_req_beat <= off;
              rd_req_len <= 32'(div_up(int'(nr), APW));
              beats <= 32'(div_up(int'(nr), APW));
              st <= DATA;
            end
            XF_CLS: begin
              cls_second <= 1'b0;
              st <= CLS_REQ;
            end
            default: begin  // XF_PATCH: grid rows of tokens [max(r0, 1), r0 + nr)
              automatic int t0 = int'(r0) + int'(first) - 1;  // first patch
              automatic int t1 = int'(r0) + int'(nr) - 1;  // one past the last patch
              img_row <= 16'(div_up(int'(model.img_w), APW));
              if (t1 <= t0) st <= POS_REQ;
              else begin
                gy <= 16'(t0 / int'(model.grid_w));
                gy_end <= 16'((t1 - 1) / int'(model.grid_w) + 1);
                ch <= '0;
                py <= '0;
                st <= PT_ROW;
              end
            end
          endcase
        end
        DATA:
        if (got == beats) begin
          st <= FINISH;
        end else if (rd_valid) got <= got + 1'b1;
        ST_RUN: if (sent == beats) st <= FINISH;
        PT_ROW:
        if (!rd_req_valid) begin
          if (gy == gy_end) st <= POS_REQ;
          else begin
            rd_req_valid <= 1'b1;
            rd_req_io <= 1'b1;
            rd_req_beat <= model.io_in +
                32'((int'(ch) * int'(model.img_h) + int'(gy) * int'(model.patch) + int'(py)) *
                    int'(img_row));
            rd_req_len <= 32'(img_row);
            beats <= 32'(img_row);
            got <= '0;
            st <= PT_DATA;
          end
        end
        PT_DATA:
        if (got == beats) begin
          // next pixel row, channel, grid row
          if (int'(py) + 1 < int'(model.patch)) py <= py + 1'b1;
          else begin
            py <= '0;
            if (int'(ch) + 1 < int'(model.in_chans)) ch <= ch + 1'b1;
            else begin
              ch <= '0;
              gy <= gy + 1'b1;
            end
          end
          st <= PT_ROW;
        end else if (rd_valid) got <= got + 1'b1;
        POS_REQ:
        if (!rd_req_valid) begin
          if (nr > first) begin
            rd_req_valid <= 1'b1;
            rd_req_io <= 1'b0;
            rd_req_beat <= model.off_pos + (32'(r0) + 32'(first)) * stride;
            rd_req_len <= (32'(nr) - 32'(first)) * stride;
            beats <= (32'(nr) - 32'(first)) * stride;
            got <= '0;
            c <= XF_LOAD;  // the beats land in x rows first .. like a load
            st <= DATA;
          end else st <= FINISH;
        end
        CLS_REQ:
        if (!rd_req_valid) begin
          rd_req_valid <= 1'b1;
          rd_req_io <= 1'b0;
          rd_req_beat <= cls_second ? model.off_pos : model.off_cls;
          rd_req_len <= stride;
          beats <= stride;
          got <= '0;
          st <= CLS_DATA;
        end
        CLS_DATA:
        if (got == beats) begin
          if (!cls_second) begin
            cls_second <= 1'b1;
            st <= CLS_REQ;
          end else st <= FINISH;
        end else if (rd_valid) got <= got + 1'b1;
        FINISH:
        if (!rd_req_valid && !wr_req_valid) begin
          done <= 1'b1;
          st <= IDLE;
        end
        default: st <= IDLE;
      endcase
    end
  end

  // --------------------------------------------------- read beats into buffers
  // XF_LOAD (and position rows): beat b -> x row (x row of beat 0) + b / stride.
  // The beat counter `got` is the index of the arriving beat.
  logic [15:0] load_row0;  // x row of beat 0: 0 for a load, `first` for position rows
  always_ff @(posedge clk) if (st == REQ) load_row0 <= '0;
  else if (st == POS_REQ) load_row0 <= first;

  // cls + pos[0] (edgemoe_layers.cpp pe_cls)
  wire signed [9:0] f_cls = fmt_f(32'(model.f_cls));
  wire signed [9:0] f_pos = fmt_f(32'(model.f_pos));
  wire signed [9:0] cf = (f_cls > f_pos) ? f_cls : f_pos;
  logic [ACT_W-1:0] cls_y[APW];
  logic cls_v;
  logic [31:0] cls_k;
  genvar gi;
  generate
    for (gi = 0; gi < APW; gi++) begin : cls_lane
      logic signed [ACT_W+32:0] v;
      logic ovf_unused;
      always_comb begin
        automatic int k = int'(got) * APW + gi;
        automatic logic signed [ACT_W-1:0] a = (k < MAX_D) ? $signed(cls_w[k]) : '0;
        v = ((ACT_W + 33)'(a) <<< (cf - f_cls)) +
            ((ACT_W + 33)'($signed(rd_data[gi*ACT_W+:ACT_W])) <<< (cf - f_pos));
      end
      requant_rt #(
          .IN_W(ACT_W + 33),
          .FRAC_W(10),
          .OUT_W(ACT_W),
          .LAT(1)
      ) rq (
          .clk(clk),
          .en(1'b1),
          .x(v),
          .x_frac(cf),
          .fmt(model.f_embed),
          .y(cls_y[gi]),
          .ovf(ovf_unused)
      );
    end
  endgenerate
  always_ff @(posedge clk) begin
    cls_v <= (st == CLS_DATA) && cls_second && rd_valid && got != beats;
    cls_k <= got * 32'(APW);
    if (st == CLS_DATA && !cls_second && rd_valid && got != beats)
      for (int i = 0; i < APW; i++)
        if (int'(got) * APW + i < MAX_D) cls_w[int'(got)*APW+i] <= rd_data[i*ACT_W+:ACT_W];
    if (st == DATA && c == XF_TAIL && rd_valid && got != beats)
      for (int i = 0; i < APW; i++)
        if (int'(got) * APW + i < TAILN) tail[(int'(got)*APW+i)*ACT_W+:ACT_W] <= rd_data[i*ACT_W+:ACT_W];
  end

  // patches: beat b of image row (ch, gy * P + py) holds columns b * APW ..
  always_comb begin
    x_we = '0;
    x_wrow = '0;
    x_wcol = '0;
    x_wdata = rd_data;
    u_we = '0;
    u_wrow = '0;
    u_wcol = '0;
    u_wdata = rd_data;
    if (st == DATA && c == XF_LOAD && rd_valid && got != beats) begin
      automatic int r = int'(load_row0) + int'(got / stride);
      automatic int k0 = int'(got % stride) * APW;
      for (int i = 0; i < APW; i++) begin
        x_we[i] = k0 + i < int'(model.dim);
        x_wrow[i*16+:16] = 16'(r);
        x_wcol[i*16+:16] = 16'(k0 + i);
      end
    end
    if (cls_v) begin
      for (int i = 0; i < APW; i++) begin
        x_we[i] = int'(cls_k) + i < int'(model.dim);
        x_wrow[i*16+:16] = '0;
        x_wcol[i*16+:16] = 16'(int'(cls_k) + i);
        x_wdata[i*ACT_W+:ACT_W] = cls_y[i];
      end
    end
    if (st == PT_DATA && rd_valid && got != beats) begin
      for (int i = 0; i < APW; i++) begin
        automatic int col = int'(got) * APW + i;
        automatic int gx = col / int'(model.patch);
        automatic int px = col - gx * int'(model.patch);
        automatic int n = int'(gy) * int'(model.grid_w) + gx;  // patch
        automatic int r = n + 1 - int'(r0);  // token row of the block
        u_we[i] = col < int'(model.img_w) && r >= int'(first) && r < int'(nr);
        u_wrow[i*16+:16] = 16'(r);
        u_wcol[i*16+:16] = 16'((int'(ch) * int'(model.patch) + int'(py)) * int'(model.patch) + px);
      end
    end
  end

  // ------------------------------------------------------------ store beats
  // Read x one beat ahead into a two-entry queue in front of the write data.
  logic [31:0] issued, sent;
  logic rv1;
  logic [1:0] q_count;
  logic wr_valid_q;
  logic [127:0] q_data[2];
  logic q_rd;
  wire can_issue = (st == ST_RUN) && (issued != beats) && (32'(q_count) + 32'(rv1) < 32'd2);
  always_comb begin
    automatic int r = int'(issued / stride);
    automatic int k0 = int'(issued % stride) * APW;
    for (int i = 0; i < APW; i++) begin
      x_re[i] = can_issue;
      x_rrow[i*16+:16] = 16'(r);
      x_rcol[i*16+:16] = 16'(k0 + i);
    end
  end
  logic [31:0] k0_1;
  always_ff @(posedge clk) begin
    if (rst || st == REQ) begin
      issued <= '0;
      sent <= '0;
      rv1 <= 1'b0;
      q_count <= '0;
      q_rd <= 1'b0;
    end else begin
      rv1 <= can_issue;
      k0_1 <= (issued % stride) * 32'(APW);
      if (can_issue) issued <= issued + 1'b1;
      if (rv1) begin
        automatic logic [127:0] b = x_rdata;
        for (int i = 0; i < APW; i++) if (int'(k0_1) + i >= int'(model.dim)) b[i*ACT_W+:ACT_W] = '0;
        q_data[q_rd ^ q_count[0]] <= b;
      end
      if (wr_valid && wr_ready) q_rd <= ~q_rd;
      q_count <= q_count + 2'(rv1) - 2'(wr_valid && wr_ready);
      if (wr_valid && wr_ready) sent <= sent + 1'b1;
    end
  end
  assign wr_valid_q = q_count != 0;
  assign wr_valid = wr_valid_q && st == ST_RUN;
  assign wr_data = q_data[q_rd];
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
