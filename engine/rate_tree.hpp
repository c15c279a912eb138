// Sum tree of per-neuron rates for Gillespie's direct method (engine/backends/event/direct.cpp):
// the total rate and a draw of one neuron in proportion to its rate, both in O(log N).
// Each update recomputes the partial sums on the path to the root from their children, so the
// sums never drift the way a Fenwick tree's running differences would.
#pragma once
#include <cstdint>
#include <vector>

namespace gs {

class rate_tree {
 public:
  explicit rate_tree(uint32_t n = 0) : n_(n) {
    while (leaves_ < n) leaves_ *= 2;
    sum_.assign(2 * size_t(leaves_), 0.0);
  }

  uint32_t size() const { return n_; }
  double total() const { return sum_[1]; }
  double rate(uint32_t id) const { return sum_[leaves_ + id]; }

  void set(uint32_t id, double r) {
    size_t i = leaves_ + size_t(id);
    if (sum_[i] == r) return;
    sum_[i] = r;
    for (i /= 2; i >= 1; i /= 2) sum_[i] = sum_[2 * i] + sum_[2 * i + 1];
  }

  // The id whose share of the total holds u, for u uniform in [0, total()). A subtree whose sum
  // is zero is never entered, so rounding at the edges cannot pick a neuron of rate zero.
  uint32_t pick(double u) const {
    size_t i = 1;
    while (i < leaves_) {
      const size_t l = 2 * i;
      if (u < sum_[l] || sum_[l + 1] == 0) {
        i = l;
      } else {
        u -= sum_[l];
        i = l + 1;
      }
    }
    return static_cast<uint32_t>(i - leaves_);
  }

  uint64_t bytes() const { return sum_.capacity() * sizeof(double); }

 private:
  uint32_t n_;
  size_t leaves_ = 1;
  std::vector<double> sum_;
};

}  // namespace gs
