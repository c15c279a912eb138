#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU (sm_90: H100/H200), in one run of at most about
# 5 minutes: the GPU tests (failing if any of them skips), which compare the cuda backend with the
# CPU clock backend (single-neuron spike times identical at the same dt, CUBA and COBA rates within
# 3 %, reproducibility, a plugin model and a procedural rule compiled with nvcc, procedural
# synapses drawn as on the CPU) and the predictor's CUDA path with its
# CPU path (loss and gradients against float64, training steps), RLS's batched updates (against
# the closed form; the small task learns), then the benchmarks (the predictor's training on the GPU
# and the CPU, RLS on the reference task with its updates on the GPU and on the CPU, COBA at 4,000
# and 400,000 neurons, the full-scale microcircuit with procedural, then stored, synapses) as
# short tables. Expected durations (estimates,
# never measured on a GPU machine): the predictor's test under 15 s and its benchmark about 1
# minute (most of it the CPU's 3 training steps); test_rls_cuda about 20 s (two 12-loop runs of a
# 200-neuron task, the network on the CPU); the RLS benchmarks about 30 s. They run before the
# simulator's benchmarks, so their figures come first if time runs out.
#
# What it runs comes from a bundle, because the GPU machine has the CUDA driver, CMake and Python
# but none of the project's Debian packages and no network: on a CPU machine with the project's
# packages, `tools/gpu_bundle.sh` builds from a clean tree for sm_90 and puts the binaries and
# every shared library they link (glibc and the driver aside) into gpu-bundle/ (under 64 MiB; the
# test suite checks it is complete). Carry that folder to the GPU machine beside the source tree
# and run this script from the tree's root:
#   tools/gpu_check.sh [BUNDLE]     (default: gpu-bundle; built here first if absent and possible)
# Writes its logs to $OUT (or gpu-check-logs/) and exits non-zero if a test failed or skipped.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bundle="${1:-gpu-bundle}"
logs="${OUT:-$root/gpu-check-logs}"
export PYTHONUNBUFFERED=1  # the benchmarks' lines as they come, also when cut off
mkdir -p "$logs"
if [ ! -x "$bundle/bin/gillespike" ]; then
  echo "== no bundle at $bundle: building one here (needs the project's packages)"
  tools/gpu_bundle.sh --out "$bundle" || { echo "gpu_check: could not make the bundle" >&2; exit 1; }
fi
bundle="$(cd "$bundle" && pwd)"
# The bundle's libraries for its binaries only: the Python that runs the benchmark scripts keeps
# its own (the bundle's gillespike wrapper sets them for itself).
libs="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export GS_SOURCE_DIR="$root" GS_TEST_PLUGIN_DIR="$bundle/plugins" GS_CLI="$bundle/gillespike"
status=0

# cuBLAS, which the predictor's CUDA path opens at run time, is not in the bundle (gpu_bundle.sh):
# unless the loader finds it, copy the GPU machine's own CUDA 13 cuBLAS (its toolkit's, or the pip
# package's beside PyTorch) into the bundle's lib/, which the binaries search.
if ! ldconfig -p 2>/dev/null | grep -q "libcublas\.so\.13 " && [ ! -e "$bundle/lib/libcublas.so.13" ]; then
  pip_cublas="$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null)"
  for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib $pip_cublas; do
    if [ -e "$dir/libcublas.so.13" ] && [ -e "$dir/libcublasLt.so.13" ]; then
      cp -L "$dir/libcublas.so.13" "$dir/libcublasLt.so.13" "$bundle/lib/" && echo "== cuBLAS from $dir" && break
    fi
  done
  [ -e "$bundle/lib/libcublas.so.13" ] || echo "gpu_check: no CUDA 13 cuBLAS found; the predictor's GPU parts will fail" >&2
fi

echo "== GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
"$bundle/gillespike" info | grep -m1 "^CUDA" || true

echo "== GPU tests"
for t in test_cuda_backend test_cuda_config test_predictor_cuda test_rls_cuda; do
  LD_LIBRARY_PATH="$libs" "$bundle/bin/$t" -s 2>&1 | tee "$logs/$t.log" |
    grep -E "MESSAGE|SKIPPED|ERROR|test cases|assertions|Status" | sed 's/^/  /'
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 77 ]; then echo "gpu_check: $t SKIPPED: there is no usable GPU here" >&2; status=1
  elif [ "$rc" -ne 0 ]; then echo "gpu_check: $t FAILED (exit $rc), log in $logs/$t.log" >&2; status=1; fi
done

echo "== benchmarks"
python3 tools/bench_predictor.py --device cuda --gillespike "$bundle/gillespike" 2>&1 |
  tee "$logs/bench_predictor_cuda.log" || status=1
# RLS on the reference task (4096 neurons), 3 loops: the updates on the GPU, then on the CPU cores.
for device in cuda cpu; do
  python3 tools/bench_rls.py --cli "$bundle/gillespike" --loops 3 --threads "$(nproc)" \
    --set "learning.rls.device=\"$device\"" 2>&1 | tee "$logs/bench_rls_$device.log" || status=1
done
python3 tools/bench_cuda.py --gillespike "$bundle/gillespike" 2>&1 | tee "$logs/bench_cuda.log" || status=1
# The microcircuit with procedural synapses (drawn again on the device at each spike, none
# stored; GeNN's way) first: the host builds it in seconds. The stored one last, so that it is
# what a run cut short loses: the host draws its 3 x 10^8 synapses first (45 s on the 2-core CPU
# machines with both cores, docs/microcircuit.md).
python3 tools/run_microcircuit.py --gillespike "$bundle/gillespike" --duration-ms 1000 --procedural \
  --set 'run.backend="cuda"' 2>&1 | tee "$logs/microcircuit_procedural.log" || status=1
python3 tools/run_microcircuit.py --gillespike "$bundle/gillespike" --duration-ms 1000 \
  --set 'run.backend="cuda"' 2>&1 | tee "$logs/microcircuit.log" || status=1

echo "== gpu_check: $([ $status -eq 0 ] && echo passed || echo FAILED)"
exit $status
