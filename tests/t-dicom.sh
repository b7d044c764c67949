#!/bin/sh
# t-dicom — DICOM files beside PNGs (pipelines/dicom-resize.sh, and
# pipelines/cron-score.sh on a folder that mixes both), on the fixtures of
# tests/data/dicom (written by tests/make_dicom.py from a real NIH image):
# - the fixtures are what make_dicom.py writes, byte for byte;
# - a DICOM with the pixels of its PNG source (8-bit MONOCHROME2, the same
#   JPEG lossless, MONOCHROME1 of the inverse, 12 bits without a window,
#   the same JPEG-LS)
#   gives the same tensor and the same score as the PNG;
# - a window, a VOI LUT, a windowed MONOCHROME1 and 16 bits map as DICOM
#   defines it, at every pixel, from the stored values pydicom reads;
# - PatientID, PatientAge, PatientSex and ViewPosition land in the
#   manifest and the scores; names, birth dates, accession numbers,
#   institutions land nowhere;
# - a truncated file, a multi-frame image, an SR, a PDF, JPEG 2000 and a
#   non-DICOM .dcm are refused naming the file; a DICOM without extension is found
#   by its magic;
# - the cron script scores a mixed folder, each image exactly once, and
#   retries then quarantines the bad DICOM objects.
set -u
NAME=t-dicom; . ./lib.sh
need cxr-synth cxr-split cxr-resize cxr-pack cxr-train cxr-score flock od \
	dcmdump dcmj2pnm dcml2pnm dcmcjpeg dcmcrle dcmcjpls pnmtopng pnminvert
D=$CXR_TOP/tests/data/dicom
dr="bash $CXR_TOP/pipelines/dicom-resize.sh"
cron="bash $CXR_TOP/pipelines/cron-score.sh"
py=/usr/bin/python3
if $py -c 'import pydicom, numpy, PIL' 2>/dev/null; then havepy=1; else
	havepy=; skip "python3-pydicom, python3-numpy or python3-pil missing: pixel and fixture checks"; fi
lines() { if [ -e "$1" ]; then wc -l < "$1"; else echo 0; fi; }
: > "$t/log"
log() { cat "$t/err" >> "$t/log"; }

