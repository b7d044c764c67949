#!/bin/sh
# t-cron-score — pipelines/cron-score.sh: scores new PNGs once, never twice;
# leaves files still being copied; never overlaps a running instance;
# retries unreadable files; finishes a batch a crash left pending without
# duplicates; cleans up temporary files a killed run left.
set -u
NAME=t-cron-score; . ./lib.sh
need cxr-synth cxr-split cxr-resize cxr-pack cxr-train cxr-score flock
cron="bash $CXR_TOP/pipelines/cron-score.sh"
lines() { if [ -e "$1" ]; then wc -l < "$1"; else echo 0; fi; }
day=$(date +%Y-%m-%d)
sc=$t/out/scores-$day.tsv
led=$t/out/.cron-score/scored

# a tiny model on 32x32 pictures, and 14 images to score
cxr-synth -q --images 40 --size 64 --seed 5 -o "$t/nih" || fail "cxr-synth: exit $?"
cxr-split -q --train 16 --val 0 --test 0 -o "$t/split" "$t/nih/Data_Entry_2017_v2020.csv" || fail "cxr-split"
cxr-resize -q --size 32 --root "$t/nih" "$t/split/train.tsv" | cxr-pack -q -o "$t/train.cxp" || fail "pack"
cxr-train -q -j 1 --width 0.02 --epochs 1 --batch 4 --max-steps 1 -o "$t/m.cxm" "$t/train.cxp" ||
	fail "cxr-train: exit $?"
mkdir -p "$t/in/a" "$t/in/b"
ls "$t"/nih/images_001/images/*.png | head -n 14 > "$t/all"
head -n 8 "$t/all" | xargs -I{} cp {} "$t/in/a/"
sed -n 9,12p "$t/all" | xargs -I{} cp {} "$t/in/b/"
touch -d '1 hour ago' "$t"/in/*/*.png
run() { $cron -s 32 -m "$t/m.cxm" -o "$t/out" "$@" "$t/in" 2>>"$t/err"; }

# usage errors
$cron -m "$t/m.cxm" "$t/in" 2>/dev/null; [ $? -eq 2 ] || fail "no -o: want exit 2"
$cron -s 32 -m "$t/m.cxm" -o "$t/out" "$t/nowhere" 2>/dev/null; [ $? -eq 1 ] || fail "missing INCOMING: want exit 1"

# first run: 12 images scored; second run: nothing new, nothing changed
run || fail "run 1: exit $?"
[ "$(lines "$sc")" -eq 13 ] || fail "run 1: $(lines "$sc") lines in the scores file, want 13"
[ "$(head -c 6 "$sc")" = "image	" ] || fail "run 1: no header line"
[ "$(lines "$led")" -eq 12 ] || fail "run 1: ledger has $(lines "$led") names"
cp "$sc" "$t/sc1"
: > "$t/err"
run || fail "run 2: exit $?"
cmp -s "$sc" "$t/sc1" || fail "run 2 changed the scores"
grep -q 'nothing new' "$t/err" || fail "run 2 scored images again"

# a file being copied in waits for the next run; a name seen twice is taken once
sed -n 13p "$t/all" | xargs -I{} cp {} "$t/in/a/"
cp "$t/in/a/$(basename "$(sed -n 1p "$t/all")")" "$t/in/b/"
touch -d '1 hour ago' "$t/in/b/$(basename "$(sed -n 1p "$t/all")")"
: > "$t/err"
run || fail "run 3: exit $?"
[ "$(lines "$sc")" -eq 13 ] || fail "run 3 took a file modified just now"
grep -q '1 image changed in the last 60 s (still arriving?); left for a later run' "$t/err" ||
	fail "run 3 does not say an image is waiting: $(cat "$t/err")"
run -w 0 || fail "run 4: exit $?"
[ "$(lines "$sc")" -eq 14 ] || fail "run 4: $(lines "$sc") lines, want 14"

