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
// where a/b are raw words (sign-extended to 64 bits, or the bits of a double for
// from_double) and W/I/S describe the C++ result type (checks the RType rules).

#include <ap_fixed.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

struct Result {
  uint64_t raw;  // bit pattern of the result, sign-extended to 64 bits
  uint64_t dbl;  // bits of result.to_double()
  int width;
  int iwidth;
  int is_signed;
};

typedef void (*CaseFn)(uint64_t a, uint64_t b, Result* out);

namespace harness {

// Deduces the format of any ap_fixed / ap_ufixed (via the common base class).
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
Result describe(const ap_fixed_base<W, I, S, Q, O, N>& x) {
  Result r;
  r.raw = x.bits_to_uint64();
  double d = x.to_double();
  std::memcpy(&r.dbl, &d, sizeof d);
  r.width = W;
  r.iwidth = I;
  r.is_signed = S;
  return r;
}

// Sets the raw word directly (no quantisation): ap_private truncates/extends.
template <class T>
T from_bits(uint64_t bits) {
  T x;
  x.setBits(bits);
  return x;
}

template <class Dst>
void from_double(uint64_t a, uint64_t, Result* out) {
  double d;
  std::memcpy(&d, &a, sizeof d);
  Dst y = d;  // ap_fixed_base(double)
  *out = describe(y);
}

template <class Src, class Dst>
void convert(uint64_t a, uint64_t, Result* out) {
  Dst y = from_bits<Src>(a);  // ap_fixed_base::operator= across formats
  *out = describe(y);
}

template <class A, class B>
void mul(uint64_t a, uint64_t b, Result* out) {
  *out = describe(from_bits<A>(a) * from_bits<B>(b));
}

template <class A, class B>
void add(uint64_t a, uint64_t b, Result* out) {
  *out = describe(from_bits<A>(a) + from_bits<B>(b));
}

template <class A, class B>
void sub(uint64_t a, uint64_t b, Result* out) {
  *out = describe(from_bits<A>(a) - from_bits<B>(b));
}

template <class A, class B>
void div(uint64_t a, uint64_t b, Result* out) {
  *out = describe(from_bits<A>(a) / from_bits<B>(b));
}

// Shift amounts travel as int64 and are used as a C++ int (operator<<(int)).
template <class A>
void lshift(uint64_t a, uint64_t n, Result* out) {
  A r = from_bits<A>(a) << static_cast<int>(static_cast<int64_t>(n));
  *out = describe(r);
}

template <class A>
void rshift(uint64_t a, uint64_t n, Result* out) {
  A r = from_bits<A>(a) >> static_cast<int>(static_cast<int64_t>(n));
  *out = describe(r);
}

}  // namespace harness

// Defined by the generated code: number of cases and table filling.
extern const int kNumCases;
void register_cases(CaseFn* table);

#ifdef FIXED_HARNESS_MAIN
int main() {
  std::vector<CaseFn> table(kNumCases, nullptr);
  register_cases(table.data());
  static char buf[1 << 16];
  std::setvbuf(stdout, buf, _IOFBF, sizeof buf);
  int id;
  uint64_t a, b;
  while (std::scanf("%d %" SCNx64 " %" SCNx64, &id, &a, &b) == 3) {
    if (id < 0 || id >= kNumCases || table[id] == nullptr) {
      std::fprintf(stderr, "bad case id %d\n", id);
      return 2;
    }
    Result r;
    table[id](a, b, &r);
    std::printf("%" PRIx64 " %" PRIx64 " %d %d %d\n", r.raw, r.dbl, r.width, r.iwidth,
                r.is_signed);
  }
  return 0;
}
#endif
