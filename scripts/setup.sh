#!/usr/bin/env bash
# Installs the Debian 12 packages moesim builds with, only those missing. Idempotent.
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -euo pipefail

packages=(
  build-essential cmake pkg-config    # toolchain
  libsimgrid-dev                      # discrete-event simulation engine (3.32)
  nlohmann-json3-dev                  # JSON
  libcli11-dev                        # command-line parsing
  libboost-graph-dev                  # topology analysis
  libmimalloc-dev                     # the programs' allocator (not under the sanitizers)
  libgtest-dev libgmock-dev           # tests
  libbenchmark-dev                    # bench/
  gnuplot-nox                         # moesim plan: the Pareto-front PNG
  qt6-base-dev qt6-charts-dev libgl-dev  # gui/ (moesim-gui; Qt6 Gui needs the OpenGL headers)
  libqt6opengl6-dev                   # gui/: Qt6Charts' CMake package needs Qt6OpenGL's
  fonts-dejavu-core                   # gui/: a font for the offscreen platform (tests, screenshots)
  libopenmpi-dev openmpi-bin          # moesim-mpi: sweeps spread over MPI ranks (mpirun)
  clang-16 libclang-rt-16-dev         # make test-fuzz: libFuzzer harnesses (fuzz/)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "moesim setup: missing Debian packages: ${missing[*]}" >&2
  echo "run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "moesim setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