# another run holds the lock: nothing done, exit 0
sed -n 14p "$t/all" | xargs -I{} cp {} "$t/in/b/"
touch -d '1 hour ago' "$t"/in/*/*.png
flock "$t/out/.cron-score/lock" sh -c "touch '$t/held'; sleep 4" &
for i in 1 2 3 4 5 6 7 8 9 10; do [ -e "$t/held" ] && break; sleep 1; done
: > "$t/err"
run || fail "locked run: exit $?"
grep -q 'another run holds' "$t/err" || fail "locked run: no message"
[ "$(lines "$sc")" -eq 14 ] || fail "locked run changed the scores"
wait

# an unreadable PNG is named, left out, and tried again
head -c 100 "$(sed -n 1p "$t/all")" > "$t/in/b/99999999_000.png"
touch -d '1 hour ago' "$t/in/b/99999999_000.png"
: > "$t/err"
run || fail "run 5: exit $?"
[ "$(lines "$sc")" -eq 15 ] || fail "run 5: $(lines "$sc") lines, want 15"
grep -q '99999999_000.png' "$t/err" || fail "run 5: the bad PNG is not named"
grep -q '99999999_000.png' "$led" && fail "run 5: the bad PNG went into the ledger"
: > "$t/err"
run || fail "run 6: exit $?"
grep -q '99999999_000.png' "$t/err" || fail "run 6: the bad PNG was not tried again"
# the third failing run (-r 3, the default) quarantines it, once
: > "$t/err"
run || fail "run 7: exit $?"
grep -q '99999999_000.png: unreadable in 3 runs; quarantined' "$t/err" ||
	fail "run 7: no quarantine message: $(cat "$t/err")"
: > "$t/err"
run || fail "run 8: exit $?"
grep -q '99999999_000.png' "$t/err" && fail "run 8: a quarantined PNG was tried again"
grep -qx '99999999_000.png' "$t/out/.cron-score/quarantined" || fail "quarantine list"
rm "$t/in/b/99999999_000.png"

# a crash after a batch was committed, half merged: one row already in
# the scores file, one not; and another day's batch; and temporary files
# a killed run left
p=$t/out/.cron-score/pending
ls "$t"/nih/images_001/images/*.png | sed -n 30,32p | cxr-resize -q --size 32 |
	cxr-score -q -m "$t/m.cxm" > "$t/more"
{ head -n 1 "$sc"; tail -n 1 "$sc"; sed -n '2,3p' "$t/more"; } > "$p/$day.123.tsv"
{ head -n 1 "$sc"; sed -n '4p' "$t/more"; } > "$p/2020-01-01.124.tsv"
echo junk > "$t/out/.cron-score/batch.77.tmp"
echo junk > "$t/out/.scores-$day.tsv.77.tmp"
run || fail "recovery run: exit $?"
[ "$(lines "$sc")" -eq 17 ] || fail "recovery: $(lines "$sc") lines, want 17"
[ "$(lines "$t/out/scores-2020-01-01.tsv")" -eq 2 ] || fail "recovery: the other day's batch"
[ -z "$(ls "$p")" ] || fail "recovery: pending batches left: $(ls "$p")"
[ -z "$(find "$t/out" -name '*.tmp')" ] || fail "temporary files left: $(find "$t/out" -name '*.tmp')"
for f in "$sc" "$t/out/scores-2020-01-01.tsv"; do
	[ -z "$(cut -f1 "$f" | sort | uniq -d)" ] || fail "$f: an image scored twice"
done
[ -z "$(sort "$led" | uniq -d)" ] || fail "ledger: a name twice"
[ "$(lines "$led")" -eq 17 ] || fail "ledger: $(lines "$led") names, want 17"

# a folder of symbolic links is followed; without -s the size comes from
# the model (trained at 32 px)
mkdir "$t/links"
for f in $(ls "$t"/nih/images_001/images/*.png | sed -n 35,36p); do ln -s "$f" "$t/links/"; done
touch -h -d '1 hour ago' "$t"/links/*.png
touch -d '1 hour ago' "$t"/nih/images_001/images/*.png
: > "$t/err"
$cron -m "$t/m.cxm" -o "$t/out" "$t/in" "$t/links" 2>>"$t/err" || fail "links run: exit $?"
[ "$(lines "$sc")" -eq 19 ] || fail "links: $(lines "$sc") lines, want 19: $(cat "$t/err")"

[ $failed -eq 0 ] || { echo "stderr of the runs:"; cat "$t/err"; }
finish
