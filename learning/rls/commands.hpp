// What `gillespike learn rls` does, behind the option parsing in tools/gillespike.cpp: trains
// the run file's plastic projections by RLS for learning.rls.loops presentations, writing the
// learning curve and checkpoints, resuming from one, and testing over many trials (docs/rls.md).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace gs::rls {

struct rls_options {
  std::filesystem::path config;    // run file with a "learning": {"rls": ...} section
  std::vector<std::string> sets;   // run-file overrides, as for `gillespike run`
  std::filesystem::path out_dir;
  bool resume = false;  // continue from out_dir/checkpoint.h5
  bool test = false;    // after training, run learning.rls.test.trials presentations without learning
  bool quiet = false;
};

// Returns the exit status; bad input throws config_error before anything is written.
int run_rls(const rls_options& o);

}  // namespace gs::rls
