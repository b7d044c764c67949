#!/bin/sh
# cxr-report: the page is well-formed (an XML parser and a strict HTML tag
# check, both /usr/bin/python3's), self-contained (nothing fetched, no
# script), and shows exactly the numbers cxr-roc and cxr-bias print for
# the same scores (every table cell carries its exact value, compared
# field by field); small groups are marked, ages read 0–9; the notes a
# reader needs (an AUC interval that includes 0.5, PPV and NPV beside the
# prevalence, how many validation images picked the threshold or that
# the model does not say); provenance (SHA-256 of the scores, the model's
# digest, commands, versions, a reproducible date); errors.
set -u
D=$CXR_TOP/tests/data/scores
M=$CXR_TOP/tests/data/golden_w16_64.cxm
NAME=t-report; . ./lib.sh
PY=/usr/bin/python3
[ -x $PY ] || { skip "no /usr/bin/python3 (Debian package python3)"; finish; }

# The page's checker: well-formed XML; every tag of HTML balanced;
# nothing that fetches or runs; then its tables as TSV lines:
#   metric NAME v lo hi shown          (data-metric rows)
#   group COLUMN GROUP KEY v lo hi shown small   (data-column rows)
#   ece v
cat > "$T/page.py" << 'EOF'
import sys, re, xml.etree.ElementTree as ET
from html.parser import HTMLParser
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
ET.fromstring(text.split("\n", 1)[1])  # after <!DOCTYPE html>: well-formed XML
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source", "area", "base"}
class P(HTMLParser):
    def __init__(s):
        super().__init__(convert_charrefs=True)
        s.stack, s.out, s.row, s.cell, s.text = [], [], None, None, ""
    def handle_starttag(s, tag, attrs):
        a = dict(attrs)
        if tag not in VOID:
            s.stack.append(tag)
        if tag == "tr":
            s.row = a
        if s.cell is not None:
            s.stop = True  # the value is the cell's text before its interval
        if tag == "td" and "data-v" in a and s.row is not None:
            s.cell, s.text, s.stop = a, "", False
        if tag in ("strong",) and a.get("data-k") == "ece":
            s.out.append("ece\t" + a["data-v"])
    def handle_startendtag(s, tag, attrs):
        if s.cell is not None:
            s.stop = True
    def handle_endtag(s, tag):
        if tag in VOID:
            return
        if not s.stack or s.stack[-1] != tag:
            sys.exit("%s: </%s> closes <%s>" % (path, tag, s.stack[-1] if s.stack else "nothing"))
        s.stack.pop()
        if tag == "td" and s.cell is not None:
            c, r = s.cell, s.row
            shown = s.text.strip().replace("\u2212", "-")
            lo, hi = c.get("data-lo", "-"), c.get("data-hi", "-")
            if "data-metric" in r:
                s.out.append("\t".join(["metric", r["data-metric"], c["data-v"], lo, hi, shown]))
            elif "data-column" in r:
                small = "1" if "small" in r.get("class", "") else "0"
                s.out.append("\t".join(["group", r["data-column"], r["data-group"], c["data-k"],
                                        c["data-v"], lo, hi, shown, small]))
            s.cell = None
        if tag == "tr":
            s.row = None
    def handle_data(s, d):
        if s.cell is not None and not s.stop:
            s.text += d
p = P()
p.feed(text)
p.close()
if p.stack:
    sys.exit("%s: unclosed %s" % (path, p.stack))
low = text.lower()
for bad in ("http:", "https:", "<script", " src=", "<link", "url(", "@import", "<iframe",
            "<object", "<embed", " on" + "load=", " onclick="):
    if bad in low:
        sys.exit("%s: has %r" % (path, bad))
print("\n".join(p.out))
EOF

# A scores file with the golden model's digest and a stored threshold.
digest=$(cxr-score --info -m "$M" | awk -F'\t' '$1 == "digest" { print $2 }')
awk -F'\t' -v OFS='\t' -v d="$digest" '{ $8 = NR == 1 ? "model" : d; print $0, NR == 1 ? "threshold" : 0.62 }' \
	"$D/ties.tsv" > "$T/s.tsv"
