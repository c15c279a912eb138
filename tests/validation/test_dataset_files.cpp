// The annotated outputs of a protocol run (docs/datasets.md): annotations.h5 and spikes.nwb,
// read back by independent readers: pynwb (PyPI; NWB's reference reader), h5py and NumPy. The
// NWB units must hold exactly the spikes of phy/ (grouped per neuron), their columns what
// annotations.h5 says, the positions the grid formula; every spike joins to one segment; the
// hidden mask has the requested size per population and depends on its seed only.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "io/hdf5_read.hpp"
#include "tests/support/python.hpp"

namespace fs = std::filesystem;

namespace {

const char* check_script = R"PY(
import sys, json
import numpy as np, h5py
from pynwb import NWBHDF5IO, validate

out, fraction = sys.argv[1], float(sys.argv[2])
ann = h5py.File(out + "/annotations.h5", "r")
nid = ann["neurons/id"][:]
pop = ann["neurons/population"].asstr()[:]
x, y, hidden = ann["neurons/x"][:], ann["neurons/y"][:], ann["neurons/hidden"][:]
assert (nid == np.arange(len(nid))).all()

# positions of grid populations from the grid formula (extent [1, 1], centre [0, 0])
doc = json.loads(ann.attrs["run_document"])
for name, body in doc["populations"].items():
    g = ann["populations/" + name]
    first, size = int(g.attrs["first_id"]), int(g.attrs["size"])
    rows, cols = body["positions"]["grid"]["shape"]
    i = np.arange(size)
    assert np.allclose(x[first:first + size], -0.5 + (i % cols + 0.5) / cols)
    assert np.allclose(y[first:first + size], 0.5 - (i // cols + 0.5) / rows)
    assert (pop[first:first + size] == name).all()
    assert g.attrs["model"] == body["model"] and g.attrs["layer"] == body["layer"] and g.attrs["type"] == body["type"]
    params = json.loads(g.attrs["params"])
    for k, v in body.get("params", {}).items():
        assert params[k] == v
    h = hidden[first:first + size] == 1
    assert h.sum() == round(fraction * size), (name, h.sum())
    if ann["hidden"].attrs["selection"] == "clustered":
        # the hidden neurons are the nearest to the population's centre: none visible is closer
        cx, cy = ann["hidden/centre"][list(doc["populations"]).index(name)]
        d = np.hypot(x[first:first + size] - cx, y[first:first + size] - cy)
        assert d[h].max() <= d[~h].min(), name

# phy spikes grouped by neuron
t = np.load(out + "/phy/spikes.times.npy")
c = np.load(out + "/phy/spike_clusters.npy")
with NWBHDF5IO(out + "/spikes.nwb", "r") as io:
    errors = validate(io=io)  # against the NWB schema pynwb ships
    assert not errors, errors
    nwb = io.read()
    units = nwb.units
    assert len(units) == len(nid)
    assert (units["neuron_id"][:] == nid).all()
    for col in ["population", "layer", "type"]:
        assert list(units[col][:]) == list(ann["neurons/" + col].asstr()[:]), col
    assert np.array_equal(units["x"][:], x) and np.array_equal(units["y"][:], y)
    assert (units["hidden"][:] == hidden).all()
    total = 0
    for r in range(len(units)):
        st = np.asarray(units.get_unit_spike_times(r))
        assert np.array_equal(st, t[c == nid[r]]), r
        total += len(st)
    assert total == len(t)
    seg = nwb.intervals["segments"]
    assert np.allclose(seg["start_time"][:], ann["segments/start_ms"][:] * 1e-3, rtol=0, atol=1e-12)
    assert np.allclose(seg["stop_time"][:], ann["segments/end_ms"][:] * 1e-3, rtol=0, atol=1e-12)
    assert list(seg["kind"][:]) == list(ann["segments/kind"].asstr()[:])
    assert (seg["stimulus_id"][:] == ann["segments/stimulus_id"][:]).all()
    trials = nwb.trials
    assert len(trials) == ann.attrs["trials"]
    ex_split = ann["examples/split"][:]
    names = list(ann["examples/split"].attrs["names"])
    for k, tr in enumerate(ann["examples/trial"][:]):
        assert trials["split"][tr] == names[ex_split[k]]

# every spike joins to exactly one segment by time
start, end = ann["segments/start_ms"][:], ann["segments/end_ms"][:]
k = np.searchsorted(start, t * 1e3, side="right") - 1
assert (k >= 0).all() and (t * 1e3 < end[k]).all()
print("checked", len(nid), "units,", len(t), "spikes,", len(start), "segments")
)PY";

}  // namespace

TEST_CASE("annotations.h5 and spikes.nwb read back with pynwb, h5py and NumPy") {
  const std::string py = gs::test::python_with("pynwb, h5py, numpy");
  if (py.empty()) {
    MESSAGE("skipped: no python3 imports pynwb (tools/install_deps.sh installs it from PyPI)");
    return;
  }
  gs::test::scratch_dir dir;
  const std::vector<std::string> args = gs::test::small_visual_pathway(2);
  auto run_to = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"-o", (dir.path / name).string()});
    a.insert(a.end(), extra.begin(), extra.end());
    const auto r = gs::test::cli(a, dir.path);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return dir.path / name;
  };
  const fs::path out = run_to("a", {});
  CHECK(gs::test::run_python(py, dir, check_script, out.string() + " 0.2") == 0);
  const fs::path uniform = run_to("u", {"--set", "outputs.hidden.selection=uniform", "--set", "outputs.hidden.fraction=0.5"});
  CHECK(gs::test::run_python(py, dir, check_script, uniform.string() + " 0.5") == 0);

  // The mask depends on outputs.hidden.seed only: the same with another run seed, not with another mask seed.
  const fs::path b = run_to("b", {"--set", "run.seed=99"});
  const fs::path c = run_to("c", {"--set", "outputs.hidden.seed=8"});
  const auto mask = [](const fs::path& d) { return gs::io::read_h5_uint64(d / "annotations.h5", "/neurons/hidden"); };
  CHECK(mask(out) == mask(b));
  CHECK(mask(out) != mask(c));
}
