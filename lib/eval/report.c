/* report — see report.h. */
#include "eval/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "eval/scores_file.h"
#include "eval/svg.h"

#define NDASH "\xe2\x80\x93"
#define MINUS "\xe2\x88\x92"

/* ---- words and numbers ------------------------------------------------ */

void cxr_threshold_describe(char *buf, size_t cap, const cxr_threshold_rule *r, double stored)
{
	switch (r->kind) {
	case CXR_THR_STORED:
		if (isnan(stored))
			snprintf(buf, cap, "0.5, the default (the scores have no threshold column)");
		else
			snprintf(buf, cap, "the model's own (the scores' threshold column)");
		break;
	case CXR_THR_VALUE: snprintf(buf, cap, "given (--threshold)"); break;
	case CXR_THR_YOUDEN:
		snprintf(buf, cap, "Youden's J on these scores (chosen on the data it is "
				   "evaluated on, so optimistic)");
		break;
	case CXR_THR_SENS:
		snprintf(buf, cap, "the highest threshold reaching sensitivity %g on these scores "
				   "(chosen on the data it is evaluated on, so optimistic)", r->value);
		break;
	}
}

const char *cxr_report_base_name(const char *path)
{
	const char *s = cxr_name(path), *b = strrchr(s, '/');
	return b && b[1] ? b + 1 : s;
}

/* 3 decimals, or an en dash for NaN. */
static const char *f3(char b[32], double v)
{
	if (isnan(v))
		snprintf(b, 32, NDASH);
	else
		snprintf(b, 32, "%.3f", v);
	return b;
}

/* A signed gap: "+0.085", "-0.007". */
static const char *f3s(char b[32], double v)
{
	if (isnan(v))
		snprintf(b, 32, NDASH);
	else
		snprintf(b, 32, "%+.3f", v == 0 ? 0 : v);
	return b;
}

/* A signed gap with a true minus sign, for reading: "+0.085", "−0.007". */
static const char *f3m(char b[32], double v)
{
	f3s(b, v);
	if (b[0] == '-') {
		memmove(b + 3, b + 1, strlen(b));
		memcpy(b, MINUS, 3);
	}
	return b;
}

/* "0.951–0.979" or, signed, "−0.048 to +0.029"; "" without an interval. */
static const char *ci(char b[80], double lo, double hi, int sign)
{
	char x[32], y[32];
	if (isnan(lo) || isnan(hi))
		b[0] = 0;
	else if (sign)
		snprintf(b, 80, "%s to %s", f3m(x, lo), f3m(y, hi));
	else
		snprintf(b, 80, "%s" NDASH "%s", f3(x, lo), f3(y, hi));
	return b;
}

static double ratio(long k, long n) { return n ? (double)k / n : NAN; }

/* ---- plots ------------------------------------------------------------- */

int cxr_report_roc_svg(FILE *f, const char *title, const char *note,
		       const cxr_report_curve *c, int n, int flags)
{
	cxr_svg_curve *cv = cxr_xcalloc((size_t)n, sizeof *cv);
	char (*lab)[320] = cxr_xcalloc((size_t)n, sizeof *lab);
	char (*det)[320] = cxr_xcalloc((size_t)n, sizeof *det);
	char (*op)[200] = cxr_xcalloc((size_t)n, sizeof *op);
	for (int k = 0; k < n; k++) {
		const cxr_report_curve *q = &c[k];
		char a[32], b[80], x[32], y[32];
		double se = ratio(q->c.tp, q->c.tp + q->c.fn), sp = ratio(q->c.tn, q->c.tn + q->c.fp);
		snprintf(lab[k], sizeof lab[k], "%s%s%s%s", q->name, q->model ? " (model " : "",
			 q->model ? q->model : "", q->model ? ")" : "");
		int l = snprintf(det[k], sizeof det[k], "AUC %s", f3(a, q->auc));
		if (*ci(b, q->lo, q->hi, 0))
			l += snprintf(det[k] + l, sizeof det[k] - l, " (95%% CI %s)", b);
		if (n > 1 && !isnan(q->thr))
			snprintf(det[k] + l, sizeof det[k] - l,
				 "\nat threshold %.3g: sensitivity %s, specificity %s", q->thr,
				 f3(x, se), f3(y, sp));
		if (n == 1 && !isnan(q->thr))
			snprintf(op[k], sizeof op[k], "threshold %.3g\nsensitivity %s\nspecificity %s",
				 q->thr, f3(x, se), f3(y, sp));
		cv[k] = (cxr_svg_curve){q->roc->p, q->roc->npoints, lab[k], det[k],
					isnan(q->thr) ? NAN : 1 - sp, isnan(q->thr) ? NAN : se,
					n == 1 && !isnan(q->thr) ? op[k] : NULL};
	}
	long pos = c[0].roc->pos, neg = c[0].roc->neg;
	char cap[1200];
	snprintf(cap, sizeof cap, "n = %ld images: %ld positive (abnormal), %ld negative (normal).%s%s",
		 pos + neg, pos, neg, note ? " " : "", note ? note : "");
	int rc = cxr_svg_roc(f, title, cap, cv, n, flags);
	free(cv);
	free(lab);
	free(det);
	free(op);
	return rc;
}

/* "n 292, 131 abn." */
static char *row_note(const cxr_group_stats *g)
{
	char b[96];
	snprintf(b, sizeof b, "n %ld, %ld abn.", g->n, g->pos);
	return cxr_xstrdup(b);
}