SOURCE_DATE_EPOCH=1764417600; export SOURCE_DATE_EPOCH
cxr-report -m "$M" --command 'cxr-score -m model.cxm -o s.tsv test.cxs' -o "$T/r.html" "$T/s.tsv" 2> "$T/err"
check $? "a report of a scores file, with its model"
grep -q "skipped 14 rows" "$T/err" && grep -q "r.html" "$T/err"
check $? "notes on stderr: skipped rows, where the report is"
[ "$(ls "$T" | grep -c 'r.html.')" = 0 ]
check $? "no temporary file left"
$PY "$T/page.py" "$T/r.html" > "$T/page.tsv"
check $? "well-formed (XML parser, balanced HTML tags) and self-contained (no http:, script, src, link)"
grep -q '^<!DOCTYPE html>' "$T/r.html" && grep -q '<meta charset="utf-8"/>' "$T/r.html" &&
	grep -q '<meta name="viewport"' "$T/r.html" && ! grep -q '<?xml' "$T/r.html"
check $? "an HTML5 page: doctype, charset, viewport; inline SVG without XML declarations"
[ "$(grep -c '<svg' "$T/r.html")" = 6 ] && grep -q '<title>ROC curve: s.tsv</title>' "$T/r.html" &&
	grep -q 'Reliability diagram' "$T/r.html"
check $? "plots inline: ROC, reliability, the groups (one wide, three narrow)"

# The numbers: cxr-roc's lines, value and interval, exactly.
cxr-roc -q "$T/s.tsv" > "$T/roc.tsv"
awk -F'\t' 'NR > 1 { print "metric\t" $1 "\t" $2 "\t" $3 "\t" $4 }' "$T/roc.tsv" > "$T/want"
cut -f1-5 "$T/page.tsv" | grep '^metric' > "$T/got"
cmp -s "$T/want" "$T/got" || diff "$T/want" "$T/got" | head
check $? "the metrics table = cxr-roc's (n, positives, auc, threshold, rates, ppv, npv; values and intervals)"
awk -F'\t' '$1 == "metric" && $2 != "n" && $2 != "positives" && $2 != "threshold" {
	if (sprintf("%.3f", $3) != $6) { print; bad = 1 } } END { exit bad }' "$T/page.tsv"
check $? "each shown to 3 decimals"
cxr-roc -q --calibration "$T/s.tsv" | awk -F'\t' '$1 == "ece" { print "ece\t" $2 }' > "$T/want"
grep '^ece' "$T/page.tsv" | cmp -s - "$T/want"
check $? "ECE = cxr-roc --calibration's"

# cxr-bias's lines, each group's every field, exactly.
cxr-bias -q --by sex --by age:10 --by view "$T/s.tsv" > "$T/bias.tsv"
awk -F'\t' -v OFS='\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
	{ c = $1 == "all" ? "all" : $1
	  print c, $2, "n", $3; print c, $2, "positives", $4
	  print c, $2, "auc", $(h["auc"]), $(h["ci_low"]), $(h["ci_high"])
	  print c, $2, "error_rate", $(h["error_rate"]); print c, $2, "tpr", $(h["tpr"]); print c, $2, "fpr", $(h["fpr"])
	  if (c == "all") { print c, $2, "tpr_gap", 0, "-", "-"; print c, $2, "fpr_gap", 0, "-", "-" }
	  else { print c, $2, "tpr_gap", $(h["tpr_gap"]), $(h["tpr_gap_low"]), $(h["tpr_gap_high"])
		 print c, $2, "fpr_gap", $(h["fpr_gap"]), $(h["fpr_gap_low"]), $(h["fpr_gap_high"]) } }' \
	"$T/bias.tsv" | sort -u > "$T/want"
awk -F'\t' -v OFS='\t' '$1 == "group" { k = $4
	if (k == "auc" || k ~ /_gap$/) print $2, $3, k, $5, $6, $7; else print $2, $3, k, $5 }' "$T/page.tsv" |
	sort -u > "$T/got"
