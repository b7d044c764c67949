#!/bin/bash
# cron-score.sh — score, from cron, the chest X-ray PNGs and DICOM files
# that arrived in INCOMING since the last run, appending to
# OUTDIR/scores-YYYY-MM-DD.tsv.
#
#   cron-score.sh [-q] [-j N] [-s SIZE] [-w SECONDS] [-r TRIES] [-S STATEDIR] -m MODEL -o OUTDIR INCOMING...
#
# A crontab line (see cxr(7)):
#   */15 * * * *  /usr/local/share/cxr/cron-score.sh -q -m /srv/cxr/model.cxm -o /srv/cxr/scores /srv/pacs/export
#
# Promises:
# - No image is scored twice: a ledger (STATEDIR/scored) holds the name of
#   every image whose score is in a scores file, and a rerun skips them.
#   Images are known by base name, which must be unique (NIH's and most
#   PACS exports' are).
# - No two runs overlap: a run holds an exclusive lock (flock) on
#   STATEDIR/lock; a run that finds it held says so and exits 0.
# - A crash or a kill at any moment leaves no half-written output and loses
#   nothing: a batch is scored into a temporary file, then renamed into
#   STATEDIR/pending (the commit point). A pending batch is then merged into
#   the dated scores file and the ledger, each written to a temporary file
#   and renamed, and removed. Merging skips images already in the scores
#   file, so a run that dies half-way through merging is finished by the
#   next one without duplicates.
# - Images are PNGs (*.png) and DICOM files: *.dcm, or any other file with
#   the DICOM magic "DICM" at byte 128 (PACS exports often have no
#   extension); a file named DICOMDIR (an export's index) and every other
#   file are passed over. DICOM files go through dicom-resize.sh (beside
#   this script; DCMTK and netpbm), which decodes them as its opening
#   comment says and puts their PatientID, PatientSex, PatientAge and
#   ViewPosition into the scores' patient, sex, age and view columns.
# - Files still being copied in are left for the next run: only images
#   unmodified for SECONDS (-w, default 60) are taken; the run says how
#   many are waiting.
# - INCOMING may hold symbolic links to the images (they are followed).
# - An image that cannot be read (a bad PNG; a truncated, undecodable,
#   multi-frame or non-image DICOM object such as a report or a PDF) is
#   reported, left out of the ledger, and tried again on the next run, up
#   to TRIES runs (-r, default 3); then it is quarantined: its name goes to
#   STATEDIR/quarantined, the run says so once, and later runs pass it
#   over. Delete its line there to retry it.
# - Messages name a DICOM file by its base name, never by its folder
#   (which may hold a patient's name); nothing from its header but the
#   four columns above reaches the scores or the messages.
# - The images are resized to the size the model was trained at (read from
#   the model), unless -s SIZE says otherwise.
#
# Exit status: 0 (also when another run holds the lock, or nothing is
# new), 1 on an error, 2 on a usage error.
set -euo pipefail

me=cron-score.sh
usage() {
	echo "usage: $me [-q] [-j N] [-s SIZE] [-w SECONDS] [-r TRIES] [-S STATEDIR] -m MODEL -o OUTDIR INCOMING..." >&2
	exit 2
}
die() { echo "$me: $*" >&2; exit 1; }
say() { [ -n "$quiet" ] || echo "$me: $*" >&2; }

model= outdir= state= size= settle=60 jobs= quiet= tries=3
while getopts m:o:s:w:r:S:j:qh opt; do
	case $opt in
	m) model=$OPTARG ;;
	o) outdir=$OPTARG ;;
	s) size=$OPTARG ;;
	w) settle=$OPTARG ;;
	r) tries=$OPTARG ;;
	S) state=$OPTARG ;;
	j) jobs=$OPTARG ;;
	q) quiet=1 ;;
	h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$model" ] && [ -n "$outdir" ] && [ $# -ge 1 ] || usage
case ${size:-1}$settle${jobs:-1}$tries in *[!0-9]*) usage ;; esac
[ "$tries" -ge 1 ] || usage
[ -r "$model" ] || die "$model: cannot read the model"
for d in "$@"; do [ -d "$d" ] || die "$d: not a directory"; done
state=${state:-$outdir/.cron-score}

