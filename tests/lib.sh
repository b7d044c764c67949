# lib.sh — what the shell tests share; source it after setting NAME:
#	NAME=t-pack; . ./lib.sh
# gives $t (a fresh directory, removed at exit unless KEEP is set),
# fail, expect and err_has, and a count in $failed to exit with.

t=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX") || exit 1
trap '[ -n "$KEEP" ] || rm -rf "$t"' EXIT
trap 'exit 1' INT TERM
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# expect STATUS CMD... — runs CMD with stdout in $t/out, stderr in $t/err.
expect() {
	want=$1; shift
	"$@" >"$t/out" 2>"$t/err"
	got=$?
	[ "$got" -eq "$want" ] || { fail "exit $got, want $want: $*"; sed 's/^/    /' "$t/err"; }
}
# err_has TEXT — stderr of the last expect contains TEXT.
err_has() {
	grep -F -q -- "$1" "$t/err" || { fail "stderr lacks '$1':"; sed 's/^/    /' "$t/err"; }
}
