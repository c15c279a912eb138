// Synapse storage (issue 2, acceptance point 5): a projection of 10^7 synapses with a constant
// delay is stored in at most 8 bytes per synapse. The figures (bytes per synapse of the
// per-synapse arrays, the row-offset overhead, and the growth of resident memory while
// building) are printed with MESSAGE so the test log documents them.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>

#include "engine/network.hpp"
#include "engine/value.hpp"
#include "plugins/registry.hpp"

namespace {

// Peak resident set size of this process so far (Linux reports ru_maxrss in KiB).
uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return uint64_t(u.ru_maxrss) * 1024;
}

// Resident set size now, from /proc/self/statm (0 where it is not available).
uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

struct figures {
  uint64_t synapses, bytes, row_bytes;
  double per_synapse, row_per_synapse;
  uint64_t peak_growth, peak_over_start, rss_growth;
};

// fixed_indegree 1000 from 10^4 sources onto 10^4 targets: exactly 10^7 synapses.
figures build(const gs::value_spec& weight, const gs::value_spec& delay) {
  const gs::rule_info* rule = gs::default_registry().find_rule("fixed_indegree");
  REQUIRE(rule != nullptr);
  const gs::json params = {{"indegree", 1000u}, {"allow_autapses", true}, {"allow_multapses", false}};
  gs::rule_context ctx;
  ctx.n_source = 10000;
  ctx.n_target = 10000;
  ctx.same_population = false;
  ctx.seed = 2024;
  ctx.projection = 0;
  REQUIRE(rule->check(params, ctx).empty());

  const uint64_t peak0 = peak_rss_bytes(), rss0 = rss_bytes();
  const gs::projection p = gs::connect(*rule, params, ctx, weight, delay);
  const uint64_t peak1 = peak_rss_bytes(), rss1 = rss_bytes();

  figures f{};
  f.synapses = p.synapses();
  f.bytes = p.bytes();
  f.row_bytes = p.row.capacity() * sizeof(uint64_t);
  f.per_synapse = double(f.bytes - f.row_bytes) / double(f.synapses);
  f.row_per_synapse = double(f.row_bytes) / double(f.synapses);
  f.peak_growth = peak1 - peak0;
  // The build's own high-water mark above the memory resident before it (exact when the build
  // set a new peak, an upper bound otherwise).
  f.peak_over_start = peak1 > rss0 ? peak1 - rss0 : 0;
  f.rss_growth = rss1 > rss0 ? rss1 - rss0 : 0;
  CHECK(p.synapses() == 10'000'000);
  CHECK(p.row.size() == ctx.n_source + 1);
  CHECK(p.row.back() == p.synapses());
  return f;
}

void report(const char* what, const figures& f) {
  MESSAGE(fmt::format(
      "{}: {} synapses, {} bytes in all ({:.3f} MB); per-synapse arrays {:.4f} B/synapse, row offsets "
      "{} bytes = {:.4f} B/synapse, total {:.4f} B/synapse; getrusage peak RSS grew {:.1f} MB (over the "
      "earlier peak), peak during the build {:.1f} MB above the resident memory before it, resident "
      "memory {:.1f} MB more with the projection alive",
      what, f.synapses, f.bytes, f.bytes / 1e6, f.per_synapse, f.row_bytes, f.row_per_synapse,
      double(f.bytes) / double(f.synapses), f.peak_growth / 1e6, f.peak_over_start / 1e6, f.rss_growth / 1e6));
}

}  // namespace

TEST_CASE("10^7 synapses with constant weight and delay: 4 bytes per synapse") {
  const figures f = build(gs::value_spec::of(0.5), gs::value_spec::of(1.5));
  report("constant weight, constant delay", f);
  CHECK(f.per_synapse == doctest::Approx(4.0).epsilon(1e-9));
  CHECK(f.per_synapse <= 8.0);
  // The row offsets add one uint64 per source neuron: negligible at 1000 synapses per row.
  CHECK(f.row_bytes == (10000 + 1) * sizeof(uint64_t));
}

TEST_CASE("10^7 synapses with distributed weight and constant delay: 8 bytes per synapse") {
  gs::value_spec w;
  w.kind = gs::value_spec::normal;
  w.a = 0.5;
  w.b = 0.1;
  const figures f = build(w, gs::value_spec::of(1.5));
  report("normal weight, constant delay", f);
  CHECK(f.per_synapse == doctest::Approx(8.0).epsilon(1e-9));
  CHECK(f.per_synapse <= 8.0);
}