# cron's PATH is short: look in CXR_BIN, in the tree this script is in
# (pipelines/../bin), in a prefix it is installed under (share/cxr/../../bin)
# and in /usr/local/bin too.
here=$(cd "$(dirname "$0")" && pwd)
PATH=${CXR_BIN:+$CXR_BIN:}$here/../bin:$here/../../bin:$PATH:/usr/local/bin
for t in cxr-resize cxr-score; do
	command -v $t >/dev/null || die "$t: not found (set CXR_BIN to the tools' folder)"
done
dicom_resize=$here/dicom-resize.sh

# The size the model was trained at, unless -s names one.
if [ -z "$size" ]; then
	info=$(cxr-score --info -m "$model") || die "$model: cannot read the model"
	h=$(printf '%s\n' "$info" | awk -F'\t' '$1 == "input_height" { print $2 }')
	w=$(printf '%s\n' "$info" | awk -F'\t' '$1 == "input_width" { print $2 }')
	[ -n "$h" ] && [ "$h" = "$w" ] ||
		die "$model: input ${h:-?}x${w:-?} is not square; give -s SIZE"
	size=$h
fi

mkdir -p "$outdir" "$state/pending"
exec 9>>"$state/lock"
if ! flock -n 9; then
	say "another run holds $state/lock; nothing done"
	exit 0
