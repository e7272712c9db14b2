// Self-checking testbench (g++, Vitis HLS csim and cosim).
//
//   tb_main <export_dir>
//
// Reads the export's DDR image (params.bin) and golden vectors written by
// pymodel.export_hls (golden/meta.txt, image.bin, expected_task<t>.bin: raw
// int64 little-endian), runs edgemoe_top for every golden task and compares
// every output word with the golden raw integers. Returns 0 only when all
// match. Buffers are at least the m_axi depths, as cosimulation requires.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "edgemoe_engine.h"

static bool read_file(const std::string& path, std::vector<char>& out) {
  std::ifstream f(path.c_str(), std::ios::binary);
  if (!f) return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  std::vector<char> raw_params;
  if (!read_file(dir + "/params.bin", raw_params)) {
    std::fprintf(stderr, "tb: cannot read %s/params.bin\n", dir.c_str());
    return 2;
  }
  const size_t p_beats = raw_params.size() / 16;
  std::vector<word_t> params(p_beats > (size_t)PARAMS_DEPTH ? p_beats : (size_t)PARAMS_DEPTH);
  std::memcpy((void*)params.data(), raw_params.data(), raw_params.size());

  Model m;
  if (decode_model(params.data(), m) != STATUS_OK || check_model(m) != STATUS_OK) {
    std::fprintf(stderr, "tb: params.bin holds no valid descriptor for this build\n");
    return 2;
  }
  std::vector<word_t> io(m.io_beats > (uint32_t)IO_DEPTH ? m.io_beats : (uint32_t)IO_DEPTH);

  std::ifstream meta((dir + "/golden/meta.txt").c_str());
  if (!meta) {
    std::fprintf(stderr, "tb: no golden vectors in %s/golden (export with a golden image)\n",
                 dir.c_str());
    return 2;
  }
  std::string line, image_file;
  int C = 0, H = 0, Wd = 0, T = 0, D = 0;
  std::vector<std::pair<int, std::string> > tasks;
  while (std::getline(meta, line)) {
    std::istringstream ls(line);
    std::string kind;
    ls >> kind;
    if (kind == "image") ls >> C >> H >> Wd >> image_file;
    if (kind == "output") ls >> T >> D;
    if (kind == "task") {
      int t;
      std::string f;
      ls >> t >> f;
      tasks.push_back(std::make_pair(t, f));
    }
  }
  if (C != m.in_chans || H != m.img_h || Wd != m.img_w || T != m.tokens || D != m.dim) {
    std::fprintf(stderr, "tb: golden shapes do not match the descriptor\n");
    return 2;
  }
  std::vector<char> img_bytes;
  if (!read_file(dir + "/golden/" + image_file, img_bytes) ||
      img_bytes.size() != (size_t)C * H * Wd * 8) {
    std::fprintf(stderr, "tb: bad golden image\n");
    return 2;
  }
  const int64_t* img = reinterpret_cast<const int64_t*>(img_bytes.data());

  long total = 0, bad = 0;
  int failures = 0;
  std::vector<act_t> row(MAX_K > Wd ? MAX_K : Wd);
  for (size_t k = 0; k < tasks.size(); k++) {
    std::vector<char> exp_bytes;
    if (!read_file(dir + "/golden/" + tasks[k].second, exp_bytes) ||
        exp_bytes.size() != (size_t)T * D * 8) {
      std::fprintf(stderr, "tb: bad golden output %s\n", tasks[k].second.c_str());
      return 2;
    }
    const int64_t* expected = reinterpret_cast<const int64_t*>(exp_bytes.data());
    for (int r = 0; r < C * H; r++) {  // image rows (c, y), each padded to whole beats
      for (int x = 0; x < Wd; x++) row[x] = (act_t)img[(size_t)r * Wd + x];
      write_act(io.data(), m.io_in + (uint32_t)(r * act_beats(Wd)), Wd, row.data());
    }
    uint32_t status = 0;
    // Every weight port reads the params image, as the host programs them.
    const word_t* same = params.data();
#define TB_WGT(p, name) , same
    edgemoe_top(params.data() EDGEMOE_FOR_EACH_WGT(TB_WGT), io.data(), (uint32_t)tasks[k].first,
                &status);
#undef TB_WGT
    if (status != STATUS_OK) {
      std::printf("task %d: kernel status %u\n", tasks[k].first, status);
      failures++;
      continue;
    }
    long task_bad = 0;
    for (int t = 0; t < T; t++) {
      read_act(io.data(), m.io_x + (uint32_t)(t * act_beats(D)), D, row.data());
      for (int d = 0; d < D; d++) {
        if ((int64_t)row[d] != expected[(size_t)t * D + d]) {
          if (task_bad < 5)
            std::printf("  task %d token %d dim %d: got %lld expected %lld\n", tasks[k].first, t, d,
                        (long long)row[d], (long long)expected[(size_t)t * D + d]);
          task_bad++;
        }
      }
    }
    std::printf("task %d: %ld values compared, %ld differ\n", tasks[k].first, (long)T * D,
                task_bad);
    total += (long)T * D;
    bad += task_bad;
    if (task_bad) failures++;
  }
  std::printf("%s: %ld values compared, %ld differ\n", failures ? "FAIL" : "PASS", total, bad);
  return failures ? 1 : 0;
}