int cxr_report_bias_svg(FILE *f, const char *title, const cxr_group_stats *all, double thr,
			const cxr_group_table *t, int nt, int panels, int flags)
{
	int nrows = 1;
	for (int i = 0; i < nt; i++)
		nrows += 1 + t[i].ngroups;
	cxr_svg_row *rows = cxr_xcalloc((size_t)nrows, sizeof *rows);
	cxr_svg_est *est[3];
	for (int p = 0; p < 3; p++)
		est[p] = cxr_xcalloc((size_t)nrows, sizeof *est[p]);
	char **notes = cxr_xcalloc((size_t)nrows, sizeof *notes);
	/* Ranges: the estimates and intervals of the groups that are not
	 * small (a small group's may run off the panel: an arrowhead). */
	double aucmin = 0.5, gapmax = 0.05;
	int r = 0, nsmall = 0;
	for (int i = -1; i < nt; i++) {
		int ng = i < 0 ? 1 : t[i].ngroups;
		if (i >= 0)
			rows[r++] = (cxr_svg_row){cxr_group_column_label(t[i].column), NULL, 1, 0};
		for (int k = 0; k < ng; k++, r++) {
			const cxr_group_stats *g = i < 0 ? all : &t[i].g[k];
			notes[r] = row_note(g);
			rows[r] = (cxr_svg_row){i < 0 ? "all" : t[i].label[k], notes[r], 0,
						i >= 0 && g->small};
			nsmall += rows[r].hollow;
			est[0][r] = (cxr_svg_est){g->auc.auc, g->auc_lo, g->auc_hi,
						  !g->pos ? "no AUC: no positives"
						  : !g->neg ? "no AUC: no negatives" : "n/a"};
			if (i < 0) {
				est[1][r] = est[2][r] = (cxr_svg_est){NAN, NAN, NAN, "(reference)"};
			} else {
				est[1][r] = (cxr_svg_est){g->tpr_gap, g->tpr_gap_lo, g->tpr_gap_hi,
							  "no positives"};
				est[2][r] = (cxr_svg_est){g->fpr_gap, g->fpr_gap_lo, g->fpr_gap_hi,
							  "no negatives"};
			}
			if (rows[r].hollow)
				continue; /* a small group's figures may run off the panel */
			double av[3] = {g->auc.auc, g->auc_lo, g->auc_hi};
			for (int j = 0; j < 3; j++)
				if (!isnan(av[j]))
					aucmin = fmin(aucmin, av[j]);
			double gv[6] = {g->tpr_gap, g->fpr_gap, g->tpr_gap_lo, g->tpr_gap_hi,
					g->fpr_gap_lo, g->fpr_gap_hi};
			for (int j = 0; j < (i < 0 ? 2 : 6); j++)
				if (!isnan(gv[j]))
					gapmax = fmax(gapmax, fabs(gv[j]));
		}
	}
	double lo = fmin(0.4, floor(aucmin * 10 - 1e-9) / 10);
	double top = fmin(1, ceil(gapmax * 20 - 1e-9) / 20);
	char tpr_t[96], fpr_t[96], all_l[48], cap[800], x[32];
	snprintf(tpr_t, sizeof tpr_t, "TPR gap to all (TPR %s), 95%% CI", f3(x, all->tpr));
	snprintf(fpr_t, sizeof fpr_t, "FPR gap to all (FPR %s), 95%% CI", f3(x, all->fpr));
	snprintf(all_l, sizeof all_l, "all %s", f3(x, all->auc.auc));
	cxr_svg_panel all_p[3] = {
		{"AUC, 95% CI (DeLong)", lo, 1, 0.5, all->auc.auc, "chance 0.5", all_l, est[0]},
		{tpr_t, -top, top, 0, NAN, "no gap", NULL, est[1]},
		{fpr_t, -top, top, 0, NAN, "no gap", NULL, est[2]}};
	cxr_svg_panel p[3];
	int np = 0;
	for (int k = 0; k < 3; k++)
		if (panels & (1 << k))
			p[np++] = all_p[k];
	int l = snprintf(cap, sizeof cap,
			 "Every group at threshold %.4g; n and abnormal (abn.) images per group. "
			 "Gap: the group's rate minus the whole set's, its interval Newcombe's for "
			 "the group against the rest. Dashed: chance and no gap (grey), the whole "
			 "set's AUC (red).", thr);
	if (nsmall)
		snprintf(cap + l, sizeof cap - l,
			 " Hollow grey: %d small group%s (n < %d or fewer than %d positives or "
			 "negatives), too few to read alone.", nsmall, nsmall == 1 ? "" : "s",
			 CXR_SMALL_N, CXR_SMALL_CLASS);
	int rc = cxr_svg_forest(f, title, panels & CXR_PANEL_CAPTION ? cap : NULL, rows, nrows, p,
				np, flags);
	for (int i = 0; i < nrows; i++)
		free(notes[i]);
	free(notes);
	for (int k = 0; k < 3; k++)
		free(est[k]);
	free(rows);
	return rc;
}

/* ---- the page ------------------------------------------------------------ */

#define esc cxr_svg_put_text

