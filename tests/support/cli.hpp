// Test helpers for running the gillespike binary (GS_CLI) in its own process.
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace gs::test {

inline std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Single-quoted for the shell.
inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A path compiled into the tests (GS_CLI, GS_SOURCE_DIR, GS_TEST_PLUGIN_DIR), unless the
// environment variable of that name gives another: a bundle of test binaries runs on a machine
// that has neither this tree nor this build (tools/gpu_check.sh).
inline std::string build_path(const char* name, const char* compiled) {
  const char* env = std::getenv(name);
  return env ? env : compiled;
}

struct cli_result {
  int status = -1;
  std::string out, err;
};

// Runs the binary with `args`; stdout and stderr go to files in `dir` (not a terminal).
inline cli_result cli(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  std::string cmd = quote(build_path("GS_CLI", GS_CLI));
  for (const auto& a : args) cmd += " " + quote(a);
  const auto out = dir / "cli.stdout", err = dir / "cli.stderr";
  cmd += " < /dev/null > " + quote(out.string()) + " 2> " + quote(err.string());
  const int raw = std::system(cmd.c_str());
  cli_result r;
  r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

}  // namespace gs::test
