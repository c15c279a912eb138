#!/usr/bin/env bash
# Builds and runs the whole test suite through ctest, then again with CUDA switched off, so
# the build without CUDA stays working.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="$(nproc)"
"$root/tools/build.sh"
(cd "$root/build" && ctest --output-on-failure -j "$jobs")
BUILD_DIR="$root/build-nocuda" "$root/tools/build.sh" -DGILLESPIKE_CUDA=OFF
(cd "$root/build-nocuda" && ctest --output-on-failure -j "$jobs")
