#!/bin/sh
# cxr-resize's pixels against Pillow: real NIH images (gray and RGBA) at
# 256 (within 1 grey level of Pillow's BOX), at 100 (a non-integer scale:
# equal to the exact area average), and every PNG fixture type through
# Pillow's convert("L"). Skipped without /usr/bin/python3, PIL or numpy.
top=${CXR_TOP:-..}
NAME=t-resize-pillow; . ./lib.sh
py=/usr/bin/python3
if ! [ -x $py ] || ! $py -c 'import PIL, numpy' 2>/dev/null; then
	skip "/usr/bin/python3 with PIL and numpy not found (python3-pil python3-numpy)"
	finish
fi
imgs=$top/tests/data/nih/images
for size in 256 100; do
	cxr-resize -q -j 2 --size $size --root "$imgs" -o "$tmp/s$size.cxs" \
		"$top/tests/data/nih/sample_manifest.tsv" || { fail "cxr-resize/cxr-pack at $size"; finish; }
	cxr-pack -x "$tmp/x$size" "$tmp/s$size.cxs" || { fail "cxr-resize/cxr-pack at $size"; finish; }
done
echo "# 1024 -> 256 against Pillow BOX"
$py "$top/tests/pillow_resize.py" pillow 256 "$imgs" "$tmp/x256" || fail "1024 -> 256 differs from Pillow BOX"
echo "# 1024 -> 100 against the exact area average"
$py "$top/tests/pillow_resize.py" exact 100 "$imgs" "$tmp/x100" || fail "1024 -> 100 differs from the exact area average"
echo "# PNG types: Pillow's convert(L) against the gray check_png expects"
$py "$top/tests/pillow_resize.py" fixtures "$top/tests/data/png" || fail "PNG fixtures differ from Pillow's convert(L)"
finish