fi
# Temporary files of a run killed outright; ours are removed on exit.
rm -f "$state"/*.tmp "$state"/.*.tmp "$outdir"/.*.tmp
tmp=$state/batch.$$.tmp list=$state/list.$$.tmp
trap 'rm -f "$state"/*.$$.tmp "$state"/.*.$$.tmp "$outdir"/.*.$$.tmp' EXIT

# replace FILE COMMAND...: runs COMMAND into a temporary file beside FILE,
# then, only if it succeeded, syncs it and renames it over FILE, so FILE
# is always whole, old or new.
replace() {
	local f=$1 t
	shift
	t=$(dirname "$f")/.$(basename "$f").$$.tmp
	"$@" > "$t"
	sync "$t"
	mv -f "$t" "$f"
}

# Merges one pending batch (a scores TSV with its header) into the dated
# scores file and the ledger; idempotent.
apply() {
	local batch=$1 day scores
	day=$(basename "$batch" .tsv)
	day=${day%%.*}
	scores=$outdir/scores-$day.tsv
	if [ ! -e "$scores" ]; then
		replace "$scores" cat "$batch"
	else
		[ "$(head -n 1 "$scores")" = "$(head -n 1 "$batch")" ] ||
			die "$scores: its columns differ from the new scores'; move it aside"
		# its rows, then the batch's rows for images it lacks
		replace "$scores" awk -F'\t' -v old="$scores" '
		FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "image") c = i
			   if (FILENAME == old) print; next }
		FILENAME == old { seen[$c] = 1; print; next }
		!($c in seen) { seen[$c] = 1; print }' "$scores" "$batch"
	fi
	# the ledger, then the batch's images it lacks
	# (by FILENAME: an empty ledger has no first line to count)
	replace "$state/scored" awk -F'\t' -v ledger="$state/scored" '
	FILENAME == ledger { seen[$0] = 1; print; next }
	FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "image") c = i; next }
	!($c in seen) { seen[$c] = 1; print $c }' "$state/scored" "$batch"
	rm -f "$batch"
}

# A batch committed by a run that died before merging it.
for b in "$state"/pending/*.tsv; do
	[ -e "$b" ] || continue
	say "finishing $(basename "$b") left by an earlier run"
	apply "$b"
done

# The new images: settled PNGs and DICOM files whose names are neither in
# the ledger nor quarantined. A name seen twice in this run is taken once.
# find -L follows links, so a folder of symbolic links works like one of
# files.
touch "$state/scored" "$state/quarantined" "$state/failures"
# images: the paths on stdin that are images: *.png and *.dcm (any case)
# by name, others by the DICOM magic at byte 128; DICOMDIR never.
images() {
	local f
	while IFS= read -r f; do
		case ${f,,} in
		*/dicomdir) ;;
		*.png | *.dcm) printf '%s\n' "$f" ;;
		*) [ "$(od -An -c -j128 -N4 "$f" 2>/dev/null | tr -d ' ')" != DICM ] ||
			printf '%s\n' "$f" ;;
		esac
	done
}
# new_images [FIND TESTS...]: the images below INCOMING passing the tests,
# less those already scored or quarantined.
new_images() {
	find -L "${incoming[@]}" -type f "$@" -print \
		| LC_ALL=C sort \
		| awk -v ledger="$state/scored" -v quar="$state/quarantined" '
		       FILENAME == ledger || FILENAME == quar { seen[$0] = 1; next }
		       { n = $0; sub(/.*\//, "", n) }
		       !(n in seen) { print }' "$state/scored" "$state/quarantined" - \
		| images \
		| awk '{ n = $0; sub(/.*\//, "", n) } !(n in seen) { seen[n] = 1; print }'
}
# the absolute paths, so that od and DCMTK never take a name for an option
for d in "$@"; do
	case $d in /*) incoming+=("$d") ;; *) incoming+=("$PWD/$d") ;; esac
done
now=$(date +%s)
if [ "$settle" -gt 0 ]; then
	new_images ! -newermt "@$((now - settle))" > "$list"
	waiting=$(new_images -newermt "@$((now - settle))" | wc -l)
else
	new_images > "$list"
	waiting=0
fi
n=$(wc -l < "$list")
# plural N WORD: "1 image", "2 images"
plural() { if [ "$1" -eq 1 ]; then echo "$1 $2"; else echo "$1 ${2}s"; fi; }
if [ "$waiting" -gt 0 ]; then
	say "$(plural "$waiting" image) changed in the last $settle s (still arriving?); left for a later run"
fi
if [ "$n" -eq 0 ]; then
	say "nothing new to score"
	exit 0
fi
say "scoring $(plural "$n" "new image")"

# Score them: a list of paths into cxr-resize, or when it holds a DICOM
# file into dicom-resize.sh (unreadable images skipped and named on
# stderr), the tensor stream into cxr-score. Both must succeed before the
# batch is committed.
day=$(date +%Y-%m-%d)
resize=(cxr-resize)
if awk '{ n = tolower($0) } n !~ /\.png$/ { f = 1; exit } END { exit !f }' "$list"; then
	[ -r "$dicom_resize" ] || die "$dicom_resize: not found (it decodes the DICOM files)"
	resize=(bash "$dicom_resize")
fi
"${resize[@]}" -q ${jobs:+-j $jobs} --skip-bad --max-bad 100% --size "$size" "$list" \
	| cxr-score -q ${jobs:+-j $jobs} -m "$model" > "$tmp"
got=$(( $(wc -l < "$tmp") - 1 ))
[ "$got" -ge 0 ] || got=0

# Count the runs each unreadable image has failed; quarantine it after
# TRIES. An image read this time leaves the failure table.
: > "$state/quarantined.$$.tmp"
replace "$state/failures" awk -F'\t' -v OFS='\t' -v fails="$state/failures" -v batch="$tmp" \
	-v quar="$state/quarantined.$$.tmp" -v tries="$tries" '
	FILENAME == fails { count[$1] = $2; next }
	FILENAME == batch && FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "image") c = i; next }
	FILENAME == batch { ok[$c] = 1; next }
	{ n = $0; sub(/.*\//, "", n)
	  if (n in ok) { delete count[n]; next }
	  count[n]++
	  if (count[n] >= tries) { print n > quar; delete count[n] } }
	END { for (n in count) print n, count[n] }' "$state/failures" "$tmp" "$list"
if [ -s "$state/quarantined.$$.tmp" ]; then
	while read -r q; do
		echo "$me: $q: unreadable in $tries runs; quarantined (delete its line in $state/quarantined to try again)" >&2
	done < "$state/quarantined.$$.tmp"
	replace "$state/quarantined" cat "$state/quarantined" "$state/quarantined.$$.tmp"
fi
bad=$(( n - got - $(wc -l < "$state/quarantined.$$.tmp") ))
[ "$bad" -le 0 ] || echo "$me: $bad of $(plural "$n" image) could not be read; they will be tried again" >&2
sync "$tmp"
mv "$tmp" "$state/pending/$day.$$.tsv"
apply "$state/pending/$day.$$.tsv"
say "$(plural "$got" score) added to $outdir/scores-$day.tsv"
exit 0
