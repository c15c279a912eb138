#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only when one is missing.
set -euo pipefail
packages=(cmake ninja-build g++ ccache pkg-config nlohmann-json3-dev libhdf5-dev libfmt-dev doctest-dev
          libcli11-dev librandom123-dev libtbb-dev libeigen3-dev python3-numpy python3-h5py
          python3-torch)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# PyPI packages: pynwb (the NWB reference reader) and SciPy (.npz sparse matrices), which the tests
# read outputs with, and matplotlib for tools/plot.py; into the python3 on PATH, only when missing.
if ! python3 -c 'import pynwb, scipy, h5py, matplotlib' >/dev/null 2>&1; then
  echo "installing from PyPI: pynwb scipy h5py matplotlib"
  python3 -m pip install -q pynwb scipy h5py matplotlib
fi
