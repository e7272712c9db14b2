// Building blocks shared by the arithmetic units (issue 6).
//
//   rom2r      table ROM loaded with $readmemh, two synchronous read ports
//              (an interpolation reads T[i] and T[i+1] in the same cycle);
//   requant    ap_fixed assignment of an exact wide value: quantisation mode,
//              then overflow mode (pymodel.numerics.qtorch.requant), with a
//              run-time shift so that pseudo-float products (softmax,
//              LayerNorm) use the same rounding logic as constant shifts;
//   pipe_ctrl  valid bits and stall of a fixed-latency pipeline behind a
//              FIFO-style input (empty_n/read) and output (full_n/write);
//   delay      a register chain under the pipeline enable, for side-band data
//              that must stay aligned with a core of latency LAT.
//
// Subset: accepted by Icarus Verilog 11 (-g2012), Verilator 5 and Yosys 0.23.


// ---------------------------------------------------------------------------
// Table ROM. Registered outputs so that Vivado can map large tables to block
// RAM (a RAMB18 has the two read ports); `en` freezes it with the pipeline.
module rom2r #(
    parameter int W     = 18,
    parameter int DEPTH = 65,
    parameter     FILE  = "table.mem",
    parameter int AW    = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  logic          clk,
    input  logic          en,
    input  logic [AW-1:0] a0,
    input  logic [AW-1:0] a1,
    output logic [ W-1:0] d0,
    output logic [ W-1:0] d1
);
  logic [W-1:0] mem[DEPTH];
  initial $readmemh(FILE, mem, 0, DEPTH - 1);
  always_ff @(posedge clk) begin
    if (en) begin
      d0 <= mem[a0];
      d1 <= mem[a1];
    end
  end
endmodule