cmp -s "$T/want" "$T/got" || diff "$T/want" "$T/got" | head
check $? "the group tables = cxr-bias --by sex --by age:10 --by view (n, AUC and CI, rates, gaps and their CIs)"
awk -F'\t' '$1 == "group" && $5 != "-" && $8 != "reference" {
	want = sprintf($4 ~ /_gap$/ ? "%+.3f" : ($4 == "n" || $4 == "positives") ? "%d" : "%.3f", $5)
	if (want == "-0.000") want = "+0.000"
	if (want != $8) { print "shown " $8 ", want " want ": " $0; bad = 1 } } END { exit bad }' "$T/page.tsv"
check $? "group figures shown to 3 decimals, gaps signed"
awk -F'\t' 'NR > 1 && $1 != "all" && $17 == 1 { print $1 "\t" $2 }' "$T/bias.tsv" | sort > "$T/want"
awk -F'\t' '$1 == "group" && $4 == "n" && $9 == 1 { print $2 "\t" $3 }' "$T/page.tsv" | sort > "$T/got"
[ -s "$T/want" ] && cmp -s "$T/want" "$T/got"
check $? "small groups (cxr-bias's small column) are the rows marked small ($(wc -l < "$T/want"))"
[ "$(grep -c 'class="badge">small</span></th>' "$T/r.html")" = "$(wc -l < "$T/want")" ]
check $? "each small group carries a visible 'small' mark"
grep -q 'data-column="age" data-group="0"><th>0–9' "$T/r.html" &&
	grep -q 'data-group="90+"[^>]*><th>90+' "$T/r.html" && grep -q '>10–19<' "$T/r.html" &&
	grep -q '<h3>By age (years)</h3>' "$T/r.html"
check $? "age buckets shown as 0–9, 10–19, ..., 90+ (keys stay 0, 10, 90+)"

# What a reader needs said.
grep -q "The AUC's 95% CI (0.709–0.818, DeLong) excludes 0.5" "$T/r.html"
check $? "the AUC's interval excludes 0.5, and the page says so"
awk 'BEGIN { srand(3); print "image\tscore\tlabel\tsex\tage\tview"
	for (i = 0; i < 60; i++) printf "i%d\t%.4f\t%d\tF\t40\tPA\n", i, rand(), i % 2 }' > "$T/chance.tsv"
cxr-report -q -o "$T/chance.html" "$T/chance.tsv" && grep -q 'class="warn">The AUC.s 95% CI ([0-9.–]*) includes 0.5' "$T/chance.html"
check $? "an interval that includes 0.5 is a warning"
ppv=$(awk '$1 == "ppv" { printf "%.3f", $2 }' "$T/roc.tsv") npv=$(awk '$1 == "npv" { printf "%.3f", $2 }' "$T/roc.tsv")
grep -q "PPV $ppv and NPV $npv hold at this test set.s prevalence, 38.2% abnormal (117 of 306)" "$T/r.html" &&
	grep -q '<th>38.2% (this test set)</th>' "$T/r.html"
check $? "PPV and NPV beside the test prevalence, and at other prevalences"
grep -q 'Threshold 0.62: the model.s own' "$T/r.html" &&
	grep -q 'The model file does not record how many validation images, normal and abnormal, picked it' "$T/r.html"
check $? "the model's threshold; that the model file does not record the validation counts"
printf 'image\tlabel\na\t1\nb\t0\nc\t0\nd\t-\ne\t1\n' > "$T/val.tsv"
cxr-report -q -m "$M" --val "$T/val.tsv" -o "$T/v.html" "$T/s.tsv" &&
	grep -q 'holds 4 labelled images: 2 abnormal, 2 normal' "$T/v.html"
check $? "--val: the validation manifest's normal and abnormal images counted"
cxr-report -q -o "$T/nom.html" "$T/s.tsv" && grep -q 'No model file was given' "$T/nom.html"
check $? "without -m the page says how the threshold was picked is not known"
cxr-report -q -t youden -o "$T/y.html" "$T/s.tsv" && grep -q "Youden's J on these scores" "$T/y.html" &&
	[ "$(awk -F'\t' '$1 == "metric" && $2 == "threshold" { print $3 }' "$($PY "$T/page.py" "$T/y.html" > "$T/y.tsv"; echo "$T/y.tsv")")" = \
	  "$(cxr-roc -q -t youden "$T/s.tsv" | awk '$1 == "threshold" { print $2 }')" ]