static const char css[] =
	":root{--fg:#1b1f24;--muted:#5a6470;--line:#d8dde3;--band:#f5f7fa;--warn:#8a5a00;"
	"--warnbg:#fff6e0;--accent:#1f77b4}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;color:var(--fg);background:#fff;font:15px/1.5 system-ui,-apple-system,"
	"'Segoe UI',Roboto,'DejaVu Sans',sans-serif}\n"
	"header,main,footer{max-width:1240px;margin:0 auto;padding:0 16px}\n"
	"header{padding-top:20px;border-bottom:1px solid var(--line)}\n"
	"h1{font-size:1.6em;margin:0 0 4px;overflow-wrap:anywhere}\n"
	"h2{font-size:1.3em;margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}\n"
	"h3{font-size:1.05em;margin:20px 0 6px}\n"
	".sub{color:var(--muted);margin:0 0 8px;overflow-wrap:anywhere}\n"
	"nav{margin:0 0 12px}nav a{margin-right:14px;color:var(--accent);text-decoration:none}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:10px;"
	"margin:12px 0}\n"
	".card{border:1px solid var(--line);border-radius:6px;padding:10px 12px}\n"
	".card .k{color:var(--muted);font-size:.85em}.card .v{font-size:1.7em;font-weight:600;"
	"font-variant-numeric:tabular-nums}.card .c{color:var(--muted);font-size:.85em}\n"
	".notes{padding-left:20px}.notes li{margin:4px 0}\n"
	".warn{background:var(--warnbg);color:var(--warn);border-left:4px solid #e0a000;"
	"padding:6px 10px;list-style:none;margin-left:-20px}\n"
	".scroll{overflow-x:auto;max-width:100%}\n"
	"table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:6px 0 12px}\n"
	"th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:right;"
	"white-space:nowrap}\n"
	"th:first-child,td:first-child{text-align:left}\n"
	"thead th{background:var(--band);font-weight:600}\n"
	"tr.small td,tr.small th{color:var(--muted)}\n"
	".badge{display:inline-block;font-size:.75em;border:1px solid #999;border-radius:3px;"
	"padding:0 4px;margin-left:6px;color:#555;font-weight:normal}\n"
	".ci{color:var(--muted);font-size:.9em}\n"
	".side{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}\n"
	".figs{display:flex;flex-wrap:wrap;gap:0 40px;align-items:flex-start}\n"
	".figs>section{flex:1 1 420px;max-width:560px}\n"
	"@media (min-width:1000px){.narrow-only{display:none}}\n"
	"@media (max-width:999.98px){.wide-only{display:none}}\n"
	"td .ci{font-size:.8em}\n"
	"figure{margin:8px 0;max-width:100%}\n"
	"figure svg{display:block;max-width:100%;height:auto}\n"
	"figcaption{color:var(--muted);font-size:.9em;max-width:560px}\n"
	"table.cm td,table.cm th{text-align:center}\n"
	"table.metrics td:last-child,table.metrics th:last-child{text-align:left;white-space:normal}\n"
	"table.cm th{white-space:normal}\n"
	"@media (max-width:600px){body{font-size:14px}th,td{padding:3px 6px}\n"
	" table.groups thead{display:none}\n"
	" table.groups,table.groups tbody,table.groups tr,table.groups th,table.groups td{"
	"display:block;width:100%}\n"
	" table.groups tr{border:1px solid var(--line);border-radius:6px;margin:0 0 8px;"
	"padding:4px 10px}\n"
	" table.groups th{border:none;padding:2px 0 4px;font-size:1.05em}\n"
	" table.groups td{border:none;border-top:1px dotted var(--line);padding:3px 0;"
	"text-align:right;overflow:hidden}\n"
	" table.groups td::before{content:attr(data-label);float:left;color:var(--muted)}\n"
	" table.groups td br{display:none}table.groups td .ci{margin-left:8px}}\n"
	"table.kv th{text-align:left;color:var(--muted);font-weight:normal;vertical-align:top}\n"
	"table.kv td{text-align:left;white-space:normal;overflow-wrap:anywhere}\n"
	"code,pre{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.88em}\n"
	"pre{background:var(--band);padding:8px 10px;border-radius:4px;white-space:pre-wrap;"
	"overflow-wrap:anywhere}\n"
	"details{margin:8px 0}summary{cursor:pointer;color:var(--accent)}\n"
	"footer{color:var(--muted);font-size:.85em;margin-top:32px;padding-bottom:24px;"
	"border-top:1px solid var(--line);padding-top:8px}\n"
	"@media print{nav{display:none}h2{break-after:avoid}figure{break-inside:avoid}}\n";

/* <td data-k="k" data-v="exact">shown</td>; the exact value in the tools'
 * format. lo, hi (NaN: none) become data-lo, data-hi and "(lo–hi)". */
static void cell(FILE *f, const char *k, double v, double lo, double hi, int sign)
{
	char a[32], b[32], c[32], d[80];
	fprintf(f, "<td data-k=\"%s\" data-v=\"%s\"", k, cxr_fmt_num(a, v));
	if (!isnan(lo) && !isnan(hi))
		fprintf(f, " data-lo=\"%s\" data-hi=\"%s\"", cxr_fmt_num(b, lo), cxr_fmt_num(c, hi));
	fprintf(f, ">%s", sign ? f3m(a, v) : f3(a, v));
	if (*ci(d, lo, hi, sign))
		fprintf(f, " <span class=\"ci\">(%s)</span>", d);
	fputs("</td>", f);
}

