// tools/plot.py draws its three figures from a protocol run, as PNG and as PDF (the files start
// with their formats' signatures); the script needs matplotlib (PyPI, tools/install_deps.sh).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>

#include "tests/support/python.hpp"

namespace fs = std::filesystem;

TEST_CASE("plot.py: raster, PSTH and rate maps of a protocol run, PNG and PDF") {
  const std::string py = gs::test::python_with("matplotlib, h5py, numpy");
  if (py.empty()) {
    MESSAGE("skipped: no python3 imports matplotlib (tools/install_deps.sh installs it from PyPI)");
    return;
  }
  gs::test::scratch_dir dir;
  std::vector<std::string> args = gs::test::small_visual_pathway(2);
  args.insert(args.end(), {"-o", (dir.path / "run").string()});
  const auto r = gs::test::cli(args, dir.path);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  for (const std::string format : {"png", "pdf"}) {
    const fs::path out = dir.path / format;
    const std::string cmd = fmt::format("{} {}/tools/plot.py {} -o {} --format {} > {} 2>&1", py, GS_SOURCE_DIR,
                                        (dir.path / "run").string(), out.string(), format, (dir.path / "log").string());
    CHECK_MESSAGE(std::system(cmd.c_str()) == 0, gs::test::slurp(dir.path / "log"));
    for (const char* name : {"raster", "psth", "rate_maps"}) {
      const std::string bytes = gs::test::slurp(out / (std::string(name) + "." + format));
      CAPTURE(name);
      CHECK(bytes.substr(0, 4) == (format == "png" ? std::string("\x89PNG") : std::string("%PDF")));
    }
  }
}
