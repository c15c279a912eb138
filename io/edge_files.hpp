// Synapses listed in files, for the from_file connection rule: CSV tables with a header and
// SONATA edge files (HDF5). Rows are streamed to a callback, so a large file never sits in
// memory twice; every error names the file and the line (CSV) or dataset and edge (SONATA).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace gs::io {

// One listed synapse: population-local ids; weight and delay NaN when the file gives none.
struct edge_row {
  uint64_t row;  // CSV: line number in the file (1 is the header); SONATA: edge index from 0
  uint64_t source, target;
  double weight, delay;
};

struct edge_columns {
  bool weight = false, delay = false;
};

using edge_callback = std::function<void(const edge_row&)>;

// CSV: a header naming the columns source, target and optionally weight and delay (any order),
// then one synapse per line; blank lines are skipped and an empty weight or delay field means
// the projection's. Throws std::runtime_error "FILE: line N, column C: problem".
edge_columns csv_edge_columns(const std::filesystem::path& file);  // reads the header only
void read_csv_edges(const std::filesystem::path& file, const edge_callback& each);

// SONATA: /edges/<population>/source_node_id and target_node_id, optional 0/syn_weight and
// 0/delay (edges of group 0 only; edge_group_index honoured). An empty `population` picks the
// only one in the file. Throws std::runtime_error naming the file and dataset.
std::vector<std::string> sonata_edge_populations(const std::filesystem::path& file);
std::string sonata_edge_population(const std::filesystem::path& file, const std::string& population);
edge_columns sonata_edge_columns(const std::filesystem::path& file, const std::string& population);
void read_sonata_edges(const std::filesystem::path& file, const std::string& population, const edge_callback& each);

}  // namespace gs::io