/* A group table's column heading, also each cell's data-label: a narrow
 * screen shows the table as one card per group, a heading beside each
 * value. */
static const char *glabel(const char *k)
{
	static const char *const map[][2] = {
		{"n", "images"}, {"positives", "abnormal"}, {"auc", "AUC"},
		{"error_rate", "error rate"}, {"tpr", "TPR"}, {"fpr", "FPR"},
		{"tpr_gap", "TPR gap"}, {"fpr_gap", "FPR gap"}};
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (!strcmp(map[i][0], k))
			return map[i][1];
	return k;
}

/* A group table's cell: the value, its interval on a line below. */
static void gcell(FILE *f, const char *k, double v, double lo, double hi, int sign)
{
	char a[32], b[32], c[32], d[80];
	fprintf(f, "<td data-label=\"%s\" data-k=\"%s\" data-v=\"%s\"", glabel(k), k,
		cxr_fmt_num(a, v));
	if (!isnan(lo) && !isnan(hi))
		fprintf(f, " data-lo=\"%s\" data-hi=\"%s\"", cxr_fmt_num(b, lo), cxr_fmt_num(c, hi));
	fprintf(f, ">%s", sign ? f3m(a, v) : f3(a, v));
	if (*ci(d, lo, hi, sign))
		fprintf(f, "<br/><span class=\"ci\">%s</span>", d);
	fputs("</td>", f);
}

static void count_cell(FILE *f, const char *k, long v)
{
	fprintf(f, "<td data-k=\"%s\" data-v=\"%ld\">%ld</td>", k, v, v);
}

static const char *meta_get(const cxr_report *r, const char *key)
{
	for (int i = 0; i < r->nmeta; i++)
		if (!strcmp(r->meta[i].key, key))
			return r->meta[i].value;
	return NULL;
}

static void card(FILE *f, const char *k, double v, double lo, double hi, const char *sub)
{
	char a[32], b[80];
	fprintf(f, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v\">%s</div>"
		   "<div class=\"c\">", k, f3(a, v));
	if (*ci(b, lo, hi, 0))
		fprintf(f, "95%% CI %s", b);
	if (sub)
		fprintf(f, "%s%s", *b ? "<br/>" : "", sub);
	fputs("</div></div>\n", f);
}

static void metric_row(FILE *f, const char *metric, const char *name, double v, double lo,
		       double hi, const char *how)
{
	fprintf(f, "<tr data-metric=\"%s\"><th>%s</th>", metric, name);
	cell(f, "value", v, lo, hi, 0);
	fprintf(f, "<td class=\"ci\">%s</td></tr>\n", how);
}

static void prop_row(FILE *f, const char *metric, const char *name, long k, long n,
		     const char *how)
{
	double lo, hi;
	cxr_wilson(k, n, CXR_Z95, &lo, &hi);
	char h[160];
	snprintf(h, sizeof h, "%ld / %ld; %s", k, n, how);
	metric_row(f, metric, name, ratio(k, n), lo, hi, h);
}

/* PPV and NPV at prevalence pi for this sensitivity and specificity. */
static void ppv_npv(double se, double sp, double pi, double *ppv, double *npv)
{
	*ppv = se * pi / (se * pi + (1 - sp) * (1 - pi));
	*npv = sp * (1 - pi) / (sp * (1 - pi) + (1 - se) * pi);
}

