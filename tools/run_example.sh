#!/usr/bin/env bash
# Builds gillespike and runs the main example: the Vogels-Abbott CUBA network of 4000 neurons.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/build.sh" >/dev/null
cd "$root"
exec ./build/gillespike run examples/cuba.json "$@"