# the fixtures are the generator's output
if [ -n "$havepy" ]; then
	$py "$CXR_TOP/tests/make_dicom.py" "$t/regen" 2>"$t/err"
	check $? "make_dicom.py runs"
	same=1
	for f in "$t"/regen/*; do cmp -s "$f" "$D/$(basename "$f")" || { same=; fail "$(basename "$f") differs from make_dicom.py's"; }; done
	[ -z "$same" ] || ok "the fixtures are make_dicom.py's, byte for byte ($(ls "$t/regen" | wc -l) files)"
fi

# --- pixels ------------------------------------------------------------
cd "$D" || exit 1
good="mono2-8.dcm jpegll.dcm mono1-8.dcm w12.dcm jpegls.dcm w12-win.dcm rle.dcm w12-voilut.dcm mono1-12-win.dcm w16.dcm"
for f in $good; do echo "$f"; done > "$t/good.list"
$dr -q -s 256 -M "$t/good.tsv" -o "$t/good.cxs" "$t/good.list" 2>"$t/err"
check $? "dicom-resize.sh decodes the $(lines "$t/good.list") good DICOM files"
log
echo src.png | cxr-resize -q -s 256 -o "$t/src.cxs"
cxr-pack -q -x "$t/x" "$t/good.cxs" && cxr-pack -q -x "$t/x" "$t/src.cxs" || fail "cxr-pack -x"
for f in mono2-8.dcm jpegll.dcm mono1-8.dcm w12.dcm jpegls.dcm; do
	cmp -s "$t/x/$f" "$t/x/src.png"
	check $? "$f: the same 256x256 pixels as its PNG source"
done
if [ -n "$havepy" ]; then
	$py - "$t/x" "$D" > "$t/px" 2>&1 <<'EOF'
# Each decoded image against DICOM's definitions, from the stored values.
import sys, numpy as np, pydicom
from PIL import Image
x, d = sys.argv[1], sys.argv[2]
def got(n): return np.asarray(Image.open(f"{x}/{n}")).astype(np.int64)
def stored(n): return pydicom.dcmread(f"{d}/{n}").pixel_array.astype(np.int64)
def window(v, c, w):
    # PS3.3 C.11.2.1.2.1, linear, to 0..255, rounded down
    y = np.floor(((v - (c - 0.5)) / (w - 1) + 0.5) * 255)
    return np.where(v <= c - 0.5 - (w - 1) / 2, 0, np.where(v > c - 0.5 + (w - 1) / 2, 255, y))
bad = 0
def check(name, want, what):
    global bad
    g = got(name)
    want = np.asarray(want, dtype=np.int64)
    if g.shape != want.shape:   # w16 is 128x128, resized to 256 by cxr-resize
        g = g[::2, ::2]
    n = int((g != want).sum())
    # a few pixels: stored value -> 8 bits, in the ramp and at both ends
    v, w = stored(name).ravel(), want.ravel()
    ramp = np.flatnonzero((w > 0) & (w < 255))
    pick = [int(np.argmin(w))] + [int(ramp[k * len(ramp) // 3]) for k in range(3)] + [int(np.argmax(w))]
    pts = ", ".join(f"{v[i]}->{w[i]}" for i in pick)
    print(f"{name}: {what}: {n} of {want.size} pixels differ; e.g. {pts}")
    bad += n != 0
v = stored("w12.dcm")
check("w12.dcm", v >> 4, "no window: the top 8 of 12 stored bits")
check("w12-win.dcm", window(stored("w12-win.dcm"), 1024, 1024), "window 1024/1024")
check("rle.dcm", window(stored("w12-win.dcm"), 1024, 1024), "RLE, window 1024/1024")
ds = pydicom.dcmread(f"{d}/w12-voilut.dcm")
lut = np.frombuffer(ds.VOILUTSequence[0].LUTData if isinstance(ds.VOILUTSequence[0].LUTData, bytes)
                    else np.asarray(ds.VOILUTSequence[0].LUTData, dtype="<u2").tobytes(), dtype="<u2")
check("w12-voilut.dcm", lut[np.clip(stored("w12-voilut.dcm"), 0, len(lut) - 1)], "VOI LUT (not the window beside it)")
check("mono1-12-win.dcm", 255 - window(stored("mono1-12-win.dcm"), 2000, 3000), "MONOCHROME1, window 2000/3000, inverted")
check("mono1-8.dcm", 255 - stored("mono1-8.dcm"), "MONOCHROME1 8 bits: 255 - stored")
check("mono2-8.dcm", stored("mono2-8.dcm"), "MONOCHROME2 8 bits: as stored")
check("w16.dcm", stored("w16.dcm") >> 8, "16 bits, no window: the top 8")
sys.exit(1 if bad else 0)
EOF
	check $? "windows, VOI LUT, MONOCHROME1 and bit depths map as DICOM defines, at every pixel"
	sed 's/^/    /' "$t/px"
fi

# --- header fields -----------------------------------------------------
cat > "$t/want.tsv" <<EOF
image	label	findings	patient	followup	age	sex	view
mono2-8.dcm	-	-	4094	-	21	M	PA
jpegll.dcm	-	-	4094	-	21	M	PA
mono1-8.dcm	-	-	HOSP-0042	-	0.5	F	AP
w12.dcm	-	-	77	-	0.1916495551	-	PA
jpegls.dcm	-	-	77	-	0.1916495551	-	PA
w12-win.dcm	-	-	77	-	0.05475701574	-	LL
rle.dcm	-	-	77	-	0.05475701574	-	LL
w12-voilut.dcm	-	-	77	-	58	M	PA
mono1-12-win.dcm	-	-	77	-	58	F	AP
w16.dcm	-	-	77	-	40	F	AP
EOF
cmp -s "$t/good.tsv" "$t/want.tsv"
check $? "PatientID, PatientAge (021Y 006M 010W 020D 058Y), PatientSex (M F O none), ViewPosition in the manifest"
[ $failed -eq 0 ] || diff "$t/want.tsv" "$t/good.tsv"
cxr-pack -t "$t/good.cxs" | cut -f1-8 > "$t/listed"
cmp -s "$t/listed" "$t/want.tsv"
check $? "and in the stream's records"
# a manifest with labels: its own values win, the header fills the rest
printf 'image\tlabel\tsex\nmono2-8.dcm\t1\tF\nw12.dcm\t0\t-\nsrc.png\t0\tM\n' > "$t/in.tsv"
$dr -q -r "$D" -s 32 -M "$t/m2.tsv" -o "$t/m2.cxs" "$t/in.tsv" 2>"$t/err"
check $? "a manifest with -r DIR"
log
printf 'image\tlabel\tfindings\tpatient\tfollowup\tage\tsex\tview\nmono2-8.dcm\t1\t-\t4094\t-\t21\tF\tPA\nw12.dcm\t0\t-\t77\t-\t0.1916495551\t-\tPA\nsrc.png\t0\t-\t-\t-\t-\tM\t-\n' > "$t/want2.tsv"
cmp -s "$t/m2.tsv" "$t/want2.tsv"
check $? "the manifest's label and sex kept, the header's patient, age and view added"
$dr --manifest-only "$t/good.list" > "$t/only.tsv" 2>"$t/err"
check $? "--manifest-only"
cmp -s "$t/only.tsv" "$t/want.tsv"
check $? "--manifest-only writes the same manifest"

# --- bad files ---------------------------------------------------------
cp mono2-8.dcm "$t/IM000001"                    # no extension: by magic
head -c 3000 src.png > "$t/cut.png"
echo "not a DICOM file" > "$t/junk.dcm"
for f in truncated multiframe sr pdf jpeg2000; do echo "$D/$f.dcm"; done > "$t/bad.list"
printf '%s\n' "$t/junk.dcm" "$t/IM000001" "$D/src.png" "$t/cut.png" >> "$t/bad.list"
$dr -s 32 --skip-bad --max-bad 100% -o "$t/bad.cxs" "$t/bad.list" 2>"$t/err"
check $? "--skip-bad: exit 0 with bad files"
log
for m in "truncated.dcm: not a readable DICOM file (PixelData (7fe0,0010) larger" \
	"multiframe.dcm: a multi-frame image (3 frames)" \
	"sr.dcm: not an image (BasicTextSRStorage; no pixel data)" \
	"pdf.dcm: not an image (EncapsulatedPDFStorage; no pixel data)" \
	"junk.dcm: not a readable DICOM file" \
	"jpeg2000.dcm: cannot decode its pixels (transfer syntax JPEG2000LosslessOnly)" \
	"cxr-resize: cut.png: truncated PNG file" \
	"cxr-resize: skipped 7 bad images of 9"; do
	grep -qF -- "$m" "$t/err"; check $? "refused, naming the file: $m"
done
grep -q 'cxr-resize: [a-z]*\.dcm: not a PNG' "$t/err" && fail "cxr-resize also complains about a refused DICOM file"
grep -q "$D\|$t" "$t/err" && fail "a message names a folder"
cxr-pack -t "$t/bad.cxs" | cut -f1 | tail -n +2 > "$t/names"
printf 'IM000001\nsrc.png\n' | cmp -s - "$t/names"
check $? "the DICOM file without extension (found by its magic) and the PNG are resized"
$dr -s 32 -o "$t/bad2.cxs" "$t/bad.list" 2>"$t/err"
[ $? -eq 1 ] && [ ! -e "$t/bad2.cxs" ] && grep -q 'truncated.dcm: not a readable DICOM file' "$t/err"
check $? "without --skip-bad: exit 1 at the first bad file, no output"
log
printf '%s\n' "$D/mono2-8.dcm" "$D/sr.dcm" | $dr -s 32 > "$t/part.cxs" 2>"$t/err"
[ $? -eq 1 ] && cxr-pack -t "$t/part.cxs" 2>&1 | grep -q 'truncated'
check $? "on stdout: the records before the bad file, no end marker"
log
printf 'image\tlabel\nmono2-8.dcm\t1\nw12.dcm\t1\textra\n' | $dr -r "$D" -s 32 -o "$t/m3.cxs" 2>"$t/err"
[ $? -eq 1 ] && [ ! -e "$t/m3.cxs" ] && grep -q 'stdin: line 3: 3 fields, the header has 2' "$t/err"
check $? "a malformed manifest: exit 1, no output"
log
expect 2 $dr --bogus
expect 2 $dr --max-bad 3 x

# --- scores ------------------------------------------------------------
cxr-synth -q --images 40 --size 64 --seed 5 -o "$t/nih" || fail "cxr-synth: exit $?"
cxr-split -q --train 16 --val 0 --test 0 -o "$t/split" "$t/nih/Data_Entry_2017_v2020.csv" || fail "cxr-split"
cxr-resize -q --size 32 --root "$t/nih" "$t/split/train.tsv" | cxr-pack -q -o "$t/train.cxp" || fail "pack"
cxr-train -q -j 1 --width 0.02 --epochs 1 --batch 4 --max-steps 1 -o "$t/m.cxm" "$t/train.cxp" ||
	fail "cxr-train: exit $?"
# One image a batch: the same pixels then give the same bytes on any CPU
# (cxr-score(1), DETERMINISM: a batch of another size may change a score's
# last bits, as it does where the product is OpenBLAS's rather than cxr's).
echo src.png | cxr-resize -q -s 32 | cxr-score -q -j 1 --batch 1 -m "$t/m.cxm" > "$t/png.scores"
$dr -q -s 32 "$t/good.list" | cxr-score -q -j 1 --batch 1 -m "$t/m.cxm" > "$t/dcm.scores"
s_png=$(awk -F'\t' 'NR == 2 { print $2 }' "$t/png.scores")
for f in mono2-8.dcm jpegll.dcm mono1-8.dcm w12.dcm jpegls.dcm; do
	s=$(awk -F'\t' -v f="$f" '$1 == f { print $2 }' "$t/dcm.scores")
	[ -n "$s" ] && [ "$s" = "$s_png" ]
	check $? "$f scores $s, its PNG source $s_png"
done
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	$1 == "mono1-8.dcm" { print $c["patient"], $c["age"], $c["sex"], $c["view"] }' "$t/dcm.scores" > "$t/cols"
[ "$(cat "$t/cols")" = "HOSP-0042 0.5 F AP" ]
check $? "the scores carry the header's patient, age, sex, view: $(cat "$t/cols")"

# --- cron: a folder of PNGs and DICOM files ----------------------------
mkdir -p "$t/in/a" "$t/in/b"
ls "$t"/nih/images_001/images/*.png | head -n 4 | xargs -I{} cp {} "$t/in/a/"
for f in mono2-8 mono1-8 w12 rle jpegll; do cp "$f.dcm" "$t/in/b/"; done
cp mono2-8.dcm "$t/in/b/1.2.826.0.1.3680043.8.498.1"    # no extension
for f in truncated multiframe sr pdf; do cp "$f.dcm" "$t/in/a/"; done
cp sr.dcm "$t/in/b/DICOMDIR"                            # an export's index
echo "exported by PACS" > "$t/in/b/README.txt"
touch -d '1 hour ago' "$t"/in/*/*
cr() { $cron -s 32 -m "$t/m.cxm" -o "$t/cron" "$@" "$t/in" 2>"$t/err"; }
day=$(date +%Y-%m-%d)
sc=$t/cron/scores-$day.tsv
led=$t/cron/.cron-score/scored
cr; check $? "cron run 1"
log
[ "$(lines "$sc")" -eq 11 ]
check $? "cron run 1: 4 PNGs and 6 DICOM files scored ($(($(lines "$sc") - 1)) lines)"
cut -f1 "$sc" | tail -n +2 | sort > "$t/scored"
sort > "$t/want-scored" <<EOF
1.2.826.0.1.3680043.8.498.1
jpegll.dcm
mono1-8.dcm
mono2-8.dcm
rle.dcm
w12.dcm
$(ls "$t/in/a" | grep png)
EOF
cmp -s "$t/scored" "$t/want-scored"
check $? "cron: each image scored once, by name"
for b in truncated multiframe sr pdf; do
	grep -q "$b.dcm: " "$t/err"; check $? "cron run 1 names $b.dcm"
