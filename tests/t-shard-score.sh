#!/bin/sh
# t-shard-score — pipelines/shard-score.mk (cxr(7), SHARDED SCORING): a
# manifest cut into shards at batch boundaries, scored with make -j, the
# pieces joined: the bytes of one unsharded cxr-score run, for shard counts
# that divide the batches and ones that do not, more shards than batches
# (empty shards), and one shard remade alone; a missing parameter is an
# error. Data: t-train's tiny synthetic set at 32x32, a width-1/16 model.
# Run from tests/ with bin/ on PATH (tests/run.sh does both).

NAME=t-shard-score; . ./lib.sh
need cxr-train cxr-synth cxr-split cxr-resize cxr-pack cxr-score make awk
mk=${CXR_TOP:-..}/pipelines/shard-score.mk
bin=$(dirname "$(command -v cxr-score)")

d=$t/data
cxr-synth -q -o "$d" --images 120 --size 64 || { echo "FAIL: cxr-synth"; exit 1; }
cxr-split -q -o "$d" --train 60 --val 24 --test 20 "$d/Data_Entry_2017_v2020.csv" ||
	{ echo "FAIL: cxr-split"; exit 1; }
cxr-resize -q --size 32 --root "$d" "$d/train.tsv" | cxr-pack -q -o "$t/train.cxp" ||
	{ echo "FAIL: making train.cxp"; exit 1; }
cxr-train -q -j1 --width 0.0625 --batch 8 --epochs 1 -o "$t/m.cxm" "$t/train.cxp" ||
	{ echo "FAIL: cxr-train"; exit 1; }
# the manifest: the test images and the validation ones, 44 rows
{ cat "$d/test.tsv"; tail -n +2 "$d/val.tsv"; } >"$t/all.tsv"
rows=$(($(wc -l <"$t/all.tsv") - 1))
[ $rows -gt 40 ] || fail "only $rows rows to score"

# one unsharded run, the reference
cxr-resize -q -j1 --size 32 --root "$d" "$t/all.tsv" |
	cxr-score -q -j1 --batch 4 -m "$t/m.cxm" -o "$t/whole.tsv" || fail "unsharded scoring"
[ "$(wc -l <"$t/whole.tsv")" -eq $((rows + 1)) ] || fail "unsharded: not one line a row"

M="make -s -f $mk BIN=$bin MODEL=$t/m.cxm MANIFEST=$t/all.tsv ROOT=$d BATCH=4"
for s in 1 3 4 20; do
	$M -j 2 SHARDS=$s OUT="$t/o$s" >"$t/out" 2>&1 || { fail "SHARDS=$s: $(cat "$t/out")"; continue; }
	cmp -s "$t/o$s/scores.tsv" "$t/whole.tsv" &&
		ok "SHARDS=$s with make -j 2: the unsharded run's bytes" ||
		fail "SHARDS=$s: the merged scores differ from the unsharded run's"
	n=$(ls "$t/o$s" | grep -c '^shard-.*\.scores$')
	[ "$n" -eq $s ] || fail "SHARDS=$s: $n shard score files"
done
# 20 shards of 11 batches: some are empty (a header line only)
[ "$(awk 'END { print NR }' "$t/o20/shard-0.tsv")" -eq 1 ] ||
	fail "SHARDS=20: shard 0 is not empty ($(wc -l <"$t/o20/shard-0.tsv") lines)"
# rows cut at batch boundaries: every shard but the last a multiple of 4
for f in "$t"/o3/shard-0.tsv "$t"/o3/shard-1.tsv; do
	[ $((($(wc -l <"$f") - 1) % 4)) -eq 0 ] || fail "$(basename "$f"): not whole batches"
done

# one shard remade alone (as a Slurm array task does), then the join
rm -f "$t/o3/shard-1.scores" "$t/o3/scores.tsv"
$M SHARDS=3 OUT="$t/o3" "$t/o3/shard-1.scores" >"$t/out" 2>&1 || fail "one shard: $(cat "$t/out")"
[ -s "$t/o3/shard-1.scores" ] && [ ! -e "$t/o3/scores.tsv" ] && ok "one shard made alone" ||
	fail "making one shard made more or nothing"
$M SHARDS=3 OUT="$t/o3" "$t/o3/scores.tsv" >"$t/out" 2>&1
cmp -s "$t/o3/scores.tsv" "$t/whole.tsv" && ok "joined after a shard was remade" ||
	fail "the join after one shard differs"

# a missing parameter is an error, naming it
make -s -f "$mk" BIN="$bin" MODEL="$t/m.cxm" ROOT="$d" OUT="$t/x" >"$t/out" 2>&1 &&
	fail "no MANIFEST: make succeeded"
grep -q 'MANIFEST' "$t/out" && ok "no MANIFEST: an error naming it" || fail "no MANIFEST: $(cat "$t/out")"

finish
