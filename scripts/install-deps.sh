#!/usr/bin/env bash
# Installs everything cgrad's build, tests and default data need, from Debian.
# Idempotent: packages already present are left alone. Run as root (or with sudo).
#   --with-torch   also install PyTorch (Debian's python3-torch) and, when pip
#                  allows, PyPI's safetensors: needed only to regenerate test
#                  fixtures, run the interop tests and the benchmarks.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libopenblas-openmp-dev libopenblas0-openmp  # BLAS built on OpenMP: one thread pool with ours
  zlib1g-dev libcjson-dev libcmocka-dev
  dataset-fashion-mnist                         # /usr/share/datasets/fashion-mnist/*.gz
  fortunes                                      # /usr/share/games/fortunes: text for models/char_lstm.json
  libcairo2-dev                                 # plots (PNG, SVG, PDF); optional: built without it, cgrad says so
  graphviz                                      # renders `cgrad info --dot` (README, tests); never needed to build
  libopenmpi-dev openmpi-bin                    # optional: data-parallel training under mpirun
  python3
)
if [[ "${1:-}" == "--with-torch" ]]; then
  packages+=(python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all Debian packages present"
else
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Test-only, best effort: the reference safetensors implementation (PyPI has
# it, Debian does not) for tests/cli/safetensors_official.sh, which is skipped
# without it.
if [[ "${1:-}" == "--with-torch" ]] && ! python3 -c "import safetensors, numpy" 2>/dev/null; then
  python3 -m pip install -q safetensors numpy 2>/dev/null ||
    echo "install-deps: safetensors (PyPI) not installed; its interop test will be skipped"
fi
