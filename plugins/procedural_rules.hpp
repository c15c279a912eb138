// The built-in rules' procedural generators (plugins/connection_rules.cpp): one source's targets
// within one chunk of procedural_chunk target ids, in increasing order. Their drawing functions are
// GS_HD, so the clock backend (through the rule's chunk_generator) and the cuda backend's kernel
// (their GPU forms: plugins/connection_rules_gpu.cu) run the same code.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/host_device.hpp"
#include "engine/rng.hpp"
#include "plugins/registry.hpp"

namespace gs {

// pairwise_bernoulli with a constant p: each (source, chunk) its own stream, and geometric skips
// from one connected target to the next.
struct bernoulli_chunks {
  uint64_t seed;
  double prob, log_q;  // log(1 - p)
  uint32_t n_target, projection;
  bool no_self;  // source and target are one population without autapses

  GS_HD uint32_t operator()(uint32_t s, uint32_t chunk, uint32_t* out) const {
    if (prob <= 0) return 0;
    const uint32_t first = chunk * procedural_chunk, last = std::min(n_target, first + procedural_chunk);
    rng_stream rng(seed, rng_purpose::procedural_connect, projection, s, chunk);
    uint32_t k = 0;
    for (double j = double(first) - 1;;) {
      j += prob >= 1 ? 1 : 1 + std::floor(std::log(rng.uniform_pos()) / log_q);
      if (j >= last) break;
      const auto t = static_cast<uint32_t>(j);
      if (!(no_self && t == s)) out[k++] = t;
    }
    return k;
  }
};

// Synapses per (source, chunk) cell, one byte each; the few counts from 255 up sit in a side
// list sorted by cell. Pointers to host or device copies of the tables.
struct cell_counts {
  const uint8_t* small;
  const uint64_t* large_cell;
  const uint16_t* large_count;
  uint32_t n_large;

  GS_HD uint32_t operator[](uint64_t cell) const {
    if (small[cell] < 255) return small[cell];
    uint32_t lo = 0, hi = n_large;  // the cell is in the list: binary search
    while (hi - lo > 1) {
      const uint32_t mid = (lo + hi) / 2;
      if (large_cell[mid] <= cell) lo = mid;
      else hi = mid;
    }
    return large_count[lo];
  }
};

// fixed_total_number with multapses, once each cell's count is drawn: the cell's targets are
// independent and uniform over its allowed ones, drawn from the (source, chunk) stream.
struct total_number_cells {
  cell_counts counts;
  uint64_t seed;
  uint32_t n_target, chunks, projection;
  bool no_self;

  GS_HD uint32_t operator()(uint32_t s, uint32_t chunk, uint32_t* out) const {
    const uint32_t k = counts[uint64_t(s) * chunks + chunk];
    if (k == 0) return 0;
    const uint32_t first = chunk * procedural_chunk, last = std::min(n_target, first + procedural_chunk);
    const uint32_t self_here = no_self && s >= first && s < last;  // then one target fewer to draw from
    rng_stream rng(seed, rng_purpose::procedural_connect, projection, s, chunk);
    for (uint32_t i = 0; i < k; ++i) {
      const auto t = first + uint32_t(rng.below(last - first - self_here));
      const uint32_t v = self_here && t >= s ? t + 1 : t;
      // Insertion keeps the chunk sorted (repeats, multapses, side by side): a cell holds a
      // dozen synapses in the microcircuit, and the kernel has no std::sort.
      uint32_t j = i;
      for (; j > 0 && out[j - 1] > v; --j) out[j] = out[j - 1];
      out[j] = v;
    }
    return k;
  }
};

// The host generator of fixed_total_number: the N pairs are drawn once, as the stored rule draws
// them, and only counted per cell (so the out-degrees are the stored projection's). The counts
// are drawn at the first call, not when the rule makes the generator, because the config loader
// makes one only to learn whether the parameters regenerate.
class total_number_chunks {
 public:
  total_number_chunks(uint64_t n, uint64_t seed, uint32_t n_source, uint32_t n_target, uint32_t projection,
                      bool no_self)
      : table_(std::make_shared<table>()),
        n_(n), n_source_(n_source),
        cells_{{}, seed, n_target, (n_target + procedural_chunk - 1) / procedural_chunk, projection, no_self} {}

  uint32_t operator()(uint32_t s, uint32_t chunk, uint32_t* out) const { return drawn()(s, chunk, out); }

  // The device form (engine/backends/cuda/procedural.cuh): the same cells over device copies of
  // the tables, which upload(host vector) makes.
  template <class Upload>
  total_number_cells device_form(Upload& upload) const {
    total_number_cells d = drawn();
    const table& t = *table_;
    d.counts = {upload(t.small), upload(t.large_cell), upload(t.large_count), d.counts.n_large};
    return d;
  }

 private:
  struct table {
    std::once_flag once;
    std::vector<uint8_t> small;
    std::vector<uint64_t> large_cell;
    std::vector<uint16_t> large_count;
  };

  // The cells over the host tables, drawn at the first call (from any thread).
  total_number_cells drawn() const {
    std::call_once(table_->once, [&] { draw(); });
    total_number_cells c = cells_;
    const table& t = *table_;
    c.counts = {t.small.data(), t.large_cell.data(), t.large_count.data(), static_cast<uint32_t>(t.large_cell.size())};
    return c;
  }
  void draw() const {
    const uint32_t n_target = cells_.n_target, chunks = cells_.chunks;
    std::vector<uint16_t> count(uint64_t(n_source_) * chunks, 0);
    rng_stream rng(cells_.seed, rng_purpose::connect, cells_.projection, 0);
    const uint64_t pairs = uint64_t(n_source_) * n_target;
    for (uint64_t i = 0; i < n_;) {
      const uint64_t x = rng.below(pairs);
      const auto src = uint32_t(x / n_target), tgt = uint32_t(x % n_target);
      if (cells_.no_self && src == tgt) continue;
      ++i;
      if (++count[uint64_t(src) * chunks + tgt / procedural_chunk] > procedural_chunk)
        throw std::runtime_error("more than " + std::to_string(procedural_chunk) +
                                 " synapses from one source onto one chunk of " + std::to_string(procedural_chunk) +
                                 " targets: too dense to regenerate");
    }
    table& t = *table_;
    t.small.resize(count.size());
    for (uint64_t c = 0; c < count.size(); ++c) {
      t.small[c] = static_cast<uint8_t>(std::min<uint16_t>(count[c], 255));
      if (count[c] >= 255) t.large_cell.push_back(c), t.large_count.push_back(count[c]);
    }
  }

  std::shared_ptr<table> table_;  // shared by the copies std::function makes
  uint64_t n_;
  uint32_t n_source_;
  total_number_cells cells_;  // its counts point into table_ once drawn
};

}  // namespace gs
