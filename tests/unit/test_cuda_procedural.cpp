// The cuda backend's procedural delivery without a GPU: the function each thread of
// procedural_kernel runs (procedural_task, engine/backends/cuda/procedural_task.hpp), called here
// on the CPU for every (spike, task) of a step over the tables the backend builds, with the
// generators in their device form, must add to the input sums exactly what the clock backend's
// loop adds (regenerate per source and chunk, engine/backends/clock/simulator.cpp), in fixed point:
// the task layout, the source check, the chunk, slot and row arithmetic, the rounding of drawn
// delays, and fixed_total_number's tables read through device_form. Builds with CUDA only.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/network.hpp"
#include "tests/support/sim.hpp"

#if defined(GILLESPIKE_HAVE_CUDA)
#include "engine/backends/clock/grid.hpp"
#include "engine/backends/cuda/procedural_task.hpp"
#include "plugins/procedural_rules.hpp"

using namespace gs;

namespace {

// Two populations spanning several chunks, the two built-in procedural rules with drawn and
// constant weights and delays, both receptors, projections within and between populations.
const char* run_file = R"({"run": {"duration": 10, "backend": "clock", "dt": 0.1, "seed": 9},
  "populations": {"a": {"model": "lif_psc_exp", "size": 700}, "b": {"model": "lif_psc_exp", "size": 600}},
  "projections": [
    {"source": "a", "target": "b", "rule": {"pairwise_bernoulli": {"p": 0.05}}, "procedural": true,
     "weight": {"normal": {"mean": 20, "std": 5}}, "delay": {"uniform": [0.5, 4]}, "receptor": "excitatory"},
    {"source": "b", "target": "a", "rule": {"pairwise_bernoulli": {"p": 0.1}}, "procedural": true,
     "weight": -30, "delay": 2.0, "receptor": "inhibitory"},
    {"source": "a", "target": "a", "rule": {"fixed_total_number": {"N": 30000, "allow_multapses": true}},
     "procedural": true, "weight": 12, "delay": {"normal": {"mean": 2, "std": 0.5, "min": 0.5, "max": 4}},
     "receptor": "excitatory"},
    {"source": "b", "target": "b", "rule": {"fixed_total_number": {"N": 20000, "allow_multapses": true,
     "allow_autapses": false}}, "procedural": true, "weight": {"uniform": [-5, -1]}, "delay": 1.0,
     "receptor": "inhibitory"}]})";

}  // namespace

TEST_CASE("procedural_kernel's tasks add to the input sums what the clock backend's loop adds") {
  test::scratch_dir dir;
  const run_config cfg = load_config(dir.write("run.json", run_file), {}, default_registry());
  network net = build_network(cfg, default_registry());
  uint32_t max_delay = 1;
  const std::vector<delay_steps> delays = delays_in_steps(net, cfg, max_delay);
  const uint32_t N = net.neurons, ring_len = max_delay + 1;
  const uint64_t slot_size = uint64_t(3) * N;  // DC and two receptors
  const uint64_t k = 5;
  std::vector<uint32_t> fired;  // every 7th neuron of both populations
  for (uint32_t gid = 3; gid < N; gid += 7) fired.push_back(gid);

  // The clock backend's loop: each spike's outgoing projections, chunk by chunk.
  std::vector<long long> want(ring_len * slot_size, 0);
  uint64_t want_count = 0;
  std::vector<uint32_t> t(procedural_chunk);
  std::vector<float> w(procedural_chunk), d(procedural_chunk);
  for (uint32_t gid : fired) {
    const uint32_t pop = net.population_of(gid), local = gid - net.populations[pop]->first_gid;
    for (uint32_t pi : net.outgoing[pop]) {
      const projection& pr = net.projections[pi];
      const population_base& target = *net.populations[pr.target];
      for (uint32_t c = 0; c * procedural_chunk < target.size; ++c) {
        const uint32_t n = regenerate(pr, local, c, t.data(), w.data(), d.data());
        for (uint32_t j = 0; j < n; ++j) {
          const uint64_t steps = delays[pi].drawn ? uint64_t(std::llround(d[j] / cfg.dt)) : delays[pi].steps;
          const long long weight = pr.values.weight.is_constant() ? to_fixed(pr.weight) : std::llrint(double(w[j]) * input_scale);
          want[((k - 1 + steps) % ring_len) * slot_size + uint64_t(pr.receptor + 1) * N + target.first_gid + t[j]] += weight;
        }
        want_count += n;
      }
    }
  }

  // The kernel's tasks, over one table per rule as the cuda backend builds them.
  auto host_copy = [](const auto& v) { return v.data(); };  // device_form's upload, on the host
  procedural_table<bernoulli_chunks> bernoulli;
  procedural_table<total_number_cells> total;
  for (size_t pi = 0; pi < net.projections.size(); ++pi) {
    const projection& pr = net.projections[pi];
    REQUIRE(pr.procedural());
    const population_base &source = *net.populations[pr.source], &target = *net.populations[pr.target];
    const procedural_target where{source.first_gid, source.size, target.first_gid, target.size,
                                  uint32_t(pr.receptor + 1), to_fixed(pr.weight), delays[pi].steps};
    if (pr.rule == "pairwise_bernoulli")
      bernoulli.add(device_form(*pr.generate.target<bernoulli_chunks>(), host_copy), pr.values, where);
    else
      total.add(device_form(*pr.generate.target<total_number_chunks>(), host_copy), pr.values, where);
  }
  std::vector<long long> got(ring_len * slot_size, 0);
  uint64_t got_count = 0;
  const auto n_fired = static_cast<uint32_t>(fired.size());
  const procedural_step st{fired.data(), &n_fired, got.data(), slot_size, N, ring_len, k, cfg.dt, nullptr, 0};
  auto add = [](long long* sum, long long weight) { *sum += weight; };
  auto run = [&](const auto& table) {
    for (uint64_t i = 0; i < uint64_t(n_fired) * table.tasks; ++i)
      got_count += procedural_task(table.projections.data(), uint32_t(table.projections.size()), table.tasks, st, i,
                                   t.data(), add);
  };
  run(bernoulli);
  run(total);

  MESSAGE(fired.size() << " spikes, " << want_count << " synapses delivered");
  CHECK(want_count > 10000);
  CHECK(got_count == want_count);
  CHECK(got == want);
}

#endif
