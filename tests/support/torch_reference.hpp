// Runs a PyTorch reference script with Debian's /usr/bin/python3 (which has python3-torch; the
// pyenv python3 on PATH does not) on a JSON input, for the tests that compare a hand-written
// backward pass with autograd.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/cli.hpp"

namespace gs::test {

inline bool have_torch() { return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

struct torch_result {
  int status = -1;
  std::string err;        // the script's stderr, for the failure message
  nlohmann::json output;  // what it wrote to its second argument, when status is 0
};

// Writes `script` and `input` into `dir`, runs `python3 script in.json out.json`, reads out.json.
inline torch_result run_torch_reference(const std::filesystem::path& dir, const std::string& script,
                                        const nlohmann::json& input) {
  std::ofstream(dir / "reference.py") << script;
  std::ofstream(dir / "in.json") << input.dump();
  const auto out = dir / "out.json", err = dir / "err.txt";
  std::remove(out.c_str());
  torch_result r;
  r.status = std::system(("/usr/bin/python3 " + quote((dir / "reference.py").string()) + " " +
                          quote((dir / "in.json").string()) + " " + quote(out.string()) + " 2> " + quote(err.string()))
                             .c_str());
  r.err = slurp(err);
  if (r.status == 0) r.output = nlohmann::json::parse(slurp(out));
  return r;
}

}  // namespace gs::test
