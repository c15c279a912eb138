// Output files: .npy, SONATA spikes and traces round-trip through our readers and, where Python
// with numpy / h5py is installed, through the readers analysis scripts actually use.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <iterator>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io/hdf5_handle.hpp"
#include "io/hdf5_read.hpp"
#include "io/npy.hpp"
#include "io/sonata.hpp"
#include "io/staged_file.hpp"
#include "io/traces.hpp"

namespace fs = std::filesystem;
using namespace gs::io;

namespace {

// A fresh folder per test case, removed even when a check fails.
struct scratch_dir {
  fs::path path = fs::temp_directory_path() / fmt::format("gs-test-io-{}-{}", ::getpid(), std::random_device{}());
  scratch_dir() { fs::create_directories(path); }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path operator/(const char* name) const { return path / name; }
};

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

constexpr auto i64 = std::numeric_limits<std::int64_t>{};
constexpr auto i32 = std::numeric_limits<std::int32_t>{};
const std::vector<std::int64_t> ints64 = {i64.min(), -1, 0, 42, i64.max()};
const std::vector<std::int32_t> ints32 = {i32.min(), 7, i32.max()};
const std::vector<std::uint64_t> uints64 = {0, 1, std::numeric_limits<std::uint64_t>::max()};
const std::vector<double> doubles = {-1.5, 0.0, 1e300, std::numeric_limits<double>::infinity()};
const std::vector<float> floats = {0.25f, -3.0f};

void write_all_npy(const scratch_dir& dir) {
  write_npy(dir / "i8.npy", ints64);
  write_npy(dir / "i4.npy", ints32);
  write_npy(dir / "u8.npy", uints64);
  write_npy(dir / "f8.npy", doubles);
  write_npy(dir / "f4.npy", floats);
  write_npy(dir / "empty.npy", std::span<const double>{});
}

const std::vector<double> cortex_t = {0.5, 1.25, 1.25, 7.0};
const std::vector<std::uint64_t> cortex_ids = {3, 0, 2, 3};
constexpr std::size_t big_n = 100000;  // above one chunk, to take the chunked path

void write_example_spikes(const fs::path& file) {
  std::vector<double> big_t(big_n);
  std::vector<std::uint64_t> big_ids(big_n);
  for (std::size_t i = 0; i < big_n; ++i) big_t[i] = double(big_n - i), big_ids[i] = i;
  const spike_population pops[] = {{"cortex", cortex_t, cortex_ids, spike_sorting::by_time},
                                   {"thalamus", {}, {}, spike_sorting::none},
                                   {"big", big_t, big_ids, spike_sorting::by_id}};
  write_sonata_spikes(file, pops);
}

const std::vector<double> trace_t = {0.0, 0.1, 0.2};
const std::vector<std::uint64_t> trace_ids = {4, 9};
const std::vector<double> v_m = {-70, -65, -69, -64, -68, -63};
const std::vector<double> g_ex = {0, 1, 2, 3, 4, 5};

void write_example_traces(const fs::path& file) {
  const trace_group groups[] = {{"exc", "exc_pop", trace_t, trace_ids, {{"V_m", "mV"}, {"g_ex", "nS"}}, {v_m, g_ex}}};
  write_traces(file, groups);
}

H5D_layout_t layout_of(const fs::path& file, const char* dataset) {
  namespace h5 = gs::io::h5;
  const auto f = h5::make(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, file, "open");
  const auto d = h5::make(H5Dopen2(f.get(), dataset, H5P_DEFAULT), H5Dclose, file, "open dataset");
  const auto props = h5::make(H5Dget_create_plist(d.get()), H5Pclose, file, "get properties");
  return H5Pget_layout(props.get());
}

bool python_has(const char* modules) {
  return std::system(fmt::format("/usr/bin/python3 -c 'import {}' >/dev/null 2>&1", modules).c_str()) == 0;
}

bool python_passes(const scratch_dir& dir, const std::string& script) {
  std::ofstream(dir / "check.py") << script;
  const std::string command = fmt::format("/usr/bin/python3 '{}' '{}'", (dir / "check.py").string(), dir.path.string());
  return std::system(command.c_str()) == 0;
}

}  // namespace

TEST_CASE("npy files round-trip every dtype, with a 64-byte aligned prefix") {
  const scratch_dir dir;
  write_all_npy(dir);
  CHECK(read_npy<std::int64_t>(dir / "i8.npy") == ints64);
  CHECK(read_npy<std::int32_t>(dir / "i4.npy") == ints32);
  CHECK(read_npy<std::uint64_t>(dir / "u8.npy") == uints64);
  CHECK(read_npy<double>(dir / "f8.npy") == doubles);
  CHECK(read_npy<float>(dir / "f4.npy") == floats);
  CHECK(read_npy<double>(dir / "empty.npy").empty());
  CHECK((fs::file_size(dir / "i4.npy") - ints32.size() * 4) % 64 == 0);
  CHECK((fs::file_size(dir / "f4.npy") - floats.size() * 4) % 64 == 0);
  CHECK(fs::file_size(dir / "empty.npy") % 64 == 0);

  const std::string wrong = error_of([&] { read_npy<double>(dir / "i8.npy"); });
  CHECK_MESSAGE(has(wrong, (dir / "i8.npy").string()), wrong);
  CHECK_MESSAGE(has(wrong, "expected dtype '<f8', found '<i8'"), wrong);
}

