#include "engine/backends/cuda/simulator.hpp"

#include <cuda_runtime.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "engine/backends/clock/grid.hpp"
#include "engine/backends/cuda/check.hpp"
#include "engine/backends/cuda/device_buffer.hpp"
#include "engine/backends/cuda/population.hpp"
#include "engine/backends/cuda/procedural.hpp"
#include "engine/population.hpp"
#include "engine/rng.hpp"

namespace gs {

namespace {

// A projection as the delivery kernel reads it. Synapse s of source row r is
// targets[row[r] + s]; a null weights or delays pointer means the shared value.
struct device_projection {
  const uint64_t* row;
  const uint32_t* targets;
  const float* weights;
  const uint16_t* delays;
  long long weight;     // the shared weight in fixed point
  uint32_t delay;       // the shared delay in steps
  uint32_t target_gid;  // first global id of the target population
  uint32_t input_row;   // 1 + receptor
};

// The spikes of step k - 1 (global ids) into the input sums of later steps: a warp per spike,
// its lanes over the synapses of each outgoing row. Sums are fixed point (population.hpp), so the
// order in which warps add does not change them.
__global__ void deliver_kernel(const uint32_t* fired, const uint32_t* fired_count, const uint32_t* pop_first,
                               uint32_t n_pops, const uint32_t* out_first, const uint32_t* out_list,
                               const device_projection* projections, long long* ring, uint64_t slot_size,
                               uint32_t n_total, uint64_t k, uint32_t ring_len) {
  const uint32_t lane = threadIdx.x & 31u;
  const uint32_t warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const uint32_t n_warps = (gridDim.x * blockDim.x) >> 5;
  const uint32_t n = *fired_count;
  for (uint32_t j = warp; j < n; j += n_warps) {
    const uint32_t gid = fired[j];
    uint32_t pop = 0;
    while (pop + 1 < n_pops && gid >= pop_first[pop + 1]) ++pop;
    const uint32_t local = gid - pop_first[pop];
    for (uint32_t o = out_first[pop]; o < out_first[pop + 1]; ++o) {
      const device_projection pr = projections[out_list[o]];
      const uint64_t b = pr.row[local], e = pr.row[local + 1];
      for (uint64_t s = b + lane; s < e; s += 32) {
        const uint32_t d = pr.delays ? pr.delays[s] : pr.delay;
        const long long w = pr.weights ? __double2ll_rn(double(pr.weights[s]) * input_scale) : pr.weight;
        const uint64_t slot = (k - 1 + d) % ring_len;
        long long* sum = ring + slot * slot_size + uint64_t(pr.input_row) * n_total + pr.target_gid + pr.targets[s];
        atomicAdd(reinterpret_cast<unsigned long long*>(sum), static_cast<unsigned long long>(w));
      }
    }
  }
}

// One target of a stimulus drawn as per-step Poisson counts (grid.hpp, counted_stimulus).
struct device_counted_target {
  uint32_t stimulus, draw;  // the stimulus, and the target's key in its draws
  uint64_t sum;             // index of its input sum within a slot: input row * n_total + gid
  long long weight;         // fixed point
};

// Each target's count in step k, by inversion of its stimulus's table with a draw keyed by
// (seed, stimulus, target, k): independent of the launch configuration.
__global__ void poisson_kernel(const device_counted_target* targets, uint32_t n, const double* cdf,
                               const uint32_t* cdf_begin, const uint32_t* first, uint64_t seed, uint64_t k,
                               long long* slot, unsigned long long* deliveries) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  uint32_t count = 0;
  if (i < n) {
    const device_counted_target t = targets[i];
    const uint32_t b = cdf_begin[t.stimulus], e = cdf_begin[t.stimulus + 1];
    if (e > b) {  // active in this step
      const double u = rng_stream(seed, rng_purpose::cuda_poisson, t.draw, static_cast<uint32_t>(k), t.stimulus).uniform();
      uint32_t j = b;
      while (u >= cdf[j]) ++j;  // the last entry is 1
      count = first[t.stimulus] + (j - b);
      if (count) atomicAdd(reinterpret_cast<unsigned long long*>(slot + t.sum), static_cast<unsigned long long>(count * t.weight));
    }
  }
  // One atomic per warp for the event count (every lane reaches this point).
  const uint32_t warp_sum = __reduce_add_sync(0xffffffffu, count);
  if ((threadIdx.x & 31u) == 0 && warp_sum) atomicAdd(deliveries, static_cast<unsigned long long>(warp_sum));
}

// Inputs computed on the host (stimuli other than Poisson counts: DC steps, spike generators).
__global__ void add_kernel(const uint64_t* index, const long long* value, uint32_t n, long long* slot) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(reinterpret_cast<unsigned long long*>(slot + index[i]), static_cast<unsigned long long>(value[i]));
}

