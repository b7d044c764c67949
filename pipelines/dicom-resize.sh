#!/bin/bash
# dicom-resize.sh — cxr-resize for images that come as DICOM files from a
# PACS as well as PNGs: decodes each DICOM with DCMTK into an 8-bit PNG in
# a temporary folder, reads the patient's id, sex, age and the view from
# its header into the manifest, and runs cxr-resize on the result, so the
# tensor stream comes out as cxr-resize would write it for PNGs.
#
#   dicom-resize.sh [-q] [-j N] [-s N] [-r DIR] [--skip-bad [--max-bad N[%]]]
#                   [-M MANIFEST] [-o FILE] [LIST | -]
#   dicom-resize.sh --manifest-only [-r DIR] [-o FILE] [LIST | -]
#
#   find /srv/pacs/export -type f | dicom-resize.sh --skip-bad |
#       cxr-score -m model.cxm -o scores.tsv
#
# The input, LIST or the standard input, is what cxr-resize takes: a list
# of paths, one a line, or a manifest (a header line whose first field is
# "image"). Every image is known by its file's base name (with -r, looked
# up below DIR by that name): list lines may be paths, a manifest's image
# names must be base names. A file is a DICOM file when it has the DICOM
# magic "DICM" at byte 128 or a name ending in .dcm (any case); a PNG
# otherwise. PNGs go to cxr-resize unchanged.
#
# Decoding (DCMTK's dcmj2pnm and dcml2pnm: uncompressed, deflated, RLE,
# JPEG and JPEG-LS transfer syntaxes; not JPEG 2000), to 8 bits gray:
# - the file's first VOI LUT (VOI LUT Sequence) when it has one, else its
#   first window (Window Center and Width, DICOM's linear function, or the
#   sigmoid its VOI LUT Function names; rounded down), else the full range
#   of its stored bits: the top 8 of BitsStored (v >> (BitsStored - 8), as
#   cxr-resize reads a 16-bit PNG; 8 bits stay as they are), never a range
#   picked from the pixel values, so that an image's grey levels do not
#   depend on what else is in it (a marker, a pacemaker, the collimator's
#   edge); a file whose BitsStored claims more than its pixels use comes
#   out dark, and should carry a window;
# - MONOCHROME1 is inverted after that (255 - y, exactly), so that bone is
#   bright as in MONOCHROME2 and NIH's PNGs; colour images are written in
#   colour and cxr-resize takes their luma;
# - overlays are not drawn; a modality LUT (Rescale Slope and Intercept)
#   is applied first, and the full range is then that of its output.
# A multi-frame image, an object without pixel data (a structured report,
# an encapsulated PDF, a DICOMDIR), an unreadable, truncated or
# undecodable file is a bad image: named on the standard error, and left
# to cxr-resize's --skip-bad and --max-bad like an unreadable PNG.
#
# The manifest (written whole with -M, or alone with --manifest-only):
# image = the file's base name; patient = PatientID (0010,0020) as text;
# age = PatientAge (0010,1010) in years (058Y -> 58; months, weeks and
# days as fractions of a year: 006M -> 0.5); sex = PatientSex M or F;
# view = ViewPosition (0018,5101), e.g. PA, AP, LL; "-" where the header
# has no valid value, and for PNGs. A manifest given as input keeps its
# own values; the header fills only the columns it leaves "-".
#
# Privacy: messages name images by base name only, never by folder, and
# print nothing from a header but the SOP class of an object refused as
# not an image. Nothing else (names, birth dates, accession numbers, UIDs)
# is read into the manifest, the stream or the scores.
#
# Options: those of cxr-resize (-s/--size, -r/--root, --skip-bad,
# --max-bad, -o/--output, -j/--jobs, -q/--quiet), plus
#   -M FILE, --manifest FILE   also write the manifest to FILE
#   --manifest-only            read headers only: write the manifest (to
#                              the standard output or -o FILE), no stream
# -j N also decodes N DICOM files at a time. The decoded PNGs stay in a
# temporary folder under TMPDIR until the stream is written.
#
# Needs DCMTK (dcmj2pnm, dcml2pnm, dcmdump; Debian dcmtk) and netpbm (pnmtopng,
# pnminvert; Debian netpbm), and cxr-resize (found like cron-score.sh
# finds it). Exit status: cxr-resize's (0, 1 bad data, 2 usage), 1 when a
# tool is missing or the input is malformed.
set -euo pipefail
me=dicom-resize.sh
die() { echo "$me: $*" >&2; exit 1; }
usage() {
	[ $# -eq 0 ] || echo "$me: $*" >&2
	echo "usage: $me [-q] [-j N] [-s N] [-r DIR] [--skip-bad [--max-bad N[%]]] [-M MANIFEST] [-o FILE] [LIST | -]" >&2
	echo "       $me --manifest-only [-r DIR] [-o FILE] [LIST | -]" >&2
	exit 2
}

quiet= jobs= size= root= skipbad= maxbad= out= manifest= only= input=
while [ $# -gt 0 ]; do
	case $1 in
	-q | --quiet) quiet=1 ;;
	-j | --jobs | --threads | -s | --size | -r | --root | --max-bad | -o | --output | -M | --manifest)
		[ $# -ge 2 ] || usage "$1 needs a value"
		case $1 in
		-j | --jobs | --threads) jobs=$2 ;;
		-s | --size) size=$2 ;;
		-r | --root) root=$2 ;;
		--max-bad) maxbad=$2 ;;
		-o | --output) out=$2 ;;
		-M | --manifest) manifest=$2 ;;
		esac
		shift ;;
	-j* | -s* | -r* | -o* | -M*)
		v=${1#-?}
		case $1 in -j*) jobs=$v ;; -s*) size=$v ;; -r*) root=$v ;; -o*) out=$v ;; -M*) manifest=$v ;; esac ;;
	--jobs=* | --threads=*) jobs=${1#*=} ;;
	--size=*) size=${1#*=} ;;
	--root=*) root=${1#*=} ;;
	--max-bad=*) maxbad=${1#*=} ;;
	--output=*) out=${1#*=} ;;
	--manifest=*) manifest=${1#*=} ;;
	--skip-bad) skipbad=1 ;;
	--manifest-only) only=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-) break ;;
	-*) usage "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
