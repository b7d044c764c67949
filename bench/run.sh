#!/bin/sh
# `make bench`: every benchmark, one after another (they share 2 cores, so
# running them side by side would spoil each other's figures). Each prints
# its own figures next to its reference. BENCH=name runs only that one.
cd "$(dirname "$0")/.." || exit 1
PATH=$PWD/bin:$PATH; export PATH
status=0
for b in split resize synth roc wino resnet learn bf16_learn mpi report-browser; do
	case "$b" in *"${BENCH:-}"*) ;; *) continue ;; esac
	[ -f bench/$b.sh ] || continue
	printf '== bench/%s.sh\n' "$b"
	sh bench/$b.sh || { echo "bench/$b.sh: failed" >&2; status=1; }
done
exit $status
