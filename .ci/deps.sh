#!/bin/sh
# Installs (as root) or names (otherwise) the Debian packages cxr needs.
#   deps.sh build   what building and running the tools needs (make demo)
#   deps.sh         that, and the references the tests compare against
#   deps.sh fuzz    what building makes, and clang with libFuzzer (make fuzz)
set -e
PKGS="gcc make pkg-config libpng-dev libzstd-dev libopenblas-dev libcsv-dev check"
# Tests and man pages: mandoc lints the pages, zstd reads streams raw, and
# the numeric proofs compare with PyTorch, scikit-learn and Pillow (tests
# that need one skip without it).
case "${1:-}" in
build) ;;
# The fuzz targets: clang 14 with libFuzzer and the sanitizer runtimes.
fuzz) PKGS="$PKGS clang libfuzzer-14-dev libclang-rt-14-dev" ;;
*) PKGS="$PKGS mandoc zstd python3-torch python3-sklearn python3-pil python3-numpy" ;;
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
