# tap.sh — TAP-style helpers for the evaluation tests (t-roc, t-bias):
# "ok - what" / "not ok - what" lines, and $fail to exit with. Needs $T,
# a scratch directory, for expect's stderr.
fail=0
ok() { printf 'ok - %s\n' "$1"; }
no() { printf 'not ok - %s\n' "$1"; fail=1; }
check() { if [ "$1" = 0 ]; then ok "$2"; else no "$2"; fi; }
# expect STATUS PATTERN DESCRIPTION -- CMD...: CMD exits STATUS and its
# stderr matches PATTERN.
expect() {
	st=$1 pat=$2 what=$3
	shift 4
	"$@" > /dev/null 2> "$T/err"
	rc=$?
	if [ $rc = "$st" ] && grep -q -- "$pat" "$T/err"; then ok "$what"; else
		no "$what (exit $rc, stderr: $(cat "$T/err"))"; fi
}
