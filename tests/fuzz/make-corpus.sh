#!/bin/sh
# make-corpus.sh — regenerates the seed corpora tests/fuzz/corpus/NAME/
# from the tools (bin/, built by make all), tests/data and small files
# written here. Deterministic: the same tree gives the same bytes. Needs
# python3 and zstd. The corpora are small on purpose (the fuzzer grows
# its own working corpus in tests/fuzz/build/corpus/).
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
B=$top/bin
C=$top/tests/fuzz/corpus
D=$top/tests/data
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cxr-corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rm -rf "$C"
mkdir -p "$C/stream" "$C/pack" "$C/model" "$C/png" "$C/nihcsv" "$C/manifest" "$C/scores"

# ---- a tiny data set through the tools ----
"$B/cxr-synth" -q -j 1 --images 24 --patients 12 --size 48 --seed 3 -o "$tmp/nih"
"$B/cxr-split" -q --train 8 --val 4 --test 4 --seed 1 -o "$tmp/split" "$tmp/nih/Data_Entry_2017_v2020.csv"
"$B/cxr-resize" -q -j 1 --size 8 --root "$tmp/nih" -o "$tmp/train.cxs" "$tmp/split/train.tsv"
"$B/cxr-resize" -q -j 1 --size 8 --root "$tmp/nih" -o "$tmp/val.cxs" "$tmp/split/val.tsv"
head -2 "$tmp/split/val.tsv" | "$B/cxr-resize" -q -j 1 --size 4 --root "$tmp/nih" -o "$tmp/one.cxs" -
printf 'image\tlabel\n' | "$B/cxr-resize" -q -j 1 --size 8 -o "$tmp/empty.cxs" -
"$B/cxr-pack" -q -o "$tmp/val.cxp" "$tmp/val.cxs"
"$B/cxr-pack" -q -o "$tmp/one.cxp" "$tmp/one.cxs"
"$B/cxr-pack" -q -o "$tmp/empty.cxp" "$tmp/empty.cxs"

# ---- stream: files as written, concatenations, and decompressed content
# (fuzz_stream compresses an input that is not zstd itself) ----
cp "$tmp/one.cxs" "$tmp/empty.cxs" "$tmp/val.cxs" "$tmp/one.cxp" "$C/stream/"
cat "$tmp/one.cxs" "$tmp/empty.cxs" "$tmp/one.cxs" >"$C/stream/concat.cxs"
zstd -q -dc "$tmp/val.cxs" >"$C/stream/val.content"
zstd -q -dc "$tmp/one.cxs" >"$C/stream/one.content"
cat "$tmp/one.cxs" "$tmp/one.cxs" | zstd -q -dc >"$C/stream/concat.content"

# ---- pack ----
cp "$tmp/val.cxp" "$tmp/one.cxp" "$tmp/empty.cxp" "$C/pack/"

# ---- model: small files in the format of man/cxr-model.5 with the
# metadata of a real model, and their content without the checksum
# (fuzz_model appends it and compresses) ----
python3 - "$C/model" <<'EOF'
import hashlib, struct, subprocess, sys
out = sys.argv[1]
def s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack('<I', len(b)) + b
def content(meta, tensors):
    c = b'CXRM' + struct.pack('<I', 1) + struct.pack('<I', len(meta))
    for k, v in meta:
        c += s(k) + s(v)
    c += struct.pack('<I', len(tensors))
    for name, dtype, dims, data in tensors:
        c += s(name) + bytes([dtype, len(dims)]) + b''.join(struct.pack('<Q', d) for d in dims)
        c += b'\0' * ((64 - len(c) % 64) % 64) + data
    return c
def f32(*v): return struct.pack('<%df' % len(v), *v)
meta = [('arch', 'resnet50'), ('width_mult', '0.03'), ('in_channels', '1'),
        ('input_height', '8'), ('input_width', '8'), ('input_scale', '1/255'),
        ('threshold', '0.5'), ('tool_version', 'cxr-train 0.1.0'), ('note', 'caf\u00e9 \u2713')]
