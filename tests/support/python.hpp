// Test helpers for checks made by Python readers (pynwb, h5py, SciPy): finding an interpreter
// that has them, running a script, and the small visual-pathway run those checks read.
#pragma once
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

namespace gs::test {

// tools/install_deps.sh installs pynwb, SciPy and h5py from PyPI into the `python3` on PATH;
// Debian's /usr/bin/python3 (python3-h5py, python3-numpy) is tried too. Empty when none has them.
inline std::string python_with(const std::string& modules) {
  for (const std::string py : {"python3", "/usr/bin/python3"})
    if (std::system(fmt::format("{} -c 'import {}' >/dev/null 2>&1", py, modules).c_str()) == 0) return py;
  return "";
}

// Runs `script` with `args`; its output becomes a test message. Returns the exit status.
inline int run_python(const std::string& py, const scratch_dir& dir, const std::string& script,
                      const std::string& args) {
  const std::string file = dir.write("script.py", script).string();
  const int rc = std::system(fmt::format("{} {} {} > {} 2>&1", py, file, args, (dir.path / "py.log").string()).c_str());
  MESSAGE(slurp(dir.path / "py.log"));
  return rc;
}

// `gillespike run` of examples/visual_pathway.json shrunk to 6 x 6 grids and `trials` trials.
inline std::vector<std::string> small_visual_pathway(int trials) {
  std::vector<std::string> args{"run", std::string(GS_SOURCE_DIR) + "/examples/visual_pathway.json", "-q",
                                "--set", fmt::format("protocol.trials={}", trials)};
  for (const char* p : {"lgn_on", "lgn_off", "l4e", "l4i", "l23e", "l23i"})
    args.insert(args.end(), {"--set", fmt::format("populations.{}.positions.grid.shape=[6, 6]", p)});
  return args;
}

}  // namespace gs::test