[ $# -le 1 ] || usage "one input at most"
input=${1:--}
iname=$input
[ "$input" != - ] || iname=stdin
case ${jobs:-1} in *[!0-9]* | 0*) usage "-j: not a count: $jobs" ;; esac
[ -z "$maxbad" ] || [ -n "$skipbad" ] || usage "--max-bad needs --skip-bad"
[ -z "$only" ] || [ -z "$manifest$skipbad$size" ] || usage "--manifest-only takes no -M, -s or --skip-bad"
[ -z "$root" ] || [ -d "$root" ] || die "$root: not a directory"
[ "$input" = - ] || [ -r "$input" ] || die "$input: cannot read"

here=$(cd "$(dirname "$0")" && pwd)
PATH=${CXR_BIN:+$CXR_BIN:}$here/../bin:$here/../../bin:$PATH:/usr/local/bin
need=(dcmdump awk)
[ -n "$only" ] || need+=(cxr-resize dcmj2pnm dcml2pnm pnmtopng pnminvert)
for t in "${need[@]}"; do
	command -v "$t" >/dev/null || case $t in
		dcm*) die "$t: not found (install DCMTK: apt-get install dcmtk)" ;;
		pnm*) die "$t: not found (install netpbm: apt-get install netpbm)" ;;
		*) die "$t: not found (set CXR_BIN to the tools' folder)" ;;
	esac