static void summary(FILE *f, const cxr_report *r)
{
	const cxr_group_stats *a = r->all;
	const cxr_confusion *c = &a->c;
	char x[32], y[32], z[80], w[80];
	double se = ratio(c->tp, a->pos), sp = ratio(c->tn, a->neg);
	fputs("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"cards\">\n", f);
	card(f, "AUC", a->auc.auc, a->auc_lo, a->auc_hi, NULL);
	double lo, hi;
	cxr_wilson(c->fp + c->fn, a->n, CXR_Z95, &lo, &hi);
	snprintf(z, sizeof z, "%ld of %ld images wrong", c->fp + c->fn, a->n);
	card(f, "Error rate", a->err, lo, hi, z);
	cxr_wilson(c->tp, a->pos, CXR_Z95, &lo, &hi);
	snprintf(z, sizeof z, "%ld of %ld abnormal found", c->tp, a->pos);
	card(f, "Sensitivity", se, lo, hi, z);
	cxr_wilson(c->tn, a->neg, CXR_Z95, &lo, &hi);
	snprintf(z, sizeof z, "%ld of %ld normal cleared", c->tn, a->neg);
	card(f, "Specificity", sp, lo, hi, z);
	fputs("</div>\n<ul class=\"notes\">\n", f);

	/* Does the interval include chance? */
	if (isnan(a->auc_lo))
		fputs("<li class=\"warn\">The AUC has no confidence interval (fewer than two images "
		      "of a class): it cannot be told from chance.</li>\n", f);
	else if (a->auc_lo <= 0.5 && a->auc_hi >= 0.5)
		fprintf(f, "<li class=\"warn\">The AUC's 95%% CI (%s) includes 0.5: these images do "
			   "not show that the model ranks abnormal above normal better than chance.</li>\n",
			ci(z, a->auc_lo, a->auc_hi, 0));
	else
		fprintf(f, "<li>The AUC's 95%% CI (%s, DeLong) excludes 0.5 (chance).</li>\n",
			ci(z, a->auc_lo, a->auc_hi, 0));

	/* The threshold and where it came from. */
	fprintf(f, "<li>Threshold %.4g: %s.", r->thr, r->thr_source);
	if (r->thr_stored && !isnan(r->thr)) {
		const char *rule = meta_get(r, "threshold_rule");
		const char *vn = meta_get(r, "val_n"), *vp = meta_get(r, "val_positives");
		if (!vp)
			vp = meta_get(r, "val_pos");
		if (rule) {
			fputs(" cxr-train picked it on the validation set by ", f);
			if (!strcmp(rule, "youden"))
				fputs("Youden's J", f);
			else
				esc(f, rule);
			fputs(".", f);
		}
		if (vn && vp) {
			long n = atol(vn), p = atol(vp);
			fprintf(f, " The model file records %ld validation images: %ld abnormal, %ld "
				   "normal.", n, p, n - p);
		} else if (r->model_path) {
			fputs(" The model file does not record how many validation images, normal and "
			      "abnormal, picked it (no <code>val_n</code>, <code>val_positives</code> in "
			      "its metadata).", f);
		} else {
			fputs(" No model file was given (<code>-m</code>), so how it was picked is not "
			      "known here.", f);
		}
		if (r->val_path && r->val_n >= 0) {
			fputs(" The validation manifest <code>", f);
			esc(f, r->val_path);
			fprintf(f, "</code> holds %ld labelled images: %ld abnormal, %ld normal.",
				r->val_n, r->val_pos, r->val_n - r->val_pos);
		}
	}
	fputs("</li>\n", f);

	/* Prevalence beside PPV and NPV. */
	double prev = ratio(a->pos, a->n), ppv = ratio(c->tp, c->tp + c->fp),
	       npv = ratio(c->tn, c->tn + c->fn);
	fprintf(f, "<li>PPV %s and NPV %s hold at this test set's prevalence, %.1f%% abnormal "
		   "(%ld of %ld); where abnormal images are rarer or commoner they differ "
		   "(<a href=\"#prevalence\">table</a>).</li>\n", f3(x, ppv), f3(y, npv),
		100 * prev, a->pos, a->n);
	int nsmall = 0;
	for (int t = 0; t < r->ntables; t++)
		for (int k = 0; k < r->tables[t].ngroups; k++)
			nsmall += r->tables[t].g[k].small;
	if (nsmall)
		fprintf(f, "<li><a href=\"#groups\">%d group%s</a> %s small (fewer than %d images, "
			   "or fewer than %d abnormal or normal): marked <span class=\"badge\">small"
			   "</span>, drawn hollow.</li>\n", nsmall, nsmall == 1 ? "" : "s",
			nsmall == 1 ? "is" : "are", CXR_SMALL_N, CXR_SMALL_CLASS);
	if (r->skipped)
		fprintf(f, "<li>%ld row%s without a %s (<code>-</code>) left out.</li>\n", r->skipped,
			r->skipped == 1 ? "" : "s", r->label_col);
	fputs("</ul>\n", f);

	/* The metrics table (cxr-roc's lines) and the confusion matrix. */
	fputs("<div class=\"side\">\n<div class=\"scroll\"><table class=\"metrics\">\n<thead><tr>"
	      "<th>metric</th><th>value (95% CI)</th><th>how</th></tr></thead>\n<tbody>\n", f);
	fprintf(f, "<tr data-metric=\"n\"><th>images</th>");
	count_cell(f, "value", a->n);
	fputs("<td class=\"ci\">labelled</td></tr>\n", f);
	fprintf(f, "<tr data-metric=\"positives\"><th>abnormal</th>");
	count_cell(f, "value", a->pos);
	fprintf(f, "<td class=\"ci\">prevalence %.1f%%</td></tr>\n", 100 * prev);
	metric_row(f, "auc", "AUC", a->auc.auc, a->auc_lo, a->auc_hi, "DeLong");
	fprintf(f, "<tr data-metric=\"threshold\"><th>threshold</th><td data-k=\"value\" "
		   "data-v=\"%s\">%.4g</td><td class=\"ci\">score &#8805; threshold is abnormal</td>"
		   "</tr>\n", cxr_fmt_num(x, r->thr), r->thr);
	prop_row(f, "error_rate", "error rate", c->fp + c->fn, a->n, "Wilson");
	prop_row(f, "sensitivity", "sensitivity (TPR)", c->tp, c->tp + c->fn, "Wilson");
	prop_row(f, "specificity", "specificity (1 " MINUS " FPR)", c->tn, c->tn + c->fp, "Wilson");
	snprintf(w, sizeof w, "Wilson; at prevalence %.1f%%", 100 * prev);
	prop_row(f, "ppv", "PPV", c->tp, c->tp + c->fp, w);
	prop_row(f, "npv", "NPV", c->tn, c->tn + c->fn, w);
	fputs("</tbody></table></div>\n", f);
	fputs("<div class=\"scroll\"><table class=\"cm\">\n<thead><tr><th></th>"
	      "<th>called abnormal</th><th>called normal</th><th>total</th></tr></thead>\n<tbody>\n",
	      f);
	fprintf(f, "<tr><th>abnormal</th><td data-k=\"tp\">%ld</td><td data-k=\"fn\">%ld</td>"
		   "<td>%ld</td></tr>\n", c->tp, c->fn, a->pos);
	fprintf(f, "<tr><th>normal</th><td data-k=\"fp\">%ld</td><td data-k=\"tn\">%ld</td>"
		   "<td>%ld</td></tr>\n", c->fp, c->tn, a->neg);
	fprintf(f, "<tr><th>total</th><td>%ld</td><td>%ld</td><td>%ld</td></tr>\n",
		c->tp + c->fp, c->fn + c->tn, a->n);
	fprintf(f, "</tbody></table><p class=\"ci\">Confusion matrix at threshold %.4g: true "
		   "label down, call across.</p></div>\n", r->thr);
	/* PPV and NPV at other prevalences, this one among them. */
	fputs("<div class=\"scroll\" id=\"prevalence\"><table>\n<thead><tr><th>prevalence</th>"
	      "<th>PPV</th><th>NPV</th></tr></thead>\n<tbody>\n", f);
	static const double other[] = {0.01, 0.05, 0.1, 0.2, 0.5};
	int done = 0;
	for (int i = 0; i <= 5; i++) {
		double pi = i < 5 ? other[i] : 2, p1, n1;
		if (!done && !(pi < prev)) {
			fprintf(f, "<tr><th>%.1f%% (this test set)</th><td><strong>%s</strong></td>"
				   "<td><strong>%s</strong></td></tr>\n", 100 * prev, f3(x, ppv),
				f3(y, npv));
			done = 1;
		}
		if (i == 5 || fabs(pi - prev) < 1e-9)
			continue;
		ppv_npv(se, sp, pi, &p1, &n1);
		fprintf(f, "<tr><th>%g%%</th><td>%s</td><td>%s</td></tr>\n", 100 * pi, f3(x, p1),
			f3(y, n1));
	}
	fputs("</tbody></table><p class=\"ci\">At the same sensitivity and specificity.</p>"
	      "</div>\n</div>\n</section>\n", f);
}

