#!/bin/sh
# bench/synth.sh — cxr-synth: images per second at NIH's 1024x1024 (zlib
# level 1, the default, and 6, zlib's default) and at the demo's 256; then
# bench/synth-learn.py: the AUC of mean brightness (want near 0.5) and of a
# small CNN trained for a few minutes at 64x64 (want 0.95 or more).
# Run from the top of the tree after `make`; CXR_SYNTH_LEARN=0 skips the
# CNN (it needs /usr/bin/python3 with torch, numpy, PIL and sklearn).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
t=$(mktemp -d /tmp/cxr-bench-synth.XXXXXX)
trap 'rm -rf "$t"' EXIT
j=$(nproc)
rate() { # N SIZE LEVEL
	s=$(date +%s.%N)
	"$top/bin/cxr-synth" -q -j "$j" --images "$1" --size "$2" --level "$3" -o "$t/d"
	e=$(date +%s.%N)
	mb=$(du -sm "$t/d" | cut -f1)
	awk -v n="$1" -v s="$s" -v e="$e" -v sz="$2" -v l="$3" -v mb="$mb" -v j="$j" \
	    'BEGIN { printf "cxr-synth %4dx%-4d level %d -j %d: %6.1f images/s, %.0f KB per image\n", sz, sz, l, j, n / (e - s), mb * 1024 / n }'
	rm -rf "$t/d"
}
rate 200 1024 1
rate 100 1024 6
rate 2000 256 1
if [ "${CXR_SYNTH_LEARN:-1}" != 0 ]; then
	if /usr/bin/python3 -c 'import torch, sklearn, PIL, numpy' 2>/dev/null; then
		/usr/bin/python3 "$top/bench/synth-learn.py" --images 3000 --epochs 8 --threads "$j"
	else
		echo "skip: synth-learn.py needs /usr/bin/python3 with torch, sklearn, PIL, numpy"
	fi
fi
