// gillespike export (dataset/export.hpp): the binned examples read back with SciPy
// (scipy.sparse.load_npz), h5py and NumPy equal a direct count of the SONATA spikes per bin and
// neuron made here in NumPy; splits keep the trials whole; and the export of a recording several
// times larger than a memory cap stays under the cap (peak RSS of the child process).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/python.hpp"

namespace fs = std::filesystem;

namespace {

const char* check_binned = R"PY(
import sys, json, glob
import numpy as np, h5py, scipy.sparse

run, exp, bin_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
ann = h5py.File(run + "/annotations.h5", "r")
sp = h5py.File(run + "/spikes.h5", "r")
N = len(ann["neurons/id"])
t = np.concatenate([sp["spikes"][p]["timestamps"][:] for p in sp["spikes"]])
g = np.concatenate([sp["spikes"][p]["node_ids"][:] + ann["populations"][p].attrs["first_id"] for p in sp["spikes"]])
h = h5py.File(exp + "/binned.h5", "r")
ex = ann["examples"]
names = ["train", "validation", "test"]
seen = 0
for e in range(len(ex["start_ms"])):
    s, end = ex["start_ms"][e], ex["end_ms"][e]
    bins = int(np.ceil((end - s) / bin_ms - 1e-9))
    inside = (t >= s) & (t < end)
    direct = np.zeros((bins, N), dtype=np.int64)
    np.add.at(direct, (np.minimum(((t[inside] - s) // bin_ms).astype(int), bins - 1), g[inside]), 1)
    split = names[ex["split"][e]]
    m = scipy.sparse.load_npz(f"{exp}/npz/{split}/example_{e:06d}.npz")
    assert m.format == "csr" and m.shape == (bins, N), (m.format, m.shape)
    assert (m.toarray() == direct).all(), e
    grp = h[f"examples/{e}"]
    m5 = scipy.sparse.csr_matrix((grp["data"][:], grp["indices"][:], grp["indptr"][:]), shape=tuple(grp.attrs["shape"]))
    assert (m5.toarray() == direct).all(), e
    assert grp.attrs["split"] == split and grp.attrs["trial"] == ex["trial"][e]
    assert e in h["splits/" + split][:]
    seen += inside.sum()
# a trial's examples share one split
tr, spl = ex["trial"][:], ex["split"][:]
for k in set(tr):
    assert len(set(spl[tr == k])) == 1
print("checked", len(ex["start_ms"]), "examples,", seen, "spikes")
)PY";

// A SONATA recording of `spikes` spikes (uniform times over `seconds`, 2000 neurons) and its
// annotations with 2-second examples, written in pieces so this script stays small too.
const char* synthetic = R"PY(
import sys, json
import numpy as np, h5py
out, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
N = 2000
rng = np.random.default_rng(1)
with h5py.File(out + "/spikes.h5", "w") as f:
    T = f.create_dataset("spikes/p/timestamps", (n,), dtype="f8")
    I = f.create_dataset("spikes/p/node_ids", (n,), dtype="u8")
    piece = 1 << 22
    for a in range(0, n, piece):
        b = min(n, a + piece)
        T[a:b] = np.sort(rng.uniform(a / n, b / n, b - a)) * seconds * 1e3
        I[a:b] = rng.integers(0, N, b - a)
E = int(seconds / 2)
with h5py.File(out + "/annotations.h5", "w") as f:
    f.attrs["run_document"] = json.dumps({"populations": {"p": {}}})
    f["neurons/id"] = np.arange(N, dtype="u8")
    f.create_group("populations/p").attrs["first_id"] = np.uint64(0)
    f["examples/start_ms"] = np.arange(E) * 2000.0
    f["examples/end_ms"] = np.arange(E) * 2000.0 + 2000.0
    f["examples/trial"] = np.arange(E, dtype="u4")
    f["examples/stimulus_id"] = np.zeros(E, dtype="i4")
    f["examples/split"] = (np.arange(E) % 3).astype("u1")
)PY";

}  // namespace

TEST_CASE("export: binned CSR examples (npz, HDF5) equal a direct count of the spikes; splits by trial") {
  const std::string py = gs::test::python_with("scipy, h5py, numpy");
  if (py.empty()) {
    MESSAGE("skipped: no python3 imports scipy and h5py (tools/install_deps.sh installs them)");
    return;
  }
  gs::test::scratch_dir dir;
  std::vector<std::string> args = gs::test::small_visual_pathway(5);
  args.insert(args.end(), {"-o", (dir.path / "run").string()});
  auto r = gs::test::cli(args, dir.path);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  r = gs::test::cli({"export", (dir.path / "run").string(), "--bin", "7.5", "-o", (dir.path / "exp").string()}, dir.path);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  MESSAGE(r.out);
  CHECK(gs::test::run_python(py, dir, check_binned, fmt::format("{} {} 7.5", (dir.path / "run").string(), (dir.path / "exp").string())) == 0);

  // A missing run folder is bad input.
  r = gs::test::cli({"export", (dir.path / "nothing").string()}, dir.path);
  CHECK(r.status == 2);
  CHECK(gs::test::has(r.err, "annotations.h5: no such file"));
}

TEST_CASE("export: peak memory stays under a cap while exporting a recording several times larger") {
  const std::string py = gs::test::python_with("h5py, numpy");
  if (py.empty()) {
    MESSAGE("skipped: no python3 imports h5py");
    return;
  }
  gs::test::scratch_dir dir;
  const uint64_t spikes = 20'000'000;  // 16 bytes each in spikes.h5: 320 MB
  REQUIRE(gs::test::run_python(py, dir, synthetic, fmt::format("{} {} 1000", dir.path.string(), spikes)) == 0);
  const double recording_mb = double(fs::file_size(dir.path / "spikes.h5")) / (1 << 20), cap_mb = 80;
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string run = dir.path.string(), out = (dir.path / "exp").string();
    std::freopen((dir.path / "export.log").c_str(), "w", stdout);
    execl(GS_CLI, GS_CLI, "export", run.c_str(), "--bin", "1000", "-o", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage use{};
  REQUIRE(wait4(pid, &status, 0, &use) == pid);
  MESSAGE(gs::test::slurp(dir.path / "export.log"));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const double peak_mb = double(use.ru_maxrss) / 1024;
  MESSAGE(fmt::format("recording {:.0f} MB, export peak RSS {:.1f} MB (cap {:.0f} MB)", recording_mb, peak_mb, cap_mb));
  CHECK(recording_mb > 3 * cap_mb);
  CHECK(peak_mb < cap_mb);
  CHECK(gs::test::has(gs::test::slurp(dir.path / "export.log"), fmt::format("{} spikes in them", spikes)));
}
