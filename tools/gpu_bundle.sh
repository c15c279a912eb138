#!/usr/bin/env bash
# Makes what tools/gpu_check.sh needs on a GPU machine that has the CUDA driver but none of the
# project's Debian packages and no network: a CUDA build for sm_90 (H100/H200) with its GPU test
# binaries and GPU plugins, and every shared library they link except the C library's own and the
# driver, in one folder under 64 MiB. Then checks that folder: every library a binary needs
# resolves inside it, and its size.
#   tools/gpu_bundle.sh [--build DIR] [--out DIR]
# --build DIR bundles an existing CUDA build instead of building build-gpu/ (the test suite does
# this to check the bundle); --out DIR is where the bundle goes (default gpu-bundle/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="" out="$root/gpu-bundle"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--out DIR]" >&2; exit 2 ;;
  esac
done
if [ -z "$build" ]; then
  build="$root/build-gpu"
  BUILD_DIR="$build" "$root/tools/build.sh" -DGILLESPIKE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90
fi
for f in gillespike tests/test_cuda_backend tests/test_cuda_config tests/test_predictor_cuda tests/test_rls_cuda \
         test-plugins/libquadratic_if_gpu.so test-plugins/libquadratic_if.so \
         test-plugins/libring_gpu.so test-plugins/libring.so; do
  [ -e "$build/$f" ] || { echo "gpu_bundle: $build/$f is missing (is $build a CUDA build with tests?)" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/plugins"
cp "$build/gillespike" "$build/tests/test_cuda_backend" "$build/tests/test_cuda_config" \
  "$build/tests/test_predictor_cuda" "$build/tests/test_rls_cuda" "$out/bin/"
cp "$build/test-plugins/libquadratic_if_gpu.so" "$build/test-plugins/libquadratic_if.so" \
  "$build/test-plugins/libring_gpu.so" "$build/test-plugins/libring.so" "$out/plugins/"

# The C library and the dynamic loader come from the GPU machine (a newer glibc runs what an
# older one built); so does the driver (libcuda), which the CUDA runtime opens itself. cuBLAS, which
# the predictor's CUDA path opens at run time, is not linked and too large to carry (libcublasLt
# alone is over 500 MiB): gpu_check.sh finds the GPU machine's own.
system_lib() {
  case "$(basename "$1")" in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.* | libutil.so.* | ld-linux* | \
    libcuda.so*) return 0 ;;
  esac
  return 1
}
binaries=("$out"/bin/* "$out"/plugins/*)
for f in "${binaries[@]}"; do ldd "$f"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
  while read -r lib; do system_lib "$lib" || cp -L "$lib" "$out/lib/"; done

# The CLI as the benchmarks call it: the bundle's libraries for gillespike alone, not for the
# Python that runs the benchmark scripts.
cat > "$out/gillespike" <<'WRAP'
#!/bin/sh
here="$(cd "$(dirname "$0")" && pwd)"
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/bin/gillespike" "$@"
WRAP
chmod +x "$out/gillespike"

# The check: with only the bundle's folder added to the search path, nothing is missing and
# nothing but the system's own libraries resolves outside it.
bad=0
for f in "${binaries[@]}"; do
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    if [ "$path" = "not" ]; then echo "gpu_bundle: $f needs $name, which is not in the bundle" >&2; bad=1; continue; fi
    case "$path" in "$out"/lib/*) ;; *) system_lib "$path" || { echo "gpu_bundle: $f takes $path from outside the bundle" >&2; bad=1; } ;; esac
  done < <(LD_LIBRARY_PATH="$out/lib" ldd "$f")
done
bytes=$(du -sbL "$out" | cut -f1)
limit=$((64 * 1024 * 1024))
echo "gpu_bundle: $out: $(find "$out" -type f | wc -l) files, $(awk "BEGIN {printf \"%.1f\", $bytes / 1048576}") MiB (limit 64)"
if [ "$bytes" -gt "$limit" ]; then echo "gpu_bundle: the bundle is over 64 MiB" >&2; bad=1; fi
exit $bad
