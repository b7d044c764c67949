#!/bin/sh
# Debian packages cxr needs to build, test and benchmark.
set -e
PKGS="build-essential pkg-config libpng-dev libzstd-dev libopenblas-dev libcsv-dev check mandoc zstd"
# References for the numeric and speed proofs (tests skip cleanly without them).
REFS="python3-torch python3-sklearn python3-pil python3-numpy"
missing=
for p in $PKGS $REFS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "cxr: missing Debian packages:$missing" >&2
	echo "cxr: run as root: apt-get install$missing" >&2
	exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
