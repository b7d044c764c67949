#!/bin/sh
# t-man — the manual: every page is mandoc -Tlint clean and renders what
# its source says; every tool has a page that names each of its own long
# options (the ones every tool shares, -j/--jobs/--threads, -q, --help and
# --version, are in cxr(7)); the pages carry one date.
#
# Rendering: mdoc reads a word that is a macro name as that macro where
# macros are parsed, so `.Ql No Finding` prints "Finding" (`No` is a
# macro); the source must write `\&No`. Each page's plain-text rendering
# must hold "No Finding" as often as its source does.
NAME=t-man; . ./lib.sh
need mandoc
top=${CXR_TOP:-..}
bs=$(printf '\b')

# The page as plain text on one line: overstrikes (bold, underline) and
# line breaks gone, runs of blanks squeezed.
render() {
	mandoc -Tascii "$1" | LC_ALL=C sed "s/.$bs//g" | tr -s ' \t\n' '   '
}
count() { grep -o -- "$1" | wc -l | tr -d ' '; }

for m in "$top"/man/*.[157]; do
	p=$(basename "$m")
	if out=$(mandoc -Tlint -W warning "$m" 2>&1); then ok "$p: lint clean"; else
		fail "$p: mandoc -Tlint -W warning"; echo "$out" | sed 's/^/    /'; fi
	src=$(count 'No Finding' < "$m")
	got=$(render "$m" | count 'No Finding')
	[ "$src" -eq "$got" ] && ok "$p: \"No Finding\" x$src rendered" ||
		fail "$p: the source says \"No Finding\" $src times, the rendering $got (write \\&No)"
done

dates=$(sed -n 's/^\.Dd //p' "$top"/man/*.[157] | sort -u)
[ "$(printf '%s\n' "$dates" | wc -l)" -eq 1 ] && ok "one .Dd: $dates" ||
	fail "the pages carry several dates: $(printf '%s\n' "$dates" | sed 's/.*/[&]/' | tr '\n' ' ')"

for p in cxr-stream.5 cxr-model.5 cxr.7; do
	[ -f "$top/man/$p" ] && ok "man/$p" || fail "no man/$p"
done
for src in "$top"/tools/cxr-*.c; do
	[ -f "$src" ] || continue
	tool=$(basename "$src" .c)
	page=$top/man/$tool.1
	[ -f "$page" ] || { fail "no man/$tool.1"; continue; }
	command -v "$tool" >/dev/null 2>&1 || { skip "$tool not built: its options not checked"; continue; }
	missing=
	for o in $("$tool" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		case $o in --help|--version|--jobs|--threads|--quiet) continue ;; esac
		grep -q -- "Fl \\\\\{0,1\\}-${o#--}\([^a-z0-9-]\|$\)" "$page" || missing="$missing $o"
	done
	[ -z "$missing" ] && ok "$tool: every long option in man/$tool.1" ||
		fail "$tool: --help shows$missing, man/$tool.1 does not"
done
finish