models = {
    'empty': content([], []),
    'meta': content(meta, []),
    'tensors': content(meta[:3], [
        ('conv1.weight', 3, [2, 1, 2, 2], f32(*[0.5 * i for i in range(8)])),
        ('bn1.num_batches_tracked', 3, [], f32(7.0)),
        ('fc.bias', 3, [1], f32(-1.25)),
        ('mask', 1, [3, 2], bytes(range(6))),
        ('hist', 2, [2, 2], struct.pack('<4H', 1, 2, 65535, 0)),
        ('none', 3, [0, 5], b''),
    ]),
}
for name, c in models.items():
    open('%s/%s.content' % (out, name), 'wb').write(c)
    full = c + hashlib.sha256(c).digest()
    z = subprocess.run(['zstd', '-q', '-3', '-c'], input=full, capture_output=True, check=True).stdout
    open('%s/%s.cxm' % (out, name), 'wb').write(z)
EOF

# ---- png: the decoder's fixtures (every type, interlaced, bad files),
# and a synthetic chest X-ray ----
for f in "$D"/png/*.png "$D"/png/bad/*.png; do
	case $f in */bad/*) cp "$f" "$C/png/bad_${f##*/}" ;; *) cp "$f" "$C/png/" ;; esac
done
cp "$(find "$tmp/nih" -name '*.png' | sort | head -1)" "$C/png/synth48.png"

# ---- nihcsv: NIH's two layouts, the synthetic file, and variants ----
cp "$D/nih/data_entry_2017_excerpt.csv" "$C/nihcsv/"
head -12 "$D/nih/sample_labels_excerpt.csv" >"$C/nihcsv/sample_labels_head.csv"
head -10 "$tmp/nih/Data_Entry_2017_v2020.csv" >"$C/nihcsv/synth.csv"
python3 - "$C/nihcsv" <<'EOF'
import sys
out = sys.argv[1]
h = 'Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Sex,View Position,'
rows = ['00000001_000.png,No Finding,0,1,58,M,PA,',
        '"00000002_000.png","Effusion|Mass",3,00000002,060Y,F,AP,',
        '00000003_000.png,,1,3,6M,-,,',
        '00000004_000.png,"Quoted, comma",0,4,,f,PA,']
open(out + '/bom_crlf.csv', 'wb').write(('\ufeff' + h + '\r\n' + '\r\n'.join(rows) + '\r\n').encode())
open(out + '/multiline.csv', 'w').write(
    'Image Index,Finding Labels,Patient ID\n'
    'a.png,"two\nlines",5\n'
    'b.png,No_Finding,6\n')
EOF

# ---- manifest: manifests (as written by cxr-split, reordered, CRLF),
# bare lists of paths, names under the fuzz target's --root ----
cp "$tmp/split/val.tsv" "$C/manifest/val.tsv"
cp "$D/nih/sample_manifest.tsv" "$C/manifest/"
head -5 "$D/nih/test_list_small.txt" >"$C/manifest/list.txt"
printf 'image\tview\tage\tsex\tlabel\nsub/b.png\tPA\t058Y\tM\t1\r\na.png\t-\t6M\tF\t0\r\n' >"$C/manifest/crlf.tsv"
printf 'a.png\nsub/b.png\n\n/abs/c.png\n' >"$C/manifest/paths.txt"
printf 'patient\timage\tfollowup\nx\ta.png\t3\n' >"$C/manifest/image_second.tsv"

# ---- scores: cxr-score's columns, the ROC fixtures (cut short) ----
printf 'image\tscore\tlabel\tpatient\tage\tsex\tview\tmodel\tthreshold\tpred\n' >"$C/scores/score.tsv"
awk -F '\t' 'NR > 1 && NR < 9 { printf "%s\t0.%d\t%s\t%s\t%s\t%s\t%s\tc139f848f7c4\t0.5\t%d\n", $1, 37 * NR % 100, $2, $4, $6, $7, $8, NR % 2 }' \
	"$tmp/split/train.tsv" >>"$C/scores/score.tsv"
cp "$D/scores/hanley.tsv" "$C/scores/"
head -30 "$D/scores/ties.tsv" >"$C/scores/ties_head.tsv"
printf 'score\tlabel\tfindings\tage\tsex\timage\n1e-3\t-\tNo Finding\t90\tM\ta\n-2.5\t1\tMass\t-\t-\tb\n0x1p3\t0\tMass\t058Y\tF\tc\n' >"$C/scores/findings.tsv"

du -sh "$C"