done
ncores=$(nproc 2>/dev/null || echo 1)
jobs=${jobs:-$ncores}
[ -z "$jobs" ] || [ "$jobs" -le 1024 ] || usage "-j: 1 to 1024"
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
[ -z "$out" ] || out=$(abspath "$out")
[ -z "$manifest" ] || manifest=$(abspath "$manifest")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dicom-resize.XXXXXX")
stage=$tmp/img work=$tmp/work
mkdir "$stage" "$work" "$work/rows"
rpid= ppid_=
cleanup() {
	[ -z "$ppid_" ] || kill "$ppid_" 2>/dev/null || true
	[ -z "$rpid" ] || kill "$rpid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# -r DIR: every regular file below DIR by base name (later, a name found
# twice is an error when it is asked for).
if [ -n "$root" ]; then
	find -L "$root" -type f -print | awk '{ n = $0; sub(/.*\//, "", n); print n "\t" $0 }' \
		| LC_ALL=C sort -t "$(printf '\t')" -k1,1 > "$work/index"
fi

# The header fields a DICOM file holds, as KEY<TAB>VALUE lines (values
# with no tab or control character: +Qo quotes those in octal). Only the
# tags asked for are read (-M: long values, the pixels, are skipped).
TAGS=(0010,0020 0010,0040 0010,1010 0018,5101 0008,0016 0002,0010
	0028,0004 0028,0008 0028,0101 0028,1050 0028,1051 0028,3010 7fe0,0010)
read_header() { # FILE NAME -> KEY\tVALUE lines on stdout, or 1 with a reason on stdout
	local f=$1 name=$2 p=() t e h=$work/h.$BASHPID
	for t in "${TAGS[@]}"; do p+=(+P "$t"); done
	if ! dcmdump -M +L +Qo +p "${p[@]}" "$f" > "$h" 2> "$h.err"; then
		e=$(grep -m1 -E '^[EF]: ' "$h.err" | sed 's/^[EF]: //; s/^dcmdump: //; s/^DcmElement: //') || true
		rm -f "$h" "$h.err"
		echo "not a readable DICOM file${e:+ (${e//"$f"/$name})}"
		return 1
	fi
	awk '
	# (gggg,eeee) VR [value]   # len, vm Name  -- top level only (+p
	# prefixes nested tags with their sequence path)
	/^\([0-9a-f][0-9a-f][0-9a-f][0-9a-f],[0-9a-f][0-9a-f][0-9a-f][0-9a-f]\) / {
		tag = substr($0, 2, 9); vr = $2
		v = $0
		sub(/[ \t]+#[ \t]*[0-9u\/l]+, *[0-9]+ [A-Za-z0-9]*$/, "", v)
		v = substr(v, 16)
		if (v ~ /^\[/) { v = substr(v, 2); sub(/\][ ]*$/, "", v) }
		else if (v ~ /^=/) v = substr(v, 2)
		else if (vr == "UI" || vr == "US" || vr == "IS" || vr == "DS") sub(/[ ]+$/, "", v)
		else if (v ~ /^\(no value/) v = ""
		else v = "present"
		gsub(/^[ ]+|[ ]+$/, "", v)
		gsub(/[\t\r\n]/, " ", v)
		print tag "\t" v
	}' "$h"
	rm -f "$h" "$h.err"
}

# DICOM header values to manifest fields: patient age sex view.
fields() { # KEY\tVALUE lines on stdin -> "patient\tage\tsex\tview"
	awk -F'\t' '
	{ h[$1] = $2 }
	END {
		p = h["0010,0020"]; if (p == "") p = "-"
		a = h["0010,1010"]; age = "-"
		if (a ~ /^[0-9]+[DWMY]$/) {
			n = substr(a, 1, length(a) - 1) + 0; u = substr(a, length(a))
			# as cxr-resize reads "058Y", "006M", "010W", "020D"
			if (u == "Y") age = sprintf("%d", n)
			else if (u == "M") age = sprintf("%.10g", n / 12)
			else if (u == "W") age = sprintf("%.10g", n * 7 / 365.25)
			else age = sprintf("%.10g", n / 365.25)
		}
		s = h["0010,0040"]; if (s != "M" && s != "F") s = "-"
		v = h["0018,5101"]; if (v !~ /^[A-Z0-9 _]+$/) v = "-"
		print p "\t" age "\t" s "\t" v
	}'
}

# One image: stages it as $stage/NAME (a link to a PNG, a decoded DICOM,
# or, for a bad image, an empty file that cxr-resize refuses) and writes
# its manifest row to $work/rows/I. Runs in the background for DICOMs.
# ROW holds the input's fields: label findings patient followup age sex
# view (tab-separated, "-" unknown).
one() { # I NAME FILE KIND ROW
	local i=$1 name=$2 f=$3 kind=$4 row=$5 h why= ff vo pol dec
	[ "$kind" != dicom ] || f=$(abspath "$f") # never an option to DCMTK
	local -a r fl
	split_tabs "$row"
	r=("${fl[@]}")
	if [ "$kind" = dicom ]; then
		if ! h=$(read_header "$f" "$name"); then
			why=$h
		else
			split_tabs "$(fields <<< "$h")"
			ff=("${fl[@]}")
			# the input's own values win; the header fills the unknown ones
			[ "${r[2]}" != - ] || r[2]=${ff[0]}
			[ "${r[4]}" != - ] || r[4]=${ff[1]}
			[ "${r[5]}" != - ] || r[5]=${ff[2]}
			[ "${r[6]}" != - ] || r[6]=${ff[3]}
			local px frames pi sop ts voi win
			split_tabs "$(awk -F'\t' '{ h[$1] = $2 } END {
				print (("7fe0,0010" in h) ? "y" : "") "\t" h["0028,0008"] + 0 "\t" \
				      h["0028,0004"] "\t" h["0008,0016"] "\t" h["0002,0010"] "\t" \
				      (("0028,3010" in h) ? "y" : "") "\t" \
				      (h["0028,1050"] != "" && h["0028,1051"] != "" ? "y" : "") }' <<< "$h")"
			px=${fl[0]} frames=${fl[1]} pi=${fl[2]} sop=${fl[3]} ts=${fl[4]} voi=${fl[5]} win=${fl[6]}
			if [ -z "$px" ]; then
				why="not an image (${sop:-no SOP class}; no pixel data)"
			elif [ "${frames:-1}" -gt 1 ]; then
				why="a multi-frame image ($frames frames); only single-frame images are scored"
			elif [ -z "$only" ]; then
				if [ -n "$voi" ]; then vo=(+Wl 1)
				elif [ -n "$win" ]; then vo=(+Wi 1)
				else vo=(-W)
				fi
				pol=
				[ "$pi" != MONOCHROME1 ] || pol=1
				# dcmj2pnm decodes JPEG and RLE, dcml2pnm JPEG-LS
				dec=dcmj2pnm
				case $ts in JPEGLS* | 1.2.840.10008.1.2.4.8[01]) dec=dcml2pnm ;; esac
				# MONOCHROME1: DCMTK renders it without inversion (+Pid),
				# pnminvert inverts exactly (DCMTK's own inversion is off
				# by one for half the grey levels).
				if ! { $dec +op -O "${vo[@]}" ${pol:++Pid} "$f" \
					| if [ -n "$pol" ]; then pnminvert; else cat; fi \
					| pnmtopng > "$stage/$name"; } 2> "$work/d.$i"; then
					why=$(grep -m1 -E '^[EF]: ' "$work/d.$i" | sed 's/^[EF]: //') || true
					why="cannot decode its pixels (transfer syntax ${ts:-unknown})${why:+: ${why//"$f"/$name}}"
					case $ts in JPEG2000* | 1.2.840.10008.1.2.4.9[0-9])
						why+="; DCMTK does not decode JPEG 2000: convert it first, e.g. with gdcmconv --raw (Debian libgdcm-tools)" ;;
					esac
				fi
				rm -f "$work/d.$i"
			fi
		fi
		if [ -n "$why" ]; then
			echo "$me: $name: $why" >&2
			printf '%s\n' "$name" >> "$work/refused"
			[ -n "$only" ] || : > "$stage/$name"
		fi
	elif [ "$kind" = missing ]; then
		echo "$me: $name: $f" >&2
		printf '%s\n' "$name" >> "$work/refused"
		[ -n "$only" ] || : > "$stage/$name"
	elif [ -z "$only" ]; then
		ln -s "$(abspath "$f")" "$stage/$name"
	fi
	local IFS=$'\t'
	printf '%s\t%s\n' "$name" "${r[*]}" > "$work/rows/$i.tmp"
	mv "$work/rows/$i.tmp" "$work/rows/$i"
}

