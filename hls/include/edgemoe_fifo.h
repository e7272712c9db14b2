// A FIFO channel between dataflow processes.
//
// Under Vitis HLS (csim, synthesis and cosim) this is hls::stream. Under plain
// g++ (our C simulation, which has no Vitis headers) a std::deque with the same
// read/write/empty calls: dataflow processes then run one after the other in
// call order, so a producer fills the channel before its consumer drains it,
// which gives the same values as the hardware's concurrent execution.
#ifndef EDGEMOE_FIFO_H
#define EDGEMOE_FIFO_H

#ifdef __VITIS_HLS__
#include <hls_stream.h>
template <typename T>
using fifo = hls::stream<T>;
#else
#include <cstdio>
#include <cstdlib>
#include <deque>

template <typename T>
class fifo {
 public:
  void write(const T& v) { q_.push_back(v); }
  T read() {
    if (q_.empty()) {  // a consumer reading more than was produced: a schedule bug
      std::fprintf(stderr, "fifo: read from an empty channel\n");
      std::abort();
    }
    T v = q_.front();
    q_.pop_front();
    return v;
  }
  bool empty() const { return q_.empty(); }
  size_t size() const { return q_.size(); }

 private:
  std::deque<T> q_;
};
#endif

#endif  // EDGEMOE_FIFO_H
