// Fields of a descriptor format word (pymodel.export.descriptor.encode_format,
// hls/include/edgemoe_fixed.h decode_fmt): bits 6:0 width, 15:8 fraction bits
// (int8), 16 signed, 19:17 quantisation code (hwmath_pkg::Q_*), 21:20
// overflow code (hwmath_pkg::O_*). Bit 24 (present) and the bits above 21 are
// the descriptor checker's business, so the word here is bits 21:0 only.
// This module is the one place in the RTL that knows the layout; the unit
// testbenches build every format word with encode_format, so a change of
// the layout there fails them. Combinational.
`default_nettype none

module fmt_decode (
    input  wire         [21:0] word,
    output logic        [ 6:0] width,
    output logic signed [ 7:0] frac,
    output logic               signed_,
    output logic        [ 2:0] quant,
    output logic        [ 1:0] ovf
);
  logic gap_unused;  // bit 7 lies between the width and fraction fields
  assign gap_unused = word[7];
  assign width   = word[6:0];
  assign frac    = word[15:8];
  assign signed_ = word[16];
  assign quant   = word[19:17];
  assign ovf     = word[21:20];
endmodule

`default_nettype wire
