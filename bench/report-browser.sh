#!/bin/sh
# bench/report-browser.sh [PAGE.html...] — cxr-report's page in a real
# browser: headless Chromium renders each page at a phone's width (420 px)
# and a wide screen's (1400 px) into PNGs under bench/out/report-browser/
# (OUT=DIR elsewhere), and the run fails unless every page loads without
# a console message or a failed fetch, refers to nothing on the network,
# keeps its sections and plots in the browser's DOM (a parser error would
# reshape them), and paints something at both widths.
# Look at the PNGs: they are what a reader sees.
#
# Without arguments: a page made here from the test fixtures (the tied
# scores of tests/data/scores with the golden model, a fixed date), and
# demo-out/report.html when `make demo` has made it. Prints the seconds
# each render took. Needs Chromium (Debian package chromium) and, to
# check and trim the pictures, /usr/bin/python3 with PIL (python3-pil).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$top/bench/out/report-browser}
tmp=$(mktemp -d /tmp/cxr-bench-report.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out" || exit 1

browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "bench/report-browser.sh: no chromium (Debian package chromium)" >&2; exit 1; }
py=/usr/bin/python3
$py -c 'import PIL' 2>/dev/null || py=

if [ $# -eq 0 ]; then
	m=$top/tests/data/golden_w16_64.cxm
	d=$("$top/bin/cxr-score" --info -m "$m" | awk -F'\t' '$1 == "digest" { print $2 }')
	awk -F'\t' -v OFS='\t' -v d="$d" '{ $8 = NR == 1 ? "model" : d; print $0, NR == 1 ? "threshold" : 0.62 }' \
		"$top/tests/data/scores/ties.tsv" > "$tmp/fixture.scores.tsv"
	SOURCE_DATE_EPOCH=1764417600 "$top/bin/cxr-report" -q -m "$m" \
		--command 'cxr-score -m golden_w16_64.cxm -o fixture.scores.tsv test.cxs' \
		-o "$tmp/fixture.html" "$tmp/fixture.scores.tsv" || exit 1
	set -- "$tmp/fixture.html"
	[ -r "$top/demo-out/report.html" ] && set -- "$@" "$top/demo-out/report.html"
fi

status=0
bad() { echo "bench/report-browser.sh: $*" >&2; status=1; }

# chromium FLAGS... : one headless run with its own profile, stderr logged.
chrome() {
	prof=$(mktemp -d "$tmp/profile.XXXXXX")
	timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-extensions --hide-scrollbars --enable-logging=stderr --v=0 \
		--user-data-dir="$prof" "$@"
}

# Lines of a browser log that say the page did not load cleanly (the
# sandbox's D-Bus and GPU complaints are the machine's, not the page's).
page_errors() {
	grep -E 'CONSOLE|Uncaught|net::ERR|Failed to load|Refused to|Not allowed to load|blocked' "$1" |
		grep -v -E 'dbus|gpu|GPU|viz' || true
}

for page in "$@"; do
	[ -r "$page" ] || { bad "$page: cannot read"; continue; }
	abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
	name=$(basename "$(dirname "$abs")")-$(basename "$abs" .html)
	[ "$page" = "$tmp/fixture.html" ] && name=fixture
	echo "== $page"
	# The DOM the browser built: the page's sections and plots survive its
	# parser (an unclosed tag or a stray character would reshape them).
	chrome --dump-dom "file://$abs" > "$tmp/dom.html" 2> "$tmp/dom.log"
	[ $? = 0 ] || bad "$page: chromium --dump-dom failed"
	for id in summary roc calibration groups provenance; do
		grep -q "<section id=\"$id\">" "$tmp/dom.html" || bad "$page: section $id missing from the DOM"
	done
	nsvg=$(grep -o '<svg ' "$tmp/dom.html" | wc -l) nsrc=$(grep -o '<svg ' "$abs" | wc -l)
	[ "$nsvg" = "$nsrc" ] || bad "$page: $nsrc plots in the file, $nsvg in the DOM"
	grep -q '<script' "$tmp/dom.html" && bad "$page: a script in the DOM"
	grep -o -E '(src|href|xlink:href)="(https?:|//)[^"]*"' "$tmp/dom.html" > "$tmp/fetch"
	[ -s "$tmp/fetch" ] && bad "$page: refers to the network: $(head -3 "$tmp/fetch" | tr '\n' ' ')"
	page_errors "$tmp/dom.log" > "$tmp/errors"
	[ -s "$tmp/errors" ] && { bad "$page: the browser reported:"; sed 's/^/    /' "$tmp/errors" >&2; }
	for w in 420 1400; do
		h=$([ $w = 420 ] && echo 14000 || echo 8000)
		png=$out/$name-$w.png
		rm -f "$png"
		t0=$(date +%s.%N)
		chrome --screenshot="$png" --window-size=$w,$h "file://$abs" > "$tmp/shot.log" 2>&1
		rc=$? t1=$(date +%s.%N)
		[ $rc = 0 ] && [ -s "$png" ] || { bad "$page: no screenshot at $w px (exit $rc)"; continue; }
		page_errors "$tmp/shot.log" > "$tmp/errors"
		[ -s "$tmp/errors" ] && { bad "$page at $w px: the browser reported:"; sed 's/^/    /' "$tmp/errors" >&2; }
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
		if [ -n "$py" ]; then
			# the picture: its size, ink on it, trimmed to the page's end
			$py - "$png" $w $h > "$tmp/size" 2>&1 << 'EOF' || bad "$page at $w px: $(cat "$tmp/size")"
import sys
from PIL import Image, ImageChops
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
im = Image.open(path).convert("RGB")
if im.size != (w, h):
    sys.exit("%dx%d, want %dx%d" % (im.size + (w, h)))
box = ImageChops.difference(im, Image.new("RGB", im.size, "white")).getbbox()
if not box:
    sys.exit("blank")
ink = sum(1 for p in im.resize((w // 4, h // 4)).getdata() if p != (255, 255, 255))
if ink < 0.01 * (w // 4) * (h // 4):
    sys.exit("almost blank (%d)" % ink)
if box[3] >= h - 1:
    print("page taller than the window: the picture is cut at %d px" % h)
im.crop((0, 0, w, min(h, box[3] + 16))).save(path)
print("%dx%d" % (w, min(h, box[3] + 16)))
EOF
			size=$(tail -1 "$tmp/size")
		else
			size="${w}x$h (not trimmed: no PIL)"
		fi
		printf '  %4d px wide: %s in %s s -> %s\n' $w "$size" "$secs" "$png"
	done
done
[ $status = 0 ] && echo "report-browser: every page loaded cleanly; look at $out/*.png"
exit $status