// The step's spikes, appended to the recording buffer with their step; clears the other spike
// list, which the next step's neurons fill (this step's delivery has read it).
__global__ void record_kernel(const uint32_t* fired, uint32_t* fired_count, int current, uint32_t* rec_gid,
                              uint32_t* rec_step, unsigned long long* rec_count, uint32_t k) {
  const uint32_t n = fired_count[current];
  const unsigned long long base = *rec_count;
  for (uint32_t j = threadIdx.x; j < n; j += blockDim.x) {
    rec_gid[base + j] = fired[j];
    rec_step[base + j] = k;
  }
  __syncthreads();  // every thread has read *rec_count
  if (threadIdx.x == 0) {
    *rec_count = base + n;
    fired_count[current ^ 1] = 0;
  }
}

// Device time between two points of the stream, summed over intervals: an interval opened after
// kernels starts when they end, so a copy's interval holds the copy alone.
class device_timer {
 public:
  device_timer() {
    GS_CUDA(cudaEventCreate(&a_));
    GS_CUDA(cudaEventCreate(&b_));
  }
  ~device_timer() {
    cudaEventDestroy(a_);
    cudaEventDestroy(b_);
  }
  void start() { GS_CUDA(cudaEventRecord(a_)); }
  void stop() {
    GS_CUDA(cudaEventRecord(b_));
    GS_CUDA(cudaEventSynchronize(b_));
    float ms = 0;
    GS_CUDA(cudaEventElapsedTime(&ms, a_, b_));
    seconds += 1e-3 * ms;
  }
  double seconds = 0;

 private:
  cudaEvent_t a_, b_;
};

}  // namespace