check $? "-t youden: cxr-roc's threshold, said to be chosen on these scores"

# Provenance.
sha=$(sha256sum "$T/s.tsv" | cut -d' ' -f1)
grep -q "<code>$sha</code>" "$T/r.html"
check $? "the scores' SHA-256"
grep -q "<th>model digest</th><td><code>$digest</code>" "$T/r.html" && grep -q '<code>make_golden.py torch' "$T/r.html" &&
	grep -q "The model.s metadata ($(cxr-score --info -m "$M" | wc -l) keys)" "$T/r.html"
check $? "the model's digest and metadata"
grep -q '^<pre>cxr-score -m model.cxm -o s.tsv test.cxs$' "$T/r.html" &&
	grep -q "cxr-report -m .*golden_w16_64.cxm --command 'cxr-score -m model.cxm -o s.tsv test.cxs' -o" "$T/r.html" &&
	grep -q '<code>cxr-report [0-9.]*</code> (this report)' "$T/r.html"
check $? "the commands (given, and this one, quoted) and the version"
printf '# run\npipeline\tdemo\nparam.EPOCHS\t20\ncommand\tmake -f pipelines/demo.mk\nversion\tcxr-train 0.1.0\n' > "$T/prov"
cxr-report -q --provenance "$T/prov" --command 'cxr-roc s.tsv' -o "$T/p.html" "$T/s.tsv" &&
	grep -q '<th>param.EPOCHS</th><td><code>20</code>' "$T/p.html" &&
	awk '/<pre>/ { p = 1 } p { print } /<\/pre>/ { p = 0 }' "$T/p.html" | head -2 | tr '\n' '|' |
	grep -q '^<pre>make -f pipelines/demo.mk|cxr-roc s.tsv|$' &&
	grep -q '<li><code>cxr-train 0.1.0</code></li>' "$T/p.html"
check $? "--provenance: its commands first, its versions, its other keys"
grep -q '2025-11-29T12:00:00Z' "$T/r.html"
check $? "the date, from SOURCE_DATE_EPOCH when set"
mv "$T/r.html" "$T/r1.html"
cxr-report -m "$M" --command 'cxr-score -m model.cxm -o s.tsv test.cxs' -o "$T/r.html" "$T/s.tsv" 2>/dev/null &&
	cmp -s "$T/r.html" "$T/r1.html"
check $? "the same inputs and date give the same bytes"

# Other inputs: stdin, --title, scores that are not probabilities.
cxr-report -q --title 'Run 7 <PA> & AP' < "$T/s.tsv" > "$T/stdin.html" &&
	grep -q '<title>Run 7 &lt;PA&gt; &amp; AP</title>' "$T/stdin.html" && grep -q '<code>stdin</code>' "$T/stdin.html"
check $? "stdin to stdout, --title escaped"
cxr-report -o "$T/h.html" "$D/hanley.tsv" 2> "$T/err"
[ $? = 0 ] && grep -q 'outside \[0, 1\]' "$T/err" && grep -q 'not all in \[0, 1\]' "$T/h.html" &&
	$PY "$T/page.py" "$T/h.html" > /dev/null
check $? "scores outside [0, 1]: no reliability diagram, said so; the rest is there"
grep -q 'No group tables: the scores have no sex, age or view column' "$T/h.html" && [ "$(grep -c '<svg' "$T/h.html")" = 1 ]
check $? "scores without sex, age or view: the default groups are left out"

# pipelines/report.sh, the Markdown report of a run, from the same scores.
mkdir -p "$T/run/split"
cp "$T/roc.tsv" "$T/run/roc.tsv" && cp "$T/bias.tsv" "$T/run/bias.tsv" && cp "$M" "$T/run/model.cxm"
printf 'image\tlabel\tpatient\na\t1\t1\nb\t0\t2\nc\t0\t3\n' > "$T/run/split/val.tsv"
cp "$T/run/split/val.tsv" "$T/run/split/train.tsv" && cp "$T/run/split/val.tsv" "$T/run/split/test.tsv"
CXR_BIN=$CXR_TOP/bin sh "$CXR_TOP/pipelines/report.sh" -t T "$T/run" > "$T/report.md"
check $? "report.sh runs"
auc=$(awk '$1 == "auc" { printf "%.3f (%.3f to %.3f)", $2, $3, $4 }' "$T/roc.tsv")
grep -q "^| all | 306 | 117 | $auc |" "$T/report.md" && grep -q "^| AUC | $(echo "$auc" | cut -d' ' -f1) |" "$T/report.md"
check $? "report.sh: cxr-roc's AUC and interval"
grep -q '^| 0–9 | 33 | 12 |' "$T/report.md" && grep -q '^| 70–79 \*(small)\* | 18 | 10 |' "$T/report.md" &&
	grep -q '^| unknown \*(small)\* | 6 | 1 |' "$T/report.md" && grep -q '^| age (years) | n |' "$T/report.md"