is_dicom() { # FILE: a name ending in .dcm, or DICM at byte 128
	case ${1,,} in *.dcm) return 0 ;; *.png) return 1 ;; esac
	[ "$(od -An -c -j128 -N4 -- "$1" 2>/dev/null | tr -d ' ')" = DICM ]
}

# split_tabs LINE: the tab-separated fields of LINE into the array fl,
# empty ones kept.
split_tabs() { mapfile -t -d $'\t' fl <<< "$1"$'\t'; unset 'fl[-1]'; }

# Reads the input, starts one() for each image (at most $jobs DICOMs at a
# time) and writes the manifest rows in input order as they are ready.
# Returns 0, 1 when its output went away (cxr-resize stopped), 3 on a
# malformed input (cxr-resize is then stopped before it sees the end).
produce_rows() {
	local line hdr= lineno=0 i=0 name file kind row k c j v p running hits
	local -a pids=() ids=() col=() head=() fl=()
	local -A seen=() where=()
	emit() { # the oldest pending row
		[ -z "${pids[0]}" ] || wait "${pids[0]}" || true
		cat "$work/rows/${ids[0]}" 2>/dev/null || return 1
		[ -z "$manifest" ] || cat "$work/rows/${ids[0]}" >> "$work/manifest"
		rm -f "$work/rows/${ids[0]}"
		pids=("${pids[@]:1}") ids=("${ids[@]:1}")
	}
	bad() { echo "$me: $*" >&2; return 3; }
	if [ -n "$root" ]; then
		while IFS=$'\t' read -r k v; do
			if [ -n "${where[$k]+y}" ]; then where[$k]+=$'\n'$v; else where[$k]=$v; fi
		done < "$work/index"
	fi
	printf 'image\tlabel\tfindings\tpatient\tfollowup\tage\tsex\tview\n' || return 1
	[ -z "$manifest" ] || printf 'image\tlabel\tfindings\tpatient\tfollowup\tage\tsex\tview\n' > "$work/manifest"
	while IFS= read -r line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		line=${line%$'\r'}
		if [ $lineno -eq 1 ] && [ "${line%%$'\t'*}" = image ]; then
			# a manifest: its columns by name
			hdr=1
			split_tabs "$line"
			head=("${fl[@]}")
			for k in image label findings patient followup age sex view; do
				c=-1
				for j in "${!head[@]}"; do [ "${head[$j]}" != "$k" ] || { c=$j; break; }; done
				col+=("$c")
			done
			continue
		fi
		[ -n "$line" ] || continue
		if [ -n "$hdr" ]; then
			split_tabs "$line"
			[ ${#fl[@]} -eq ${#head[@]} ] ||
				{ bad "$iname: line $lineno: ${#fl[@]} fields, the header has ${#head[@]}"; return; }
			name=${fl[${col[0]}]} row=
			for c in "${col[@]:1}"; do
				v=-
				[ "$c" -lt 0 ] || v=${fl[$c]:--}
				row+=$v$'\t'
			done
			row=${row%$'\t'}
			case $name in
			'' | - | . | ..) bad "$iname: line $lineno: empty image name"; return ;;
			*/*) bad "$iname: line $lineno: $name: a manifest names images by base name (give -r DIR, the folder they are below)"; return ;;
			esac
			file=$name
		else
			case $line in *$'\t'*)
				bad "$iname: line $lineno: a tab in a list of paths (a manifest starts with a header line whose first field is 'image')"
				return ;;
			esac
			name=${line##*/} file=$line
			row=$'-\t-\t-\t-\t-\t-\t-'
			case $name in '' | . | ..) bad "$iname: line $lineno: $line: not a file name"; return ;; esac
		fi
		if [ -n "${seen[$name]+y}" ]; then
			bad "$iname: line $lineno: $name: named twice (images are known by base name)"
			return
		fi
		seen[$name]=1
		if [ -n "$root" ]; then
			case $file in */*) bad "$iname: line $lineno: $file: a name with a '/' cannot be looked up below $root"; return ;; esac
			hits=${where[$name]-}
			case $hits in
			*$'\n'*) bad "$name: two files of that name below $root: ${hits//$'\n'/ and }"; return ;;
			esac
			file=$hits
		fi
		if [ -z "$file" ]; then
			kind=missing file="not found below $root"
		elif [ ! -e "$file" ]; then
			kind=missing file="no such file"
		elif [ ! -r "$file" ] || [ -d "$file" ]; then
			kind=missing file="cannot read the file"
		elif is_dicom "$file"; then
			kind=dicom
		else
			kind=png
		fi
		i=$((i + 1))
		if [ "$kind" = dicom ]; then
			# TERM waits for the command in hand: the producer's wait for
			# this job then covers every process it started
			( trap 'exit 143' TERM; one "$i" "$name" "$file" "$kind" "$row" ) &
			pids+=("$!")
		else
			one "$i" "$name" "$file" "$kind" "$row"
			pids+=("")
		fi
		ids+=("$i")
		running=0
		for p in "${pids[@]}"; do [ -z "$p" ] || running=$((running + 1)); done
		while [ ${#pids[@]} -gt 0 ] && { [ -z "${pids[0]}" ] || [ "$running" -ge "$jobs" ]; }; do
			[ -z "${pids[0]}" ] || running=$((running - 1))
			emit || return 1
		done
	done
	while [ ${#pids[@]} -gt 0 ]; do emit || return 1; done
}
produce() {
	local rc=0
	# stopped (the run interrupted): stop the decoders, and wait for them
	# so that none writes into the temporary folder once it is removed
	trap 'kill $(jobs -p) 2>/dev/null; wait; exit 143' TERM
	trap 'kill $(jobs -p) 2>/dev/null; wait; exit 141' PIPE
	produce_rows || rc=$?
	# a malformed input: stop cxr-resize while it still waits for more,
	# so that it commits nothing
	[ $rc -ne 3 ] || [ -z "$rpid" ] || kill -TERM "$rpid" 2>/dev/null || true
	wait
	return $rc
}

if [ "$input" = - ]; then exec 4<&0; else exec 4< "$input"; fi

if [ -n "$only" ]; then
	if [ -n "$out" ]; then
		produce <&4 > "$work/only" || exit 1
		mv -f "$work/only" "$out"
	else
		produce <&4 || exit 1
	fi
	exit 0
fi

# cxr-resize reads the manifest from a FIFO while produce() writes it, so
# the first images are resized while later ones are decoded. Its messages
# about images refused here (already named) are dropped.
mkfifo "$work/fifo"
ropts=(-j "$jobs")
[ -z "$quiet" ] || ropts+=(-q)
[ -z "$size" ] || ropts+=(--size "$size")
[ -z "$skipbad" ] || ropts+=(--skip-bad)
[ -z "$maxbad" ] || ropts+=(--max-bad "$maxbad")
[ -z "$out" ] || ropts+=(-o "$out")
( cd "$stage" && exec cxr-resize "${ropts[@]}" - < "$work/fifo" ) 2> >(
	awk -v refused="$work/refused" '
	/^cxr-resize: / {
		n = substr($0, 13); p = index(n, ": ")
		if (p) {
			n = substr(n, 1, p - 1); bad = 0
			while ((getline r < refused) > 0) if (r == n) bad = 1
			close(refused)
			if (bad) next
		}
	}
	{ print; fflush() }' >&2) &
rpid=$!
produce <&4 > "$work/fifo" &
ppid_=$!
prc=0 rrc=0
wait "$ppid_" || prc=$?
ppid_=
wait "$rpid" || rrc=$?
rpid=
wait # the message filter
# 3: a malformed input, cxr-resize stopped (its -o file removed, the
# stream on stdout left without its end marker)
[ "$prc" -ne 3 ] || exit 1
[ "$rrc" -eq 0 ] || exit "$rrc"
[ "$prc" -eq 0 ] || die "the manifest could not be written to cxr-resize"
[ -z "$manifest" ] || mv -f "$work/manifest" "$manifest"
exit 0
