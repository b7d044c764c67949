#!/bin/sh
# t-cron-kill — pipelines/cron-score.sh under kill -9: 30 runs killed at
# random moments (the script and every tool it started, as cron's
# process group would be), then one run left to finish: every image is
# scored exactly once, in the scores file and in the ledger, and no
# temporary file is left. Then two runs started at once: one scores, the
# other says the lock is held, and still no image twice.
NAME=t-cron-kill; . ./lib.sh
need cxr-synth cxr-split cxr-resize cxr-pack cxr-train cxr-score flock setsid
cron="$CXR_TOP/pipelines/cron-score.sh"

cxr-synth -q --images 60 --size 64 --seed 7 -o "$t/nih" || fail "cxr-synth"
cxr-split -q --train 16 --val 0 --test 0 -o "$t/split" "$t/nih/Data_Entry_2017_v2020.csv" || fail "cxr-split"
cxr-resize -q --size 32 --root "$t/nih" "$t/split/train.tsv" | cxr-pack -q -o "$t/train.cxp" || fail "pack"
cxr-train -q -j 1 --width 0.02 --epochs 1 --batch 4 --max-steps 1 -o "$t/m.cxm" "$t/train.cxp" ||
	fail "cxr-train"
mkdir -p "$t/in"
ls "$t"/nih/images_001/images/*.png | head -n 40 | xargs -I{} cp {} "$t/in/"
touch -d '1 hour ago' "$t"/in/*.png

# 30 kills at random moments of a run
i=0 seed=11
while [ $i -lt 30 ]; do
	d=$(awk -v s=$((seed + i)) 'BEGIN { srand(s); printf "%.2f", rand() * 1.2 }')
	setsid bash "$cron" -q -j 1 -m "$t/m.cxm" -o "$t/out" "$t/in" 2>>"$t/err" & p=$!
	sleep "$d"
	kill -9 -- -$p 2>/dev/null
	wait $p 2>/dev/null
	i=$((i + 1))
done
bash "$cron" -q -j 1 -m "$t/m.cxm" -o "$t/out" "$t/in" 2>>"$t/err" || fail "the run after the kills: exit $?"
sc=$(ls "$t"/out/scores-*.tsv 2>/dev/null)
[ -n "$sc" ] || fail "no scores file after the kills"
rows=$(cat $sc /dev/null | awk -F'\t' '$1 != "image"' | cut -f 1 | sort)
[ "$(printf '%s\n' "$rows" | grep -c .)" -eq 40 ] ||
	fail "after 30 kills: $(printf '%s\n' "$rows" | grep -c .) score rows, want 40"
[ -z "$(printf '%s\n' "$rows" | uniq -d)" ] || fail "after 30 kills: an image scored twice"
led=$t/out/.cron-score/scored
[ "$(sort "$led" | uniq | wc -l)" -eq 40 ] && [ "$(wc -l < "$led")" -eq 40 ] ||
	fail "after 30 kills: the ledger has $(wc -l < "$led") lines"
[ -z "$(find "$t/out" -name '*.tmp')" ] || fail "temporary files left: $(find "$t/out" -name '*.tmp')"
[ -z "$(ls "$t/out/.cron-score/pending")" ] || fail "a pending batch left"

# two runs at once
ls "$t"/nih/images_001/images/*.png | sed -n 41,50p | xargs -I{} cp {} "$t/in/"
touch -d '1 hour ago' "$t"/in/*.png
: > "$t/err2"
bash "$cron" -j 1 -m "$t/m.cxm" -o "$t/out" "$t/in" 2>>"$t/err2" & p1=$!
bash "$cron" -j 1 -m "$t/m.cxm" -o "$t/out" "$t/in" 2>>"$t/err2" & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] || fail "two runs at once: exit $r1 and $r2"
bash "$cron" -q -j 1 -m "$t/m.cxm" -o "$t/out" "$t/in" 2>>"$t/err2" || fail "the run after: exit $?"
rows=$(cat "$t"/out/scores-*.tsv | awk -F'\t' '$1 != "image"' | cut -f 1 | sort)
[ "$(printf '%s\n' "$rows" | grep -c .)" -eq 50 ] && [ -z "$(printf '%s\n' "$rows" | uniq -d)" ] ||
	fail "two runs at once: $(printf '%s\n' "$rows" | grep -c .) rows, want 50 distinct"
[ $failed -eq 0 ] || sed 's/^/    /' "$t/err" "$t/err2" | tail -20
finish
