#!/bin/sh
# t-options — the options every tool shares mean the same everywhere
# (lib/base/options): --help (usage on stdout, exit 0), --version, -q,
# -j/--jobs with --threads as its synonym (cxr-pack takes no -j), and
# an unknown option or a bad -j value as a usage error (exit 2, a hint
# to --help on stderr).
NAME=t-options; . ./lib.sh
for tool in cxr-split cxr-resize cxr-pack cxr-train cxr-score cxr-roc cxr-bias cxr-synth cxr-report; do
	need $tool
	expect 0 $tool --help
	grep -q "^usage: $tool" "$t/out" || fail "$tool --help: no usage on stdout"
	[ -s "$t/err" ] && fail "$tool --help wrote to stderr"
	expect 0 $tool --version
	grep -qx "$tool [0-9][0-9.]*" "$t/out" || fail "$tool --version: $(cat "$t/out")"
	expect 2 $tool --no-such-option
	err_has "Try '$tool --help'"
	expect 0 $tool -q --help
	[ $tool = cxr-pack ] && continue
	expect 0 $tool --jobs 1 --help
	expect 0 $tool --threads 1 --help
	expect 0 $tool -j 1 --help
	expect 2 $tool -j 0
	err_has "-j"
	$tool --help | grep -q -- '-j, --jobs N' || fail "$tool --help does not show -j, --jobs N"
done
finish
