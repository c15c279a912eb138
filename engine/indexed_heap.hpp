// Indexed 4-ary min-heap of (time, id) with O(log N) decrease/increase of any id's key.
// This is the next-event queue of the Gillespie next-reaction method: one slot per neuron,
// ties broken by the smaller id so the order of simultaneous events is deterministic.
// Keys live in the heap array itself (no indirection when sifting), four children per node
// halve the depth of a binary heap.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

namespace gs {

class indexed_heap {
 public:
  static constexpr double never = std::numeric_limits<double>::infinity();

  explicit indexed_heap(uint32_t n = 0) {
    heap_.resize(n);
    pos_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      heap_[i] = {never, i};
      pos_[i] = i;
    }
  }

  uint32_t size() const { return static_cast<uint32_t>(heap_.size()); }
  double key(uint32_t id) const { return heap_[pos_[id]].key; }
  uint32_t top() const { return heap_[0].id; }
  double top_key() const { return heap_.empty() ? never : heap_[0].key; }

  void set(uint32_t id, double k) {
    const uint32_t i = pos_[id];
    const double old = heap_[i].key;
    heap_[i].key = k;
    if (k < old) sift_up(i);
    else if (k > old) sift_down(i);
  }

 private:
  struct entry {
    double key;
    uint32_t id;
    bool operator<(const entry& o) const { return key < o.key || (key == o.key && id < o.id); }
  };
  void place(uint32_t i, const entry& e) {
    heap_[i] = e;
    pos_[e.id] = i;
  }
  void sift_up(uint32_t i) {
    const entry e = heap_[i];
    while (i > 0) {
      const uint32_t parent = (i - 1) / 4;
      if (!(e < heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }
  void sift_down(uint32_t i) {
    const entry e = heap_[i];
    const uint32_t n = size();
    for (;;) {
      const uint32_t first = 4 * i + 1;
      if (first >= n) break;
      uint32_t c = first;
      if (first + 4 <= n) {  // all four children: a tournament the compiler turns into selects
        const uint32_t a = heap_[first + 1] < heap_[first] ? first + 1 : first;
        const uint32_t b = heap_[first + 3] < heap_[first + 2] ? first + 3 : first + 2;
        c = heap_[b] < heap_[a] ? b : a;
      } else {
        for (uint32_t k = first + 1; k < n; ++k)
          if (heap_[k] < heap_[c]) c = k;
      }
      if (!(heap_[c] < e)) break;
      place(i, heap_[c]);
      i = c;
    }
    place(i, e);
  }

  std::vector<entry> heap_;
  std::vector<uint32_t> pos_;
};

}  // namespace gs