run_result simulate_cuda(network& net, const run_config& cfg, const progress_fn& progress, spike_sink* sink) {
  int devices = 0;
  const cudaError_t probe = cudaGetDeviceCount(&devices);
  if (probe != cudaSuccess || devices == 0)
    throw cuda_error(fmt::format("the cuda backend found no usable GPU ({}); run.backend \"clock\" runs the same "
                                 "step on the CPU",
                                 probe != cudaSuccess ? cudaGetErrorString(probe) : "no device"));
  run_result res;
  res.sink = sink;
  res.threads = 0;
  const double dt = cfg.dt, T = cfg.duration;
  const uint64_t n_steps = static_cast<uint64_t>(std::floor(T / dt + 1e-9));  // as the clock backend
  const uint32_t N = net.neurons;
  const size_t n_pops = net.populations.size();

  // Populations on the device, through the model's GPU form (validated: every model has one).
  const registry& reg = default_registry();
  std::vector<std::unique_ptr<cuda_population>> pops;
  std::vector<uint32_t> pop_first;
  uint32_t rows = 1;  // input rows: DC, then one per receptor of the widest model
  for (auto& p : net.populations) {
    p->prepare_steps(dt);
    const model_info* m = reg.find_model(p->model);
    if (!m || !m->make_cuda)
      throw config_error(cfg.file, "populations." + p->name + ".model",
                         fmt::format("cell model \"{}\" cannot run on the GPU", p->model));
    pops.push_back(m->make_cuda(*p));
    pop_first.push_back(p->first_gid);
    rows = std::max<uint32_t>(rows, 1 + p->receptor_count());
  }
  pop_first.push_back(N);

  // Projections: CSR, weights and delays in steps; procedural ones through their rule's GPU form,
  // one object per rule (validated: every such rule has one).
  uint32_t max_delay = 1;
  std::vector<delay_steps> delays = delays_in_steps(net, cfg, max_delay);
  std::map<std::string, std::unique_ptr<cuda_procedural>> procedural;
  struct owned {
    device_buffer<uint64_t> row;
    device_buffer<uint32_t> targets;
    device_buffer<float> weights;
    device_buffer<uint16_t> delays;
  };
  std::vector<owned> storage(net.projections.size());
  std::vector<device_projection> projections;
  for (size_t i = 0; i < net.projections.size(); ++i) {
    const projection& pr = net.projections[i];
    const population_base &source = *net.populations[pr.source], &target = *net.populations[pr.target];
    if (pr.procedural()) {
      std::unique_ptr<cuda_procedural>& rule = procedural[pr.rule];
      if (!rule) rule = reg.find_rule(pr.rule)->make_cuda();
      rule->add(pr, {source.first_gid, source.size, target.first_gid, target.size, uint32_t(pr.receptor + 1),
                     to_fixed(pr.weight), delays[i].steps});
      projections.push_back({});  // keeps the indices of out_list; the CSR kernel never reads it
      continue;
    }
    owned& o = storage[i];
    o.row.upload(pr.row);
    o.targets.upload(pr.targets);
    o.weights.upload(pr.weights);
    o.delays.upload(delays[i].per_synapse);
    projections.push_back({o.row.data(), o.targets.data(), pr.weights.empty() ? nullptr : o.weights.data(),
                           delays[i].per_synapse.empty() ? nullptr : o.delays.data(), to_fixed(pr.weight),
                           delays[i].steps, target.first_gid, uint32_t(pr.receptor + 1)});
  }
  std::vector<uint32_t> out_first{0}, out_list;  // stored projections only
  for (size_t p = 0; p < n_pops; ++p) {
    for (uint32_t pi : net.outgoing[p])
      if (!net.projections[pi].procedural()) out_list.push_back(pi);
    out_first.push_back(static_cast<uint32_t>(out_list.size()));
  }
  device_buffer<device_projection> d_projections(projections);
  device_buffer<uint32_t> d_out_first(out_first), d_out_list(out_list), d_pop_first(pop_first);

  // Ring of input sums, as on the clock backend: the slot of step k is read and cleared by step k.
  const uint32_t ring_len = max_delay + 1;
  const uint64_t slot_size = uint64_t(rows) * N;
  device_buffer<long long> ring(ring_len * slot_size);
  auto slot = [&](uint64_t k) { return ring.data() + (k % ring_len) * slot_size; };

  // Spikes: two lists (this step's, and the last step's being delivered), then a recording buffer
  // copied out every chunk_steps steps; it holds N entries a step, so it cannot overflow.
  device_buffer<uint32_t> fired[2] = {device_buffer<uint32_t>(N), device_buffer<uint32_t>(N)};
  device_buffer<uint32_t> fired_count(2);
  const uint64_t chunk_steps = std::clamp<uint64_t>((uint64_t(1) << 24) / std::max<uint32_t>(N, 1), 1, 1000);
  device_buffer<uint32_t> rec_gid(chunk_steps * N), rec_step(chunk_steps * N);
  device_buffer<unsigned long long> rec_count(1), deliveries(1);

  // Poisson stimuli as per-step counts; others through the host, event by event.
  std::vector<device_counted_target> counted_targets;
  grid_stimuli stimuli(net, cfg, [&](uint32_t c, uint32_t, uint32_t j, uint32_t gid, uint32_t row, double w) {
    counted_targets.push_back({c, j, uint64_t(row) * N + gid, to_fixed(w)});
  });
  std::vector<counted_stimulus>& counted = stimuli.counted();
  device_buffer<device_counted_target> d_counted(counted_targets);
  device_buffer<double> d_cdf;
  device_buffer<uint32_t> d_cdf_begin, d_cdf_first;
  auto upload_tables = [&] {
    std::vector<double> cdf;
    std::vector<uint32_t> begin{0}, first;
    for (const counted_stimulus& cs : counted) {
      cdf.insert(cdf.end(), cs.cdf().begin(), cs.cdf().end());
      begin.push_back(static_cast<uint32_t>(cdf.size()));
      first.push_back(cs.first());
    }
    d_cdf.upload(cdf);
    d_cdf_begin.upload(begin);
    d_cdf_first.upload(first);
  };

  std::vector<uint64_t> add_index;
  std::vector<long long> add_value;
  device_buffer<uint64_t> d_add_index;
  device_buffer<long long> d_add_value;
  // Stimulus events up to the end of step k (all of them at time 0 for k = -1) into `sums`.
  auto take_stimuli = [&](int64_t k, long long* sums) {
    add_index.clear();
    add_value.clear();
    res.synaptic_events += stimuli.take(k, [&](uint32_t gid, uint32_t row, double w) {
      add_index.push_back(uint64_t(row) * N + gid);
      add_value.push_back(to_fixed(w));
    });
    if (add_index.empty()) return;
    d_add_index.upload(add_index);
    d_add_value.upload(add_value);
    const auto n = static_cast<uint32_t>(add_index.size());
    add_kernel<<<(n + 255) / 256, 256>>>(d_add_index.data(), d_add_value.data(), n, sums);
    GS_CUDA_LAUNCHED("add_kernel");
  };

  // State recorders sample on the grid as on the clock backend; values are gathered on the
  // device into a buffer of sample rows and copied out when it is full.
  grid_samples samples(cfg, n_steps, res.traces);
  struct sampler {
    cuda_population* pop;
    std::vector<int> vars;
    device_buffer<uint32_t> ids;
    device_buffer<float> rows;  // capacity rows of (variable, id) values
    uint64_t filled = 0, capacity = 0;
  };
  std::vector<sampler> samplers;
  for (const auto& r : cfg.state_recorders) {
    const int pi = cfg.population_index(r.population);
    sampler s;
    s.pop = pops[pi].get();
    for (const auto& v : r.variables) s.vars.push_back(net.populations[pi]->state_index(v));
    s.ids.upload(r.ids);
    const uint64_t width = std::max<uint64_t>(1, r.ids.size() * r.variables.size());
    s.capacity = std::max<uint64_t>(1, (uint64_t(1) << 22) / width);
    s.rows.resize(s.capacity * width);
    samplers.push_back(std::move(s));
  }
  device_timer loop_time, copy_time;
  auto flush_samples = [&](size_t r) {
    copy_time.start();
    sampler& s = samplers[r];
    trace_data& tr = res.traces[r];
    const size_t n_ids = tr.spec->ids.size();
    std::vector<float> host(s.filled * n_ids * s.vars.size());
    if (!host.empty()) GS_CUDA(cudaMemcpy(host.data(), s.rows.data(), host.size() * sizeof(float), cudaMemcpyDeviceToHost));
    copy_time.stop();
    for (uint64_t row = 0; row < s.filled; ++row)
      for (size_t v = 0; v < s.vars.size(); ++v)
        for (size_t i = 0; i < n_ids; ++i) tr.values[v].push_back(host[(row * s.vars.size() + v) * n_ids + i]);
    s.filled = 0;
  };
  auto take_samples = [&](uint64_t m) {
    samples.at(m, [&](size_t r) {
      sampler& s = samplers[r];
      const auto n_ids = static_cast<uint32_t>(res.traces[r].spec->ids.size());
      for (size_t v = 0; v < s.vars.size(); ++v)
        s.pop->gather(s.vars[v], s.ids.data(), n_ids, s.rows.data() + (s.filled * s.vars.size() + v) * n_ids, 0);
      if (++s.filled == s.capacity) flush_samples(r);
    });
  };

  // Spikes copied out: sorted by (step, gid) so the output is the clock backend's order and does
  // not depend on the order of the device's atomics; counted per population; synaptic events
  // counted for those delivered before the end (the last step's spikes arrive after T).
  std::vector<uint32_t> host_gid, host_step;
  std::vector<uint64_t> order;
  std::vector<char> recorded(n_pops, 0);
  for (const auto& name : cfg.spike_populations) recorded[cfg.population_index(name)] = 1;
  res.spikes_per_population.assign(n_pops, 0);
  auto flush_spikes = [&] {
    unsigned long long n = 0;
    copy_time.start();
    GS_CUDA(cudaMemcpy(&n, rec_count.data(), sizeof n, cudaMemcpyDeviceToHost));
    host_gid.resize(n);
    host_step.resize(n);
    if (n > 0) {
      GS_CUDA(cudaMemcpy(host_gid.data(), rec_gid.data(), n * sizeof(uint32_t), cudaMemcpyDeviceToHost));
      GS_CUDA(cudaMemcpy(host_step.data(), rec_step.data(), n * sizeof(uint32_t), cudaMemcpyDeviceToHost));
      GS_CUDA(cudaMemset(rec_count.data(), 0, sizeof n));
    }
    copy_time.stop();
    order.resize(n);
    for (uint64_t i = 0; i < n; ++i) order[i] = (uint64_t(host_step[i]) << 32) | host_gid[i];
    std::sort(order.begin(), order.end());
    for (uint64_t key : order) {
      const auto gid = static_cast<uint32_t>(key), step = static_cast<uint32_t>(key >> 32);
      const auto pop = static_cast<size_t>(std::upper_bound(pop_first.begin(), pop_first.end(), gid) - pop_first.begin() - 1);
      ++res.spikes_per_population[pop];
      if (recorded[pop]) {
        res.record_spike(static_cast<double>(step + 1) * dt, gid);
      }
      if (step + 1 < n_steps) {  // procedural deliveries are counted on the device
        const uint32_t local = gid - pop_first[pop];
        for (uint32_t pi : net.outgoing[pop]) {
          const projection& pr = net.projections[pi];
          if (!pr.procedural()) res.synaptic_events += pr.row[local + 1] - pr.row[local];
        }
      }
    }
  };

  // Launch shapes. Delivery: enough warps to fill the device; every kernel checks its bounds.
  int sm = 0, device = 0;
  GS_CUDA(cudaGetDevice(&device));
  GS_CUDA(cudaDeviceGetAttribute(&sm, cudaDevAttrMultiProcessorCount, device));
  const uint32_t deliver_blocks = static_cast<uint32_t>(std::max(1, sm * 4));
  const auto n_counted = static_cast<uint32_t>(counted_targets.size());

  auto step_all = [&](uint64_t k, bool receive_only) {
    step_io io{slot(k), N, 0, fired[k & 1].data(), fired_count.data() + (k & 1), dt, cfg.seed};
    for (size_t p = 0; p < n_pops; ++p) {
      io.first_gid = pop_first[p];
      pops[p]->step(io, k, receive_only, 0);
    }
  };

  loop_time.start();
  // Time 0: inputs due then are received without a step (their spikes list stays empty).
  take_stimuli(-1, slot(0));
  step_all(0, true);
  take_samples(0);

  for (uint64_t k = 0; k < n_steps; ++k) {
    long long* sums = slot(k);
    take_stimuli(static_cast<int64_t>(k), sums);
    bool changed = false;
    for (counted_stimulus& cs : counted) changed |= cs.set_step(double(k) * dt, double(k + 1) * dt);
    if (changed || k == 0) upload_tables();
    if (k > 0) {
      const int prev = int((k - 1) & 1);
      deliver_kernel<<<deliver_blocks, 256>>>(fired[prev].data(), fired_count.data() + prev, d_pop_first.data(),
                                              uint32_t(n_pops), d_out_first.data(), d_out_list.data(),
                                              d_projections.data(), ring.data(), slot_size, N, k, ring_len);
      GS_CUDA_LAUNCHED("deliver_kernel");
      for (auto& [name, rule] : procedural)
        rule->deliver({fired[prev].data(), fired_count.data() + prev, ring.data(), slot_size, N, ring_len, k, dt,
                       deliveries.data(), deliver_blocks},
                      0);
    }
    if (n_counted) {
      poisson_kernel<<<(n_counted + 255) / 256, 256>>>(d_counted.data(), n_counted, d_cdf.data(), d_cdf_begin.data(),
                                                       d_cdf_first.data(), cfg.seed, k, sums, deliveries.data());
      GS_CUDA_LAUNCHED("poisson_kernel");
    }
    step_all(k, false);
    record_kernel<<<1, 256>>>(fired[k & 1].data(), fired_count.data(), int(k & 1), rec_gid.data(), rec_step.data(),
                              rec_count.data(), static_cast<uint32_t>(k));
    GS_CUDA_LAUNCHED("record_kernel");
    take_samples(k + 1);
    if ((k + 1) % chunk_steps == 0) flush_spikes();
    if (progress && (k & 1023) == 1023) {
      GS_CUDA(cudaDeviceSynchronize());
      progress(static_cast<double>(k + 1) * dt);
    }
  }
  flush_spikes();
  for (size_t r = 0; r < samplers.size(); ++r) flush_samples(r);
  unsigned long long device_events = 0;  // Poisson counts and procedural synapses
  GS_CUDA(cudaMemcpy(&device_events, deliveries.data(), sizeof device_events, cudaMemcpyDeviceToHost));
  res.synaptic_events += device_events;
  loop_time.stop();
  res.device_s = loop_time.seconds;
  res.copy_s = copy_time.seconds;
  res.events = n_steps * N;
  res.pass_spikes();
  return res;
}

}  // namespace gs