// ---------------------------------------------------------------------------
// y = fmt(x * 2**-rsh): the exact value x * 2**-rsh (x a raw integer) assigned
// to an OUT_W-bit word with zero fraction bits relative to the caller's
// output scale, i.e. rsh = (fraction bits of x) - (fraction bits of y).
//
// rsh >= 0 drops rsh bits and rounds with QUANT (codes of hwmath_pkg: Q_*);
// rsh < 0 is an exact left shift (at most LSH_MAX). Overflow mode OVF (O_*)
// is applied to the rounded value, exactly as ap_fixed assignment does.
// Right shifts beyond IN_W+1 bits give the same result as IN_W+1 (the value
// is then below a quarter LSB in magnitude), so the shifter is clamped there.
// `ovf` flags an out-of-range value (what OverflowCounter counts).
module requant #(
    parameter int IN_W       = 32,
    parameter int OUT_W      = 16,
    parameter bit OUT_SIGNED = 1'b1,
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    parameter int OVF        = hwmath_pkg::O_SAT,
    parameter int SH_W       = 8,
    parameter int LSH_MAX    = 0
) (
    input  logic signed [ IN_W-1:0] x,
    input  logic signed [ SH_W-1:0] rsh,
    output logic        [OUT_W-1:0] y,
    output logic                    ovf
);
  localparam int RMAX = IN_W + 1;
  localparam int RW = IN_W + 2;  // remainder / half-LSB compare width
  localparam int VW0 = IN_W + LSH_MAX + 2;
  localparam int VW = (VW0 > OUT_W + 2) ? VW0 : OUT_W + 2;  // value before overflow
  localparam logic signed [VW-1:0] ONE = 1;
  localparam logic signed [VW-1:0] MAXV = (ONE <<< (OUT_W - (OUT_SIGNED ? 1 : 0))) - ONE;
  localparam logic signed [VW-1:0] MINV = OUT_SIGNED ? -(ONE <<< (OUT_W - 1)) : '0;
  localparam logic signed [VW-1:0] NMAXV = -MAXV;

  logic signed [VW-1:0] xw, q, v;
  logic [RW-1:0] xr, mask, rem, half;
  logic neg, above, at, nz, inc, out_of_range;
  int r, l, rs;

  always_comb begin
    rs   = 32'(rsh);  // sign-extended
    xw   = VW'(x);  // sign-extended
    xr   = RW'(x);
    neg  = x[IN_W-1];
    r    = 0;
    l    = 0;
    mask = '0;
    rem  = '0;
    half = '0;
    q    = '0;
    inc  = 1'b0;
    if (rs >= 0) begin
      r = (rs > RMAX) ? RMAX : rs;
      q = xw >>> r;  // floor
      mask = ~({RW{1'b1}} << r);
      rem = xr & mask;  // x mod 2**r (two's complement low bits)
      half = (r == 0) ? '0 : (RW'(1) << (r - 1));
    end else begin
      l = -rs;
      q = xw <<< l;  // exact
    end
    above = (r != 0) && (rem > half);
    at = (r != 0) && (rem == half);
    nz = rem != '0;
    case (QUANT)
      hwmath_pkg::Q_TRN:          inc = 1'b0;
      hwmath_pkg::Q_TRN_ZERO:     inc = neg & nz;
      hwmath_pkg::Q_RND:          inc = above | at;
      hwmath_pkg::Q_RND_ZERO:     inc = above | (at & neg);
      hwmath_pkg::Q_RND_MIN_INF:  inc = above;
      hwmath_pkg::Q_RND_INF:      inc = above | (at & ~neg);
      hwmath_pkg::Q_RND_CONV:     inc = above | (at & q[0]);
      default:        inc = 1'b0;
    endcase
    v = q + (inc ? ONE : '0);
    out_of_range = (v > MAXV) || (v < MINV);
    ovf = out_of_range;
    case (OVF)
      hwmath_pkg::O_WRAP: y = v[OUT_W-1:0];
      hwmath_pkg::O_SAT: y = (v > MAXV) ? MAXV[OUT_W-1:0] : (v < MINV) ? MINV[OUT_W-1:0] : v[OUT_W-1:0];
      hwmath_pkg::O_SAT_ZERO: y = out_of_range ? '0 : v[OUT_W-1:0];
      hwmath_pkg::O_SAT_SYM:
      if (OUT_SIGNED && OUT_W > 1)  // clamp to [-max, max]: the minimum itself is moved
        y = (v > MAXV) ? MAXV[OUT_W-1:0] : (v < NMAXV) ? NMAXV[OUT_W-1:0] : v[OUT_W-1:0];
      else y = (v > MAXV) ? MAXV[OUT_W-1:0] : (v < MINV) ? MINV[OUT_W-1:0] : v[OUT_W-1:0];
      default: y = v[OUT_W-1:0];
    endcase
  end
endmodule

// ---------------------------------------------------------------------------
// Control of a fixed-latency pipeline (LAT register stages, the last one the
// output register). The whole pipeline advances together (en): it stalls
// only while the output register holds a beat the consumer does not take,
// so the initiation interval is 1 without back-pressure. in_read/out_write
// follow the Vitis ap_fifo port protocol (read/write only when the FIFO has
// data/space), which is also a valid/ready stream with valid = empty_n and
// ready = full_n.
module pipe_ctrl #(
    parameter int LAT = 4
) (
    input  logic clk,
    input  logic rst,
    input  logic ce,
    input  logic in_empty_n,
    output logic in_read,
    input  logic out_full_n,
    output logic out_write,
    output logic en
);
  logic [LAT-1:0] v;
  assign en        = ce & (~v[LAT-1] | out_full_n);
  assign in_read   = en & in_empty_n;
  assign out_write = ce & v[LAT-1] & out_full_n;
  always_ff @(posedge clk) begin
    if (rst) v <= '0;
    else if (en) begin
      v[0] <= in_empty_n;
      for (int i = 1; i < LAT; i++) v[i] <= v[i-1];
    end
  end
endmodule

// ---------------------------------------------------------------------------
// LAT-stage delay line under an enable (side-band data beside a core).
module delay #(
    parameter int W   = 1,
    parameter int LAT = 1
) (
    input  logic         clk,
    input  logic         en,
    input  logic [W-1:0] d,
    output logic [W-1:0] q
);
  logic [W-1:0] r[LAT];
  always_ff @(posedge clk) begin
    if (en) begin
      r[0] <= d;
      for (int i = 1; i < LAT; i++) r[i] <= r[i-1];
    end
  end
  assign q = r[LAT-1];
endmodule
