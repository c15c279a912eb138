#include "learning/decode/data.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include "io/config.hpp"

namespace gs::decode {

using nlohmann::json;

namespace {

double finite_number(const json& v, const std::string& where) {
  if (!v.is_number())
    throw data_error(fmt::format("{}: expected a number, found {}", where, v.dump().substr(0, 40)));
  const double x = v.get<double>();
  // nlohmann parses 1e999 as inf; NaN cannot be written in JSON, but guard all the same.
  if (!std::isfinite(x)) throw data_error(fmt::format("{}: expected a finite number, found {}", where, x));
  return x;
}

}  // namespace

json read_json_object(const std::filesystem::path& file, const std::string& what) {
  std::ifstream in(file);
  if (!in) throw data_error(fmt::format("{}: cannot open the {}", file.string(), what));
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    const bool non_finite = text.find("NaN") != std::string::npos || text.find("Infinity") != std::string::npos;
    throw data_error(fmt::format("{}: the {} is not valid JSON: {}{}", file.string(), what, e.what(),
                                 non_finite ? " (it holds NaN or Infinity: NaN and Infinity, which Python's json "
                                              "module writes, are not JSON numbers, and every value must be finite)"
                                            : ""));
  }
  if (!j.is_object()) throw data_error(fmt::format("{}: the {} must hold a JSON object", file.string(), what));
  return j;
}

target_series read_target(const std::filesystem::path& file) {
  target_series t;
  t.source = file.string();
  const json j = read_json_object(file, "target file");
  const std::vector<std::string> known = {"names", "times_ms", "end_ms", "values", "description"};
  for (const auto& [key, value] : j.items())
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      const std::string c = closest_name(key, known);
      throw data_error(fmt::format("{}: unknown key '{}'{}", t.source, key,
                                   c.empty() ? fmt::format(" (known: names, times_ms, end_ms, values)")
                                             : fmt::format(" (did you mean '{}'?)", c)));
    }
  for (const char* key : {"names", "times_ms", "end_ms", "values"})
    if (!j.contains(key)) throw data_error(fmt::format("{}: missing key '{}'", t.source, key));
  const json& names = j["names"];
  if (!names.is_array() || names.empty())
    throw data_error(fmt::format("{}: names: expected a non-empty array of strings", t.source));
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (!names[k].is_string()) throw data_error(fmt::format("{}: names[{}]: expected a string", t.source, k));
    t.names.push_back(names[k].get<std::string>());
  }
  const json& times = j["times_ms"];
  const json& values = j["values"];
  if (!times.is_array() || times.empty())
    throw data_error(fmt::format("{}: times_ms: expected a non-empty array of numbers", t.source));
  if (!values.is_array() || values.size() != times.size())
    throw data_error(fmt::format("{}: values: expected an array of {} rows (one per entry of times_ms), found {}",
                                 t.source, times.size(), values.is_array() ? std::to_string(values.size()) : values.type_name()));
  for (std::size_t k = 0; k < times.size(); ++k) {
    t.times_ms.push_back(finite_number(times[k], fmt::format("{}: times_ms[{}]", t.source, k)));
    if (k > 0 && !(t.times_ms[k] > t.times_ms[k - 1]))
      throw data_error(fmt::format("{}: times_ms[{}]: expected times that increase, found {} after {}", t.source, k,
                                   t.times_ms[k], t.times_ms[k - 1]));
    const json& row = values[k];
    if (!row.is_array() || row.size() != t.names.size())
      throw data_error(fmt::format("{}: values[{}]: expected {} numbers (one per name: {}), found {}", t.source, k,
                                   t.names.size(), fmt::join(t.names, ", "), row.dump().substr(0, 60)));
    std::vector<double> r;
    for (std::size_t c = 0; c < row.size(); ++c)
      r.push_back(finite_number(row[c], fmt::format("{}: values[{}][{}]", t.source, k, c)));
    t.values.push_back(std::move(r));
  }
  t.end_ms = finite_number(j["end_ms"], fmt::format("{}: end_ms", t.source));
  if (!(t.end_ms > t.times_ms.back()))
    throw data_error(fmt::format("{}: end_ms: expected a time after the last of times_ms ({}), found {}", t.source,
                                 t.times_ms.back(), t.end_ms));
  return t;
}