TEST_CASE("npy header bytes are exactly what numpy.save writes") {
  const scratch_dir dir;
  const std::vector<std::int64_t> values = {1, 2, 3};
  write_npy(dir / "a.npy", values);
  // np.save(f, np.array([1, 2, 3], dtype='<i8')), first 128 bytes.
  const std::string expected = std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                               "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"
                               "                                                            \n";
  const std::string file = slurp(dir / "a.npy");
  REQUIRE(file.size() == 128 + 3 * 8);
  CHECK(file.substr(0, 128) == expected);
}

TEST_CASE("staged_file appears under its final name only on commit") {
  const scratch_dir dir;
  const fs::path final_path = dir / "out.bin";
  {
    staged_file abandoned(final_path);
    std::ofstream(abandoned.temp()) << "partial";
    CHECK(fs::exists(abandoned.temp()));
  }
  CHECK(fs::is_empty(dir.path));

  staged_file staged(dir / "other.bin");
  std::ofstream(staged.temp()) << "dropped";
  staged = staged_file(final_path);  // abandons other.bin's temp file
  CHECK(fs::is_empty(dir.path));
  CHECK(staged.temp().parent_path() == dir.path);
  std::ofstream(staged.temp()) << "complete";
  CHECK_FALSE(fs::exists(final_path));
  staged.commit();
  CHECK(slurp(final_path) == "complete");
  CHECK_FALSE(fs::exists(staged.temp()));

  const std::string missing = error_of([&] { staged_file(dir / "never.bin").commit(); });
  CHECK_MESSAGE((has(missing, (dir / "never.bin").string()) && has(missing, "No such file")), missing);
}

TEST_CASE("SONATA spike file layout") {
  const scratch_dir dir;
  const fs::path file = dir / "spikes.h5";
  write_example_spikes(file);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);  // no temp file left

  CHECK(read_h5_uint64_attr(file, "/", "magic") == std::vector<std::uint64_t>{0x0A7A});
  CHECK(read_h5_uint64_attr(file, "/", "version") == std::vector<std::uint64_t>{0, 1});
  CHECK(read_h5_doubles(file, "/spikes/cortex/timestamps") == cortex_t);
  CHECK(read_h5_uint64(file, "/spikes/cortex/node_ids") == cortex_ids);
  CHECK(read_h5_string_attr(file, "/spikes/cortex/timestamps", "units") == "ms");
  CHECK(read_h5_enum_attr(file, "/spikes/cortex", "sorting") == 2);
  CHECK(read_h5_enum_attr(file, "/spikes/thalamus", "sorting") == 0);
  CHECK(read_h5_enum_attr(file, "/spikes/big", "sorting") == 1);
  CHECK(read_h5_shape(file, "/spikes/thalamus/timestamps") == std::vector<std::size_t>{0});
  CHECK(read_h5_uint64(file, "/spikes/thalamus/node_ids").empty());
  CHECK(read_h5_uint64(file, "/spikes/big/node_ids").size() == big_n);
  CHECK(read_h5_doubles(file, "/spikes/big/timestamps").back() == 1.0);
  CHECK(layout_of(file, "/spikes/big/timestamps") == H5D_CHUNKED);
  CHECK(layout_of(file, "/spikes/cortex/timestamps") == H5D_CONTIGUOUS);

  const std::string not_enum = error_of([&] { read_h5_enum_attr(file, "/", "magic"); });
  CHECK_MESSAGE(has(not_enum, "type class integer, expected enum"), not_enum);
  const std::string absent = error_of([&] { read_h5_doubles(file, "/spikes/nope/timestamps"); });
  CHECK_MESSAGE((has(absent, file.string()) && has(absent, "open dataset /spikes/nope/timestamps")), absent);
}

TEST_CASE("SONATA writer rejects bad input and leaves no file behind") {
  const scratch_dir dir;
  const std::vector<double> t = {2.0, 1.0};
  const std::vector<std::uint64_t> ids = {0, 1};
  const spike_population short_ids[] = {{"p", t, std::span(ids).first(1), spike_sorting::none}};
  CHECK_THROWS_AS(write_sonata_spikes(dir / "a.h5", short_ids), std::invalid_argument);
  const spike_population unsorted[] = {{"p", t, ids, spike_sorting::by_time}};
  CHECK_THROWS_AS(write_sonata_spikes(dir / "a.h5", unsorted), std::invalid_argument);
  const spike_population nested[] = {{"a/b", t, ids, spike_sorting::none}};
  CHECK_THROWS_AS(write_sonata_spikes(dir / "a.h5", nested), std::invalid_argument);
  const spike_population twice[] = {{"p", t, ids, spike_sorting::by_id}, {"p", t, ids, spike_sorting::by_id}};
  const std::string duplicate = error_of([&] { write_sonata_spikes(dir / "a.h5", twice); });
  CHECK_MESSAGE((has(duplicate, (dir / "a.h5").string()) && has(duplicate, "create group /spikes/p")), duplicate);
  CHECK(fs::is_empty(dir.path));

  const fs::path nowhere = dir / "missing" / "a.h5";
  const std::string missing = error_of([&] { write_sonata_spikes(nowhere, {}); });
  CHECK_MESSAGE((has(missing, nowhere.string()) && has(missing, "create file")), missing);
}