check $? "report.sh: ages 0–9, small groups marked, unknown for -"
nsmall=$(awk -F'\t' 'NR > 1 && $1 != "all" && $17 == 1' "$T/bias.tsv" | wc -l)
[ "$(grep -c '\*(small)\*' "$T/report.md")" = "$nsmall" ] && grep -q "^- \*Small\*: $nsmall groups" "$T/report.md"
check $? "report.sh: every small group marked, and counted in a note"
gap=$(awk -F'\t' '$1 == "sex" && $2 == "F" { printf "%+.3f (%+.3f to %+.3f)", $11, $13, $14 }' "$T/bias.tsv")
grep -q "^| F | 163 | 62 | .* | $gap |" "$T/report.md"
check $? "report.sh: TPR gaps with their intervals"
grep -q "^- The AUC's 95% CI (0.709 to 0.818) excludes 0.5" "$T/report.md" &&
	grep -q '^- PPV and NPV hold at this test set.s prevalence, 38.2% abnormal; .* 10% abnormal gives PPV' "$T/report.md" &&
	grep -q '^| ppv (at 38.2% abnormal) |' "$T/report.md"
check $? "report.sh: the interval against 0.5, PPV and NPV beside the prevalence"
grep -q 'The model file does not record how many validation images, normal and abnormal, picked it. The split.s validation set has 3 labelled images: 1 abnormal, 2 normal.' "$T/report.md"
check $? "report.sh: the validation counts: not in the model, from the split"
cxr-roc -q "$T/chance.tsv" > "$T/run/roc.tsv"
CXR_BIN=$CXR_TOP/bin sh "$CXR_TOP/pipelines/report.sh" "$T/run" | grep -q "^- \*\*The AUC's 95% CI (.*) includes 0.5\*\*"
check $? "report.sh: an interval that includes 0.5 in bold"

# Errors.
printf 'image\tscore\tlabel\tmodel\na\t0.1\t0\tdeadbeef0000\nb\t0.9\t1\tdeadbeef0000\n' > "$T/other.tsv"
expect_msg 1 "golden_w16_64.cxm: model $digest, but the scores .*other.tsv are from model deadbeef0000" \
	"a model that did not write the scores" -- cxr-report -m "$M" -o "$T/x.html" "$T/other.tsv"
[ ! -e "$T/x.html" ]
check $? "no page when it fails"
printf 'no tab here\n' > "$T/badprov"
expect_msg 1 "badprov: line 1: not key<TAB>value" "a bad provenance line" -- cxr-report --provenance "$T/badprov" "$T/s.tsv"
expect_msg 1 "no 'site' column" "--by a missing column" -- cxr-report --by site "$T/s.tsv"
expect_msg 1 "nonexistent.tsv: No such file" "a missing file" -- cxr-report "$T/nonexistent.tsv"
printf 'image\tscore\tlabel\na\t0.1\t0\nb\t0.2\t0\n' > "$T/neg.tsv"
expect_msg 1 "neg.tsv: all 2 labelled rows are negative" "one class only" -- cxr-report "$T/neg.tsv"
expect_msg 2 "one scores file" "two files" -- cxr-report "$T/s.tsv" "$T/s.tsv"
expect_msg 2 "threshold" "a bad --threshold" -- cxr-report -t high "$T/s.tsv"
cxr-report --help | grep -q '^usage: cxr-report' && cxr-report --version | grep -q '^cxr-report '
check $? "--help and --version"

finish
