#!/bin/sh
# Installs (as root) or names (otherwise) the Debian packages cxr needs.
#   deps.sh build   what building and running the tools needs (make demo)
#   deps.sh         that, and the references the tests compare against
#   deps.sh fuzz    what building makes, and clang with libFuzzer (make fuzz)
#   deps.sh bench   what building makes, and the references the benchmarks
#                   run (PyTorch, Pillow, Chromium for the report's picture)
set -e
PKGS="gcc make pkg-config libpng-dev libzstd-dev libopenblas-dev libcsv-dev check"
# Open MPI: cxr-train's data parallelism (mpirun; t-mpi runs it).
PKGS="$PKGS openmpi-bin libopenmpi-dev"
# DICOM input (pipelines/dicom-resize.sh, not the demo): DCMTK decodes,
# netpbm inverts; the tests and the benchmarks need them.
RUN="dcmtk netpbm"
# Tests and man pages: mandoc lints the pages, zstd reads streams raw,
# time measures peak memory; the numeric proofs compare with scikit-learn
# and Pillow, and the DICOM fixtures are rebuilt with pydicom. A test
# whose reference is missing is skipped, and under CI a skip fails.
# python3-h5py: tools/keras2cxm.py reads Keras's HDF5 models (t-keras).
TEST="mandoc zstd time python3 python3-sklearn python3-pil python3-numpy python3-pydicom libxml2-utils python3-h5py"
case "${1:-}" in
build) ;;
# The fuzz targets: clang 14 with libFuzzer and the sanitizer runtimes.
fuzz) PKGS="$PKGS clang libfuzzer-14-dev libclang-rt-14-dev" ;;
bench) PKGS="$PKGS $RUN python3-torch python3-torchvision python3-pil python3-numpy libtcmalloc-minimal4 chromium" ;;
*) PKGS="$PKGS $RUN $TEST" ;;
esac
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "cxr: missing Debian packages:$missing" >&2
	echo "cxr: install them as root: apt-get install$missing" >&2
	exit 1
fi
echo "cxr: installing$missing" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
