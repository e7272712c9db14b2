// Differential-test harness for pymodel/numerics/fixed.py against the real
// Vitis HLS ap_types headers (Apache-2.0 copy shipped with hls4ml).
//
// C++ needs every format at compile time, so tests/test_fixed.py generates a few
// translation units that instantiate the templates below for a seeded list of
// random formats and register them in a table (`register_cases`). Each
// generated TU includes this file; the TU that defines FIXED_HARNESS_MAIN also
// gets main().
//
// Protocol (text, one case per line):
//   stdin : <case id> <a hex> <b hex>
//   stdout: <raw bits hex> <to_double() bits hex> <W> <I> <S>
// where a/b are raw words of any width as unsigned hex (two's complement bits of
// the operand's format, the bits of a double for from_double, a shift amount as
// 64-bit two's complement) and W/I/S describe the C++ result type (checks the
// RType rules). Words wider than 64 bits travel as 64-bit chunks through range().

#include <ap_fixed.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

// A word of any width: 64-bit chunks, least significant first.
typedef std::vector<uint64_t> Words;

struct Result {
  Words raw;     // bit pattern of the result (W bits)
  uint64_t dbl;  // bits of result.to_double()
  int width;
  int iwidth;
  int is_signed;
};

typedef void (*CaseFn)(const Words& a, const Words& b, Result* out);

namespace harness {

// Deduces the format of any ap_fixed / ap_ufixed (via the common base class).
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
Result describe(const ap_fixed_base<W, I, S, Q, O, N>& x) {
  Result r;
  for (int lo = 0; lo < W; lo += 64) {
    ap_ulong chunk = x.range(std::min(lo + 63, W - 1), lo);
    r.raw.push_back(chunk);
  }
  double d = x.to_double();
  std::memcpy(&r.dbl, &d, sizeof d);
  r.width = W;
  r.iwidth = I;
  r.is_signed = S;
  return r;
}

// Sets the raw word directly (no quantisation), 64 bits at a time.
template <class T>
T from_bits(const Words& bits) {
  T x;
  for (int lo = 0; lo < T::width; lo += 64) {
    size_t i = lo / 64;  // missing high chunks are zero
    x.range(std::min(lo + 63, T::width - 1), lo) = (ap_ulong)(i < bits.size() ? bits[i] : 0);
  }
  return x;
}

template <class Dst>
void from_double(const Words& a, const Words&, Result* out) {
  double d;
  std::memcpy(&d, &a[0], sizeof d);
  Dst y = d;  // ap_fixed_base(double)
  *out = describe(y);
}

template <class Src, class Dst>
void convert(const Words& a, const Words&, Result* out) {
  Dst y = from_bits<Src>(a);  // ap_fixed_base::operator= across formats
  *out = describe(y);
}

template <class A, class B>
void mul(const Words& a, const Words& b, Result* out) {
  *out = describe(from_bits<A>(a) * from_bits<B>(b));
}

template <class A, class B>
void add(const Words& a, const Words& b, Result* out) {
  *out = describe(from_bits<A>(a) + from_bits<B>(b));
}

template <class A, class B>
void sub(const Words& a, const Words& b, Result* out) {
  *out = describe(from_bits<A>(a) - from_bits<B>(b));
}

template <class A, class B>
void div(const Words& a, const Words& b, Result* out) {
  *out = describe(from_bits<A>(a) / from_bits<B>(b));
}

// Shift amounts travel as int64 and are used as a C++ int (operator<<(int)).
template <class A>
void lshift(const Words& a, const Words& n, Result* out) {
  A r = from_bits<A>(a) << static_cast<int>(static_cast<int64_t>(n[0]));
  *out = describe(r);
}

template <class A>
void rshift(const Words& a, const Words& n, Result* out) {
  A r = from_bits<A>(a) >> static_cast<int>(static_cast<int64_t>(n[0]));
  *out = describe(r);
}

}  // namespace harness

// Defined by the generated code: number of cases and table filling.
extern const int kNumCases;
void register_cases(CaseFn* table);

#ifdef FIXED_HARNESS_MAIN
// Hex digits (most significant first) -> 64-bit chunks, least significant first.
static Words parse_hex(const char* s) {
  Words w;
  size_t n = std::strlen(s);
  for (size_t end = n; end > 0;) {
    size_t start = end > 16 ? end - 16 : 0;
    w.push_back(std::stoull(std::string(s + start, end - start), nullptr, 16));
    end = start;
  }
  return w;
}

int main() {
  std::vector<CaseFn> table(kNumCases, nullptr);
  register_cases(table.data());
  static char buf[1 << 16];
  std::setvbuf(stdout, buf, _IOFBF, sizeof buf);
  static char ha[1 << 14], hb[1 << 14];  // up to 65536-bit words
  int id;
  while (std::scanf("%d %16383s %16383s", &id, ha, hb) == 3) {
    if (id < 0 || id >= kNumCases || table[id] == nullptr) {
      std::fprintf(stderr, "bad case id %d\n", id);
      return 2;
    }
    Result r;
    table[id](parse_hex(ha), parse_hex(hb), &r);
    for (size_t i = r.raw.size(); i-- > 0;) std::printf("%016" PRIx64, r.raw[i]);
    std::printf(" %" PRIx64 " %d %d %d\n", r.dbl, r.width, r.iwidth, r.is_signed);
  }
  return 0;
}
#endif