done
grep -q '4 of 14 images could not be read; they will be tried again' "$t/err"
check $? "cron: the 4 bad DICOM objects will be tried again"
grep -q 'DICOMDIR\|README' "$t/err" "$sc" && fail "cron took DICOMDIR or README.txt"
s1=$(awk -F'\t' '$1 == "mono1-8.dcm" { print $2 }' "$sc")
s2=$(awk -F'\t' '$1 == "mono2-8.dcm" { print $2 }' "$sc")
[ -n "$s1" ] && [ "$s1" = "$s2" ]
check $? "cron: MONOCHROME1 of the inverse scores as the MONOCHROME2 ($s1)"
cp "$sc" "$t/sc1"
cr; check $? "cron run 2"
log
cmp -s "$sc" "$t/sc1"; check $? "cron run 2 scores nothing again"
grep -q 'sr.dcm' "$t/err"; check $? "cron run 2 retries sr.dcm"
cr; check $? "cron run 3"
log
for b in truncated multiframe sr pdf; do
	grep -q "$b.dcm: unreadable in 3 runs; quarantined" "$t/err"; check $? "cron run 3 quarantines $b.dcm"
done
cr; check $? "cron run 4"
log
grep -q 'nothing new' "$t/err"; check $? "cron run 4: nothing new"
cmp -s "$sc" "$t/sc1"; check $? "cron: the scores are unchanged after 4 runs"
[ "$(lines "$led")" -eq 10 ] && [ -z "$(sort "$led" | uniq -d)" ]
check $? "cron: the ledger names each of the 10 images once"

# --- privacy: no name, birth date, accession number, institution, UID --
uid=$(dcmdump +P 0008,0018 "$D/mono2-8.dcm" | sed 's/.*\[\(.*\)\].*/\1/')
hits=$(grep -rl -e 'DOE' -e 'JANE' -e '19600229' -e 'ACC-777' -e 'Nowhere' -e 'HOUSE' -e "$uid" \
	"$t/log" "$t/cron" "$t"/*.tsv "$t"/*.scores 2>/dev/null)
[ -z "$hits" ]; check $? "no patient name, birth date, accession number or UID in scores, manifests, logs${hits:+: $hits}"

[ $failed -eq 0 ] || { echo "stderr of the runs:"; sed 's/^/    /' "$t/log"; }
finish
