// The from_file connection rule: the synapses listed in a CSV table or a SONATA edge file, with
// the file's weights and delays where it has them (io/edge_files.hpp reads the formats).
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "io/edge_files.hpp"
#include "plugins/registry.hpp"

namespace gs {

namespace {

constexpr double required = std::numeric_limits<double>::quiet_NaN();

std::string text(const json& p, const char* key) {
  return p.contains(key) && p[key].is_string() ? p[key].get<std::string>() : std::string();
}

// "csv" or "sonata": as given, else by the file name.
std::string format_of(const json& p) {
  if (std::string f = text(p, "format"); !f.empty()) return f;
  const std::string ext = std::filesystem::path(text(p, "path")).extension().string();
  return ext == ".h5" || ext == ".hdf5" ? "sonata" : "csv";
}

// Streams the file's rows, checking the ids against the populations.
void each_row(const json& p, const rule_context& c, const io::edge_callback& emit) {
  const std::filesystem::path file = text(p, "path");
  const bool csv = format_of(p) == "csv";
  auto check = [&](const io::edge_row& r) {
    for (const auto& [id, n, role, name] : {std::tuple{r.source, c.n_source, "source", c.source_name},
                                            std::tuple{r.target, c.n_target, "target", c.target_name}})
      if (id >= n)
        throw std::runtime_error(fmt::format("{}: {} {}: {} id {} is outside population \"{}\" (ids 0 to {})",
                                             file.string(), csv ? "line" : "edge", r.row, role, id, name, n - 1));
    emit(r);
  };
  if (csv) io::read_csv_edges(file, check);
  else io::read_sonata_edges(file, text(p, "edge_population"), check);
}

}  // namespace

rule_info from_file_rule() {
  rule_info r;
  r.name = "from_file";
  r.doc = "the synapses listed in a CSV or SONATA edge file (population-local ids), with its weights and delays";
  r.params = {{"path", "", "the file, relative to the run file's folder", required, param_info::file},
              {"format", "", "\"csv\" or \"sonata\"; by default from the file name (.h5, .hdf5: sonata)", std::nan(""),
               param_info::text, true},
              {"edge_population", "", "SONATA: the population under /edges; needed when there are several", std::nan(""),
               param_info::text, true}};
  // Cheap: the file opens and its header (or datasets) make sense. The rows are read when the
  // synapses are made; the config reads them once more to check weights and delays up front.
  r.check = [](const json& p, const rule_context&) -> std::string {
    const std::string fmt_name = format_of(p);
    if (fmt_name != "csv" && fmt_name != "sonata")
      return fmt::format("format \"{}\" is not known (csv, sonata)", fmt_name);
    if (fmt_name == "csv" && !text(p, "edge_population").empty())
      return "edge_population is only for SONATA files";
    try {
      if (fmt_name == "csv") io::csv_edge_columns(text(p, "path"));
      else io::sonata_edge_columns(text(p, "path"), text(p, "edge_population"));
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  r.generate = [](const json& p, const rule_context& c, synapse_sink& sink) {
    each_row(p, c, [&](const io::edge_row& row) {
      sink.add(uint32_t(row.source), uint32_t(row.target), row.weight, row.delay);
    });
  };
  return r;
}

}  // namespace gs