binned_data bin_data(const predictor::spike_train& spikes, const target_series& target, double bin_ms,
                     double start_ms, double stop_ms) {
  if (!(bin_ms > 0)) throw data_error(fmt::format("data.bin_ms: expected a positive number, found {}", bin_ms));
  const double t0 = target.times_ms.front(), t1 = target.end_ms;
  if (!(start_ms >= t0 && stop_ms <= t1 && start_ms < stop_ms))
    throw data_error(fmt::format("data.start_ms, data.stop_ms: expected a window within the target's span [{}, {}] "
                                 "ms of {}, found [{}, {}]",
                                 t0, t1, target.source, start_ms, stop_ms));
  if (!spikes.t_ms.empty() && spikes.t_ms.back() > t1)
    throw data_error(fmt::format("{}: spikes run to {} ms, past the end of the target in {} ({} ms): the target "
                                 "does not cover the recording",
                                 spikes.source, spikes.t_ms.back(), target.source, t1));
  const Eigen::Index bins = Eigen::Index(std::floor((stop_ms - start_ms) / bin_ms + 1e-9));
  if (bins < 1)
    throw data_error(fmt::format("data: the window [{}, {}] ms holds no bin of {} ms", start_ms, stop_ms, bin_ms));
  binned_data d;
  d.names = target.names;
  d.start_ms = start_ms;
  d.bin_ms = bin_ms;
  d.counts = matrix::Zero(bins, spikes.vocabulary());
  const double end = start_ms + double(bins) * bin_ms;
  for (std::size_t k = 0; k < spikes.size(); ++k) {
    const double t = spikes.t_ms[k];
    if (t < start_ms || t >= end) continue;
    const Eigen::Index b = std::min(bins - 1, Eigen::Index((t - start_ms) / bin_ms));
    d.counts(b, spikes.ids[k]) += 1;
    ++d.spikes;
  }
  // The piecewise-constant target averaged over each bin: the overlap of every segment with it.
  const Eigen::Index D = Eigen::Index(target.names.size());
  d.target = matrix::Zero(bins, D);
  const std::size_t segments = target.times_ms.size();
  std::size_t seg = std::size_t(std::upper_bound(target.times_ms.begin(), target.times_ms.end(), start_ms) -
                                target.times_ms.begin()) - 1;
  for (Eigen::Index b = 0; b < bins; ++b) {
    const double lo = start_ms + double(b) * bin_ms, hi = lo + bin_ms;
    while (seg + 1 < segments && target.times_ms[seg + 1] <= lo) ++seg;
    for (std::size_t k = seg; k < segments && target.times_ms[k] < hi; ++k) {
      const double seg_end = k + 1 < segments ? target.times_ms[k + 1] : target.end_ms;
      const double w = (std::min(hi, seg_end) - std::max(lo, target.times_ms[k])) / bin_ms;
      for (Eigen::Index c = 0; c < D; ++c) d.target(b, c) += w * target.values[k][std::size_t(c)];
    }
  }
  return d;
}

bin_split split_bins(Eigen::Index n, double train_fraction, double val_fraction) {
  bin_split s;
  s.n = n;
  s.train_end = Eigen::Index(std::floor(double(n) * train_fraction));
  s.val_end = std::min(n, s.train_end + Eigen::Index(std::floor(double(n) * val_fraction)));
  return s;
}

standardiser standardiser::fit(const matrix& m, Eigen::Index rows) {
  standardiser s;
  const auto top = m.topRows(rows);
  s.mean = top.colwise().mean();
  s.sd = ((top.rowwise() - s.mean).array().square().colwise().sum() / double(std::max<Eigen::Index>(1, rows)))
             .sqrt()
             .matrix();
  for (Eigen::Index c = 0; c < s.sd.size(); ++c)
    if (!(s.sd(c) > 0)) s.sd(c) = 1;
  return s;
}

matrix standardiser::apply(const matrix& m) const {
  return ((m.rowwise() - mean).array().rowwise() / sd.array()).matrix();
}

std::vector<double> r_squared(const matrix& y, const matrix& prediction, Eigen::Index first, Eigen::Index end) {
  std::vector<double> out;
  const Eigen::Index n = end - first;
  for (Eigen::Index c = 0; c < y.cols(); ++c) {
    const auto col = y.col(c).segment(first, n);
    const double mean = col.mean();
    const double total = (col.array() - mean).square().sum();
    const double residual = (col - prediction.col(c).segment(first, n)).squaredNorm();
    out.push_back(1 - residual / total);
  }
  return out;
}

}  // namespace gs::decode
