// Distance-dependent connectivity between populations with positions (docs/config.md,
// "positions" and "Spatial connection rules"): connection-probability profiles, masks, and a
// neighbour search so that a masked rule visits only the pairs its mask can hold, not all N^2.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/registry.hpp"

namespace gs::spatial {

// A problem in a profile or mask object. `path` is dotted below the object ("gaussian.sigma"),
// so the config can point at the offending key.
struct spec_error : std::runtime_error {
  spec_error(std::string path, const std::string& message) : std::runtime_error(message), path(std::move(path)) {}
  std::string path;
};

// Connection probability (or, for fixed_indegree, sampling weight) as a function of distance.
struct profile {
  enum kind_t { constant, gaussian, exponential } kind = constant;
  double p_center = 1;  // value at distance 0
  double scale = 1;     // gaussian: sigma; exponential: tau (a length)

  double operator()(double d) const {
    switch (kind) {
      case constant: return p_center;
      case gaussian: return p_center * std::exp(-d * d / (2 * scale * scale));
      case exponential: return p_center * std::exp(-d / scale);
    }
    return 0;
  }
};

// The displacements (target position minus source position) a rule may connect.
struct mask {
  enum kind_t { none, circular, box, doughnut } kind = none;
  double inner = 0, outer = std::numeric_limits<double>::infinity();  // circular, doughnut
  position lower_left{0, 0}, upper_right{0, 0};                       // box

  bool contains(double dx, double dy) const {
    switch (kind) {
      case none: return true;
      case circular: return dx * dx + dy * dy <= outer * outer;
      case doughnut: {
        const double r2 = dx * dx + dy * dy;
        return r2 >= inner * inner && r2 <= outer * outer;
      }
      case box: return dx >= lower_left[0] && dx <= upper_right[0] && dy >= lower_left[1] && dy <= upper_right[1];
    }
    return false;
  }
  // The smallest box of displacements holding the mask (infinite without one).
  position low() const;
  position high() const;
};

// Parse the run file's forms; throw spec_error. A profile is a number in [0, 1] or
// {"gaussian": {"p_center", "sigma"}} / {"exponential": {"p_center", "tau"}}; a mask is
// {"circular": {"radius"}}, {"box": {"lower_left", "upper_right"}} or
// {"doughnut": {"inner_radius", "outer_radius"}}.
profile read_profile(const json& v);
mask read_mask(const json& v);

// Whether a rule's parameters need positions: a profile object for `p`, or a mask.
bool needs_positions(const json& params);

// Target minus source, the shorter way round a torus when periodic.
struct geometry {
  bool periodic = false;
  position extent{0, 0};
  position displacement(const position& from, const position& to) const {
    return {wrap(to[0] - from[0], extent[0]), wrap(to[1] - from[1], extent[1])};
  }
  double wrap(double d, double w) const {
    if (!periodic) return d;
    // Positions of one layer lie within one extent, so one subtraction nearly always does; the
    // library call is for layers with different centres.
    if (d > w / 2) d -= w;
    else if (d < -w / 2) d += w;
    if (d > w / 2 || d < -w / 2) d -= w * std::nearbyint(d / w);
    return d;
  }
};

// Points bucketed into a grid of cells (counting sort, points in increasing index within a cell).
// visit(lo, hi, f) calls f(i, position of i) once for every point whose position lies in the box
// [lo, hi] (wrapped on a torus), and for some near it: callers test their mask exactly. The
// positions are kept in cell order, so a query reads memory in sequence.
class cell_index {
 public:
  // `reach`: the size of the boxes that will be asked for, which sets the cell size.
  cell_index(std::span<const position> points, const geometry& g, position reach);

  template <class F>
  void visit(const position& lo, const position& hi, F&& f) const {
    int64_t x0, x1, y0, y1;
    if (!range(lo[0], hi[0], 0, x0, x1) || !range(lo[1], hi[1], 1, y0, y1)) return;
    for (int64_t cy = y0; cy <= y1; ++cy) {
      const int64_t ry = wrap(cy, n_[1]);
      for (int64_t cx = x0; cx <= x1; ++cx) {
        const uint64_t cell = uint64_t(ry) * uint64_t(n_[0]) + uint64_t(wrap(cx, n_[0]));
        for (uint64_t k = start_[cell]; k < start_[cell + 1]; ++k) f(order_[k], pos_[k]);
      }
    }
  }

 private:
  // The cells [c0, c1] along one axis covering [lo, hi]; false when none.
  bool range(double lo, double hi, int axis, int64_t& c0, int64_t& c1) const;
  int64_t wrap(int64_t c, int64_t n) const { return periodic_ ? ((c % n) + n) % n : c; }
  int64_t cell_of(double x, int axis) const;

  bool periodic_;
  position origin_{0, 0}, size_{1, 1}, extent_{0, 0};  // cell size; torus size when periodic
  int64_t n_[2] = {1, 1};
  std::vector<uint64_t> start_;  // per cell, into order_
  std::vector<uint32_t> order_;  // point indices by cell
  std::vector<position> pos_;    // their positions, in the same order
};

// The spatial forms of the built-in rules; plugins/connection_rules.cpp sends a rule here when
// needs_positions(params). Both read ctx's positions and geometry.
void pairwise_bernoulli(const json& params, const rule_context& ctx, synapse_sink& sink);
// NEST's fixed_indegree with a spatial kernel: each target draws `indegree` sources with
// probability proportional to the profile within the mask; with replacement, or, without
// multapses, one after another among those not yet drawn (successive sampling).
void fixed_indegree(const json& params, const rule_context& ctx, synapse_sink& sink);

// The part of a rule check that is about space: parameters readable, positions present.
std::string check(const json& params, const rule_context& ctx);

}  // namespace gs::spatial