static void roc_section(FILE *f, const cxr_report *r)
{
	fputs("<section id=\"roc\">\n<h2>ROC curve</h2>\n<figure>\n", f);
	char title[400], note[600];
	const char *name = cxr_report_base_name(r->scores_path);
	snprintf(title, sizeof title, "ROC curve: %s", name);
	snprintf(note, sizeof note, "AUC interval: DeLong's. Threshold: %s.", r->thr_source);
	cxr_report_curve cv = {name, r->model, r->roc, r->all->auc.auc, r->all->auc_lo,
			       r->all->auc_hi, r->thr, r->all->c};
	cxr_report_roc_svg(f, title, note, &cv, 1, CXR_SVG_INLINE);
	fputs("<figcaption>The curve through every threshold; the dot is the operating point, "
	      "the threshold the figures above use; the dashed diagonal is chance.</figcaption>\n"
	      "</figure>\n</section>\n", f);
}

static void calibration_section(FILE *f, const cxr_report *r)
{
	fputs("<section id=\"calibration\">\n<h2>Calibration</h2>\n", f);
	if (!r->nbins) {
		fputs("<p>The scores are not all in [0, 1], so they are not probabilities and have no "
		      "reliability diagram.</p>\n</section>\n", f);
		return;
	}
	char x[32], cap[200];
	fprintf(f, "<p>Expected calibration error (ECE) <strong data-k=\"ece\" data-v=\"%s\">%s"
		   "</strong> over %d equal-width bins: the gap between a bin's mean score and its "
		   "fraction abnormal, averaged with the bins' shares of images as weights. A "
		   "calibrated score lies on the diagonal; above it the model under-states the "
		   "risk, below it over-states it.</p>\n",
		cxr_fmt_num(cap, r->ece), f3(x, r->ece), r->nbins);
	fputs("<figure>\n", f);
	snprintf(cap, sizeof cap, "ECE %s over %d equal-width bins; intervals Wilson's.",
		 f3(x, r->ece), r->nbins);
	cxr_svg_reliability(f, "Reliability diagram", cap, r->bins, r->nbins, CXR_SMALL_N,
			    CXR_SVG_INLINE);
	fputs("</figure>\n<details><summary>The bins</summary>\n<div class=\"scroll\"><table>\n"
	      "<thead><tr><th>bin</th><th>images</th><th>abnormal</th><th>mean score</th>"
	      "<th>fraction abnormal (95% CI)</th></tr></thead>\n<tbody>\n", f);
	for (int b = 0; b < r->nbins; b++) {
		const cxr_calbin *q = &r->bins[b];
		double lo, hi;
		cxr_wilson(q->pos, q->n, CXR_Z95, &lo, &hi);
		fprintf(f, "<tr><td>%.2f" NDASH "%.2f</td>", q->lo, q->hi);
		count_cell(f, "n", q->n);
		count_cell(f, "positives", q->pos);
		cell(f, "mean_score", q->mean_score, NAN, NAN, 0);
		cell(f, "fraction_positive", ratio(q->pos, q->n), lo, hi, 0);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table></div>\n</details>\n</section>\n", f);
}

static void group_row(FILE *f, const char *col, const char *key, const char *label,
		      const cxr_group_stats *g, int is_all)
{
	fprintf(f, "<tr data-column=\"");
	esc(f, col);
	fputs("\" data-group=\"", f);
	esc(f, key);
	fprintf(f, "\"%s><th>", g->small && !is_all ? " class=\"small\"" : "");
	esc(f, label);
	if (g->small && !is_all)
		fputs("<span class=\"badge\">small</span>", f);
	fputs("</th>", f);
	fprintf(f, "<td data-label=\"images\" data-k=\"n\" data-v=\"%ld\">%ld</td>"
		   "<td data-label=\"abnormal\" data-k=\"positives\" data-v=\"%ld\">%ld</td>",
		g->n, g->n, g->pos, g->pos);
	gcell(f, "auc", g->auc.auc, g->auc_lo, g->auc_hi, 0);
	gcell(f, "error_rate", g->err, g->err_lo, g->err_hi, 0);
	gcell(f, "tpr", g->tpr, g->tpr_lo, g->tpr_hi, 0);
	gcell(f, "fpr", g->fpr, g->fpr_lo, g->fpr_hi, 0);
	if (is_all) {
		fputs("<td data-label=\"TPR gap\" data-k=\"tpr_gap\" data-v=\"0\" class=\"ci\">"
		      "reference</td><td data-label=\"FPR gap\" data-k=\"fpr_gap\" data-v=\"0\" "
		      "class=\"ci\">reference</td></tr>\n", f);
		return;
	}
	gcell(f, "tpr_gap", g->tpr_gap, g->tpr_gap_lo, g->tpr_gap_hi, 1);
	gcell(f, "fpr_gap", g->fpr_gap, g->fpr_gap_lo, g->fpr_gap_hi, 1);
	fputs("</tr>\n", f);
}

static const char group_head[] =
	"<thead><tr><th>group</th><th>images</th><th>abnormal</th><th>AUC</th>"
	"<th>error rate</th><th>TPR</th><th>FPR</th><th>TPR gap</th><th>FPR gap</th></tr>"
	"</thead>\n";

static void groups_section(FILE *f, const cxr_report *r)
{
	fputs("<section id=\"groups\">\n<h2>Performance by group</h2>\n", f);
	if (!r->ntables) {
		fputs("<p>No group tables: the scores have no sex, age or view column (name another "
		      "with <code>--by</code>).</p>\n</section>\n", f);
		return;
	}
	fprintf(f, "<p>Every group is called at the same threshold, %.4g. TPR (sensitivity) and "
		   "FPR (1 " MINUS " specificity) carry Wilson's intervals. A gap is the group's rate "
		   "minus the whole test set's: a negative TPR gap means the group's abnormal images "
		   "are missed more often, a positive FPR gap that its normal images are flagged "
		   "more often. A gap's 95%% CI is Newcombe's interval for the group against the "
		   "rest of the test set, scaled by the rest's share. Groups marked "
		   "<span class=\"badge\">small</span> have fewer than %d images or fewer than %d "
		   "abnormal or normal: their figures swing by chance; read them with their "
		   "intervals.</p>\n", r->thr, CXR_SMALL_N, CXR_SMALL_CLASS);
	/* One plot of three panels on a wide screen, three plots on a narrow
	 * one, where the three side by side would shrink their text. */
	fputs("<figure class=\"wide-only\">\n", f);
	cxr_report_bias_svg(f, NULL, r->all, r->thr, r->tables, r->ntables, CXR_PANEL_ALL,
			    CXR_SVG_INLINE);
	fputs("</figure>\n<div class=\"narrow-only\">\n", f);
	for (int k = 0; k < 3; k++) {
		fputs("<figure>\n", f);
		cxr_report_bias_svg(f, NULL, r->all, r->thr, r->tables, r->ntables, (1 << k),
				    CXR_SVG_INLINE);
		fputs("</figure>\n", f);
	}
	fputs("</div>\n<p class=\"ci\">Squares: estimates with 95% CIs; hollow grey circles: small "
	      "groups, whose intervals, even estimates, may run off the panel (arrowheads at its "
	      "edge). Dashed grey: chance "
	      "(AUC 0.5) or no gap; dashed red: the whole test set's AUC.</p>\n", f);
	for (int t = 0; t < r->ntables; t++) {
		const cxr_group_table *q = &r->tables[t];
		fputs("<h3>By ", f);
		esc(f, cxr_group_column_label(q->column));
		fputs("</h3>\n<div class=\"scroll\"><table class=\"groups\">\n", f);
		fputs(group_head, f);
		fputs("<tbody>\n", f);
		group_row(f, "all", "all", "all", r->all, 1);
		for (int k = 0; k < q->ngroups; k++)
			group_row(f, q->column, q->key[k], q->label[k], &q->g[k], 0);
		fputs("</tbody></table></div>\n", f);
		for (int k = 0; k < q->ngroups; k++) {
			const cxr_group_stats *g = &q->g[k];
			if (g->pos && g->neg)
				continue;
			fputs("<p class=\"ci\">", f);
			esc(f, q->label[k]);
			fprintf(f, ": %ld images, all %s; no AUC.</p>\n", g->n,
				g->pos ? "abnormal" : "normal");
		}
	}
	fputs("</section>\n", f);
}

static void kv_row(FILE *f, const char *k, const char *v, int code)
{
	fputs("<tr><th>", f);
	esc(f, k);
	fputs(code ? "</th><td><code>" : "</th><td>", f);
	esc(f, v);
	fputs(code ? "</code></td></tr>\n" : "</td></tr>\n", f);
}

static void provenance_section(FILE *f, const cxr_report *r)
{
	char b[256];
	fputs("<section id=\"provenance\">\n<h2>Provenance</h2>\n<div class=\"scroll\">"
	      "<table class=\"kv\"><tbody>\n", f);
	kv_row(f, "scores file", cxr_name(r->scores_path), 1);
	kv_row(f, "scores SHA-256", r->scores_sha256, 1);
	snprintf(b, sizeof b, "%ld bytes; %ld labelled rows, %ld without a label", r->scores_bytes,
		 r->all->n, r->skipped);
	kv_row(f, "scores size", b, 0);
	kv_row(f, "label column", r->label_col, 1);
	kv_row(f, "model digest", r->model ? r->model : "none (the scores have no model column)",
	       r->model != NULL);
	if (r->model_path) {
		kv_row(f, "model file", r->model_path, 1);
		static const char *keys[][2] = {
			{"arch", "architecture"}, {"width_mult", "width multiplier"},
			{"input_height", "input height (px)"}, {"input_width", "input width (px)"},
			{"epochs", "epochs trained"}, {"seed", "training seed"},
			{"data_digest", "training data digest"}, {"tool_version", "trained by"},
			{"val_auc", "validation AUC"}, {"threshold", "stored threshold"},
			{"threshold_rule", "threshold rule"}};
		for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
			const char *v = meta_get(r, keys[i][0]);
			if (v)
				kv_row(f, keys[i][1], v, 1);
		}
	} else {
		kv_row(f, "model file", "not given (-m): no model metadata", 0);
	}
	snprintf(b, sizeof b, "%.17g, %s", r->thr, r->thr_source);
	kv_row(f, "threshold", b, 0);
	kv_row(f, "report by", r->version, 1);
	kv_row(f, "date", r->date, 1);
	for (int i = 0; i < r->nprov; i++)
		if (strcmp(r->prov[i].key, "command") && strcmp(r->prov[i].key, "version"))
			kv_row(f, r->prov[i].key, r->prov[i].value, 1);
	fputs("</tbody></table></div>\n<h3>Commands</h3>\n<pre>", f);
	for (int i = 0; i < r->nprov; i++)
		if (!strcmp(r->prov[i].key, "command")) {
			esc(f, r->prov[i].value);
			fputc('\n', f);
		}
	esc(f, r->self_command);
	fputs("</pre>\n<h3>Tool versions</h3>\n<ul>\n", f);
	fputs("<li><code>", f);
	esc(f, r->version);
	fputs("</code> (this report)</li>\n", f);
	const char *tv = meta_get(r, "tool_version");
	if (tv) {
		fputs("<li><code>", f);
		esc(f, tv);
		fputs("</code> (trained the model)</li>\n", f);
	}
	for (int i = 0; i < r->nprov; i++)
		if (!strcmp(r->prov[i].key, "version")) {
			fputs("<li><code>", f);
			esc(f, r->prov[i].value);
			fputs("</code></li>\n", f);
		}
	fputs("</ul>\n", f);
	if (r->nmeta) {
		fprintf(f, "<details><summary>The model's metadata (%d keys)</summary>\n"
			   "<div class=\"scroll\"><table class=\"kv\"><tbody>\n", r->nmeta);
		for (int i = 0; i < r->nmeta; i++)
			kv_row(f, r->meta[i].key, r->meta[i].value, 1);
		fputs("</tbody></table></div>\n</details>\n", f);
	}
	fputs("</section>\n", f);
}