TEST_CASE("traces round-trip") {
  const scratch_dir dir;
  const fs::path file = dir / "traces.h5";
  write_example_traces(file);
  CHECK(read_h5_string_attr(file, "/exc", "population") == "exc_pop");
  CHECK(read_h5_doubles(file, "/exc/time") == trace_t);
  CHECK(read_h5_string_attr(file, "/exc/time", "units") == "ms");
  CHECK(read_h5_uint64(file, "/exc/node_ids") == trace_ids);
  CHECK(read_h5_shape(file, "/exc/V_m") == std::vector<std::size_t>{3, 2});
  CHECK(read_h5_doubles(file, "/exc/V_m") == v_m);
  CHECK(read_h5_string_attr(file, "/exc/V_m", "units") == "mV");
  CHECK(read_h5_doubles(file, "/exc/g_ex") == g_ex);
  CHECK(read_h5_string_attr(file, "/exc/g_ex", "units") == "nS");

  const trace_group ragged[] = {{"exc", "exc_pop", trace_t, trace_ids, {{"V_m", "mV"}}, {std::span(v_m).first(5)}}};
  CHECK_THROWS_AS(write_traces(dir / "bad.h5", ragged), std::invalid_argument);
  CHECK_FALSE(fs::exists(dir / "bad.h5"));
}

TEST_CASE("numpy and h5py read the files as written") {
  const scratch_dir dir;
  if (!python_has("numpy")) {
    MESSAGE("skipped: /usr/bin/python3 with numpy not available");
    return;
  }
  write_all_npy(dir);
  write_npy(dir / "long.npy", std::vector<std::int64_t>(12345, 7));
  CHECK(python_passes(dir, R"py(
import io, sys, numpy as np
d = sys.argv[1]
cases = {'i8': [-2**63, -1, 0, 42, 2**63 - 1], 'i4': [-2**31, 7, 2**31 - 1], 'u8': [0, 1, 2**64 - 1],
         'f8': [-1.5, 0.0, 1e300, np.inf], 'f4': [0.25, -3.0], 'empty': [], 'long': [7] * 12345}
dtypes = {'empty': '<f8', 'long': '<i8'}
for name, values in cases.items():
    expected = np.array(values, dtype=dtypes.get(name, '<' + name))
    buf = io.BytesIO()
    np.save(buf, expected)
    assert open(f'{d}/{name}.npy', 'rb').read() == buf.getvalue(), name
    assert np.array_equal(np.load(f'{d}/{name}.npy'), expected), name
)py"));

  if (!python_has("h5py")) {
    MESSAGE("skipped the h5py check: python3-h5py is not installed");
    return;
  }
  write_example_spikes(dir / "spikes.h5");
  write_example_traces(dir / "traces.h5");
  CHECK(python_passes(dir, R"py(
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(f'{d}/spikes.h5', 'r') as f:
    assert f.attrs['magic'] == 0x0A7A and list(f.attrs['version']) == [0, 1]
    c = f['spikes/cortex']
    assert h5py.check_enum_dtype(c.attrs.get_id('sorting').dtype) == {'none': 0, 'by_id': 1, 'by_time': 2}
    assert c.attrs['sorting'] == 2 and f['spikes/thalamus'].attrs['sorting'] == 0
    assert c['timestamps'].attrs['units'] == 'ms'
    assert c['timestamps'][:].tolist() == [0.5, 1.25, 1.25, 7.0]
    assert c['node_ids'].dtype == np.uint64 and c['node_ids'][:].tolist() == [3, 0, 2, 3]
    assert f['spikes/thalamus/timestamps'].shape == (0,) and f['spikes/thalamus/node_ids'].shape == (0,)
    b = f['spikes/big']
    assert b['node_ids'].chunks == (65536,) and b['node_ids'].compression is None
    assert np.array_equal(b['node_ids'][:], np.arange(100000))
    assert np.array_equal(b['timestamps'][:], np.arange(100000, 0, -1, dtype=float))
with h5py.File(f'{d}/traces.h5', 'r') as f:
    g = f['exc']
    assert g.attrs['population'] == 'exc_pop' and g['time'].attrs['units'] == 'ms'
    assert g['time'][:].tolist() == [0.0, 0.1, 0.2] and g['node_ids'][:].tolist() == [4, 9]
    assert g['V_m'].attrs['units'] == 'mV' and g['g_ex'].attrs['units'] == 'nS'
    assert g['V_m'][:].tolist() == [[-70, -65], [-69, -64], [-68, -63]]
    assert g['g_ex'][:].tolist() == [[0, 1], [2, 3], [4, 5]]
)py"));
}
