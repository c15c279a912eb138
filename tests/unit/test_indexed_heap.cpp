// The next-event queue against a plain reference: a std::set of (key, id), whose first element is
// by definition the smallest key with ties going to the smaller id. Random sequences of key
// changes (decreases, increases, unchanged keys, ties, +-infinity) are applied to both, and
// top(), top_key() and key(id) must agree after every step.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "engine/indexed_heap.hpp"

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

struct reference {
  std::set<std::pair<double, uint32_t>> order;
  std::vector<double> key;
  explicit reference(uint32_t n) : key(n, inf) {
    for (uint32_t i = 0; i < n; ++i) order.emplace(inf, i);
  }
  void set(uint32_t id, double k) {
    order.erase({key[id], id});
    key[id] = k;
    order.emplace(k, id);
  }
};

// Checked with plain comparisons and reported through doctest only on a mismatch: millions of
// steps would otherwise spend most of their time in the assertion machinery.
void agree(const gs::indexed_heap& h, const reference& r) {
  const auto& [k, id] = *r.order.begin();
  if (h.size() != r.key.size() || h.top() != id || h.top_key() != k) {
    INFO("reference top (", k, ", ", id, "), heap top (", h.top_key(), ", ", h.top(), ")");
    REQUIRE(h.size() == r.key.size());
    REQUIRE(h.top() == id);
    REQUIRE(h.top_key() == k);
  }
}

void agree_all(const gs::indexed_heap& h, const reference& r) {
  agree(h, r);
  for (uint32_t i = 0; i < r.key.size(); ++i)
    if (h.key(i) != r.key[i]) {
      CAPTURE(i);
      REQUIRE(h.key(i) == r.key[i]);
    }
}

// A key drawn to make ties and extreme values common.
double random_key(std::mt19937_64& g, const reference& r, uint32_t id) {
  std::uniform_int_distribution<int> kind(0, 11);
  std::uniform_real_distribution<double> u(0, 100);
  switch (kind(g)) {
    case 0: return inf;
    case 1: return -inf;
    case 2: return 0.0;
    case 3: return std::floor(u(g) / 10);                    // few distinct values: many ties
    case 4: return r.order.begin()->first;                   // tie with the current top
    case 5: return r.key[id] + std::abs(u(g));               // increase (or inf + x = inf)
    case 6: return r.key[id] - std::abs(u(g));               // decrease
    case 7: return r.key[id];                                // unchanged
    case 8: return r.key[std::uniform_int_distribution<uint32_t>(0, uint32_t(r.key.size() - 1))(g)];  // tie
    case 9: return std::nextafter(r.order.begin()->first, inf);  // just after the top
    default: return u(g);
  }
}

}  // namespace

TEST_CASE("indexed_heap: starts with every id at infinity, smallest id on top") {
  gs::indexed_heap h(7);
  CHECK(h.size() == 7);
  CHECK(h.top() == 0);
  CHECK(h.top_key() == inf);
  for (uint32_t i = 0; i < 7; ++i) CHECK(h.key(i) == inf);
  gs::indexed_heap empty;
  CHECK(empty.size() == 0);
  CHECK(empty.top_key() == inf);
}

TEST_CASE("indexed_heap: ties go to the smaller id") {
  gs::indexed_heap h(10);
  for (uint32_t i : {9u, 3u, 7u, 5u}) h.set(i, 2.5);
  CHECK(h.top() == 3);
  h.set(3, 4.0);
  CHECK(h.top() == 5);
  h.set(0, 2.5);
  CHECK(h.top() == 0);
  h.set(0, inf);
  h.set(5, inf);
  CHECK(h.top() == 7);
  for (uint32_t i = 0; i < 10; ++i) h.set(i, 1.0);
  CHECK(h.top() == 0);
  for (uint32_t i = 0; i < 10; ++i) h.set(i, inf);
  CHECK(h.top() == 0);
  CHECK(h.top_key() == inf);
}

TEST_CASE("indexed_heap: pop in order gives (key, id) sorted") {
  // Drain the queue the way the simulator does: take the top, move it to infinity.
  std::mt19937_64 g(5);
  for (uint32_t n : {1u, 2u, 3u, 4u, 5u, 6u, 17u, 64u, 65u, 1000u}) {
    gs::indexed_heap h(n);
    std::vector<std::pair<double, uint32_t>> want;
    for (uint32_t i = 0; i < n; ++i) {
      const double k = std::floor(std::uniform_real_distribution<double>(0, 20)(g));
      h.set(i, k);
      want.emplace_back(k, i);
    }
    std::sort(want.begin(), want.end());
    for (const auto& [k, id] : want) {
      REQUIRE(h.top() == id);
      REQUIRE(h.top_key() == k);
      h.set(h.top(), inf);
    }
    CHECK(h.top_key() == inf);
    CHECK(h.top() == 0);
  }
}

TEST_CASE("indexed_heap: random operations against a std::set reference") {
  std::mt19937_64 g(20240601);
  uint64_t steps = 0;
  for (uint32_t n : {1u, 2u, 3u, 4u, 5u, 8u, 13u, 21u, 64u, 100u, 341u, 1000u, 5000u}) {
    CAPTURE(n);
    gs::indexed_heap h(n);
    reference r(n);
    agree_all(h, r);
    std::uniform_int_distribution<uint32_t> pick(0, n - 1);
    const int ops = n < 100 ? 50000 : 200000;
    for (int op = 0; op < ops; ++op) {
      // Half the time act on the top, as the simulator does after an event.
      const uint32_t id = (op % 2) ? r.order.begin()->second : pick(g);
      const double k = random_key(g, r, id);
      CAPTURE(op);
      CAPTURE(id);
      CAPTURE(k);
      h.set(id, k);
      r.set(id, k);
      agree(h, r);
      if (h.key(id) != r.key[id]) REQUIRE(h.key(id) == r.key[id]);
      if (op % 997 == 0) agree_all(h, r);
      ++steps;
    }
    agree_all(h, r);
  }
  MESSAGE("random heap operations checked: ", steps);
}