int cxr_report_html(FILE *f, const cxr_report *r)
{
	const cxr_group_stats *a = r->all;
	char x[32];
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n", f);
	fputs("<meta name=\"generator\" content=\"", f);
	esc(f, r->version);
	fputs("\"/>\n<title>", f);
	esc(f, r->title);
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>", css);
	esc(f, r->title);
	fputs("</h1>\n<p class=\"sub\"><code>", f);
	esc(f, cxr_name(r->scores_path));
	fputs("</code>", f);
	if (r->model) {
		fputs(" &#183; model <code>", f);
		esc(f, r->model);
		fputs("</code>", f);
	}
	fprintf(f, " &#183; %ld images, %ld abnormal &#183; AUC %s &#183; threshold %.4g &#183; ",
		a->n, a->pos, f3(x, a->auc.auc), r->thr);
	esc(f, r->date);
	fputs("</p>\n<nav><a href=\"#summary\">Summary</a><a href=\"#roc\">ROC</a>"
	      "<a href=\"#calibration\">Calibration</a><a href=\"#groups\">Groups</a>"
	      "<a href=\"#provenance\">Provenance</a></nav>\n</header>\n<main>\n", f);
	summary(f, r);
	fputs("<div class=\"figs\">\n", f);
	roc_section(f, r);
	calibration_section(f, r);
	fputs("</div>\n", f);
	groups_section(f, r);
	provenance_section(f, r);
	fputs("</main>\n<footer>Written by <code>", f);
	esc(f, r->version);
	fputs("</code> on ", f);
	esc(f, r->date);
	fputs(". One self-contained file: no scripts, nothing fetched; the plots are inline SVG. "
	      "AUC intervals DeLong's (1988), proportions' Wilson's (1927), gaps' Newcombe's "
	      "(1998).</footer>\n</body>\n</html>\n", f);
	return ferror(f) ? -1 : 0;
}
