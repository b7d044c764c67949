/* svg — see svg.h. Pixel coordinates are written with 2 decimals: a
 * hundredth of a pixel is below anything a screen or printer shows. Text
 * widths are estimated at 0.6 em a character (DejaVu Sans, the usual
 * sans-serif on Linux, is among the widest), so text sized by it fits in
 * any common font. */
#include "eval/svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
#define GREY "#888"
#define HALO "stroke=\"white\" stroke-width=\"4\" stroke-linejoin=\"round\" paint-order=\"stroke\""

void cxr_svg_put_text(FILE *f, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
}
#define put_text cxr_svg_put_text

/* ---- text: width and wrapping ---------------------------------------- */

static int is_cont(char c) { return ((unsigned char)c & 0xc0) == 0x80; }

/* Characters, not bytes, of UTF-8 text s[0..n). */
static size_t nchars(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += !is_cont(s[i]);
	return k;
}
static size_t text_chars(const char *s) { return s ? nchars(s, strlen(s)) : 0; }

/* Estimated width in pixels at font size px, and how many characters fit
 * in w pixels. */
static double text_px(const char *s, double px) { return 0.6 * px * (double)text_chars(s); }
static int fit(double w, double px)
{
	int k = (int)(w / (0.6 * px));
	return k < 8 ? 8 : k;
}

typedef struct lines {
	char **l;
	int n, cap;
} lines;

static void lines_add(lines *L, const char *s, size_t bytes)
{
	if (L->n == L->cap) {
		L->cap = L->cap ? 2 * L->cap : 4;
		L->l = cxr_xrealloc(L->l, (size_t)L->cap * sizeof *L->l);
	}
	char *c = cxr_xmalloc(bytes + 1);
	memcpy(c, s, bytes);
	c[bytes] = 0;
	L->l[L->n++] = c;
}

static void lines_free(lines *L)
{
	for (int i = 0; i < L->n; i++)
		free(L->l[i]);
	free(L->l);
	memset(L, 0, sizeof *L);
}

/* Byte offset after the first k characters of s[0..n). */
static size_t char_off(const char *s, size_t n, size_t k)
{
	size_t i = 0;
	for (size_t seen = 0; i < n; i++) {
		if (!is_cont(s[i]) && seen++ == k)
			break;
	}
	return i;
}

/* s split at '\n', each part filled to at most maxch characters a line,
 * breaking at spaces; a word longer than a line keeps its first and last
 * characters around "…" (a path keeps its file name). */
static lines wrap(const char *s, int maxch)
{
	lines L = {0};
	if (!s)
		return L;
	char *cur = cxr_xmalloc(strlen(s) + 8);
	for (;;) {
		const char *nl = strchr(s, '\n');
		size_t hl = nl ? (size_t)(nl - s) : strlen(s);
		size_t cb = 0, cc = 0; /* the line being filled: bytes, characters */
		size_t i = 0;
		while (i < hl) {
			while (i < hl && s[i] == ' ')
				i++;
			if (i == hl)
				break;
			size_t j = i;
			while (j < hl && s[j] != ' ')
				j++;
			const char *w = s + i;
			size_t wb = j - i, wc = nchars(w, wb);
			if (cc && cc + 1 + wc > (size_t)maxch) {
				lines_add(&L, cur, cb);
				cb = cc = 0;
			}
			if (wc > (size_t)maxch) {
				size_t a = (size_t)(maxch - 1) / 2, b = (size_t)maxch - 1 - a;
				size_t ab = char_off(w, wb, a), bb = char_off(w, wb, wc - b);
				memcpy(cur, w, ab);
				memcpy(cur + ab, "\xe2\x80\xa6", 3);
				memcpy(cur + ab + 3, w + bb, wb - bb);
				lines_add(&L, cur, ab + 3 + wb - bb);
			} else {
				if (cc)
					cur[cb++] = ' ', cc++;
				memcpy(cur + cb, w, wb);
				cb += wb;
				cc += wc;
			}
			i = j;
		}
		if (cc || !hl)
			lines_add(&L, cur, cb);
		if (!nl)
			break;
		s = nl + 1;
	}
	free(cur);
	return L;
}

/* Each line as a <text> at x, from baseline y down by dy; returns the
 * baseline after the last. attrs goes into every element. */
static double put_lines(FILE *f, const lines *L, double x, double y, double dy,
			const char *attrs)
{
	for (int i = 0; i < L->n; i++, y += dy) {
		fprintf(f, "<text x=\"%.2f\" y=\"%.2f\"%s%s>", x, y, *attrs ? " " : "", attrs);
		put_text(f, L->l[i]);
		fputs("</text>\n", f);
	}
	return y;
}

/* A tick step of 1, 2, 2.5 or 5 times a power of ten, giving about
 * four intervals over span. */
static double nice_step(double span)
{
	double raw = span / 4, p = pow(10, floor(log10(raw))), m = raw / p;
	return p * (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10);
}

/* The document: width and height in pixels, the title as the accessible
 * name (<title>) and as wrapped heading lines from the top; returns the
 * baseline below the heading. */
static double head(FILE *f, double w, double h, const char *title, const lines *tl, int flags)
{
	/* Inline in HTML the parser puts <svg> in its namespace; a file
	 * names it. */
	if (!(flags & CXR_SVG_INLINE))
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		      "<svg xmlns=\"http://www.w3.org/2000/svg\"", f);
	else
		fputs("<svg", f);
	fprintf(f, " width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" font-family=\"DejaVu Sans, Verdana, "
		   "Arial, sans-serif\" font-size=\"13\">\n", w, h, w, h);
	fputs("<title>", f);
	put_text(f, title);
	fputs("</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n", f);
	return put_lines(f, tl, w / 2, 26, 20,
			 "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
}

static int tail(FILE *f)
{
	fputs("</svg>\n", f);
	return ferror(f) ? -1 : 0;
}

/* ---- ROC -------------------------------------------------------------- */

enum { ROC_W = 540, ROC_L = 70, ROC_S = 440, LEG_X = 24, LEG_TEXT = 62 };

int cxr_svg_roc(FILE *f, const char *title, const char *caption, const cxr_svg_curve *c,
		int n, int flags)
{
	lines tl = wrap(title, fit(ROC_W - 20, 16));
	int lch = fit(ROC_W - LEG_TEXT - 10, 13);
	lines *lab = cxr_xcalloc((size_t)n + 1, sizeof *lab);
	lines *det = cxr_xcalloc((size_t)n + 1, sizeof *det);
	lines cap = wrap(caption, fit(ROC_W - 2 * LEG_X, 12));
	int nleg = 0, ops = 0;
	for (int k = 0; k < n; k++) {
		lab[k] = wrap(c[k].label, lch);
		det[k] = wrap(c[k].detail, lch);
		nleg += lab[k].n + det[k].n;
		ops |= !isnan(c[k].op_fpr) && !isnan(c[k].op_tpr);
	}
	double top = 26 + 20.0 * tl.n;
	double leg_y = top + ROC_S + 70;
	double h = leg_y + 18.0 * (nleg + ops) + 8.0 * n + (cap.n ? 6 + 16.0 * cap.n : 0) + 8;
	head(f, ROC_W, h, title, &tl, flags);
#define RX(v) (ROC_L + (double)(v) * ROC_S)
#define RY(v) (top + (1 - (v)) * ROC_S)
	/* Grid and tick labels every 0.2. */
	for (int k = 0; k <= 5; k++) {
		double v = k / 5.0;
		fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n",
			RX(v), top, RX(v), top + ROC_S);
		fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n",
			ROC_L, RY(v), ROC_L + ROC_S, RY(v));
		fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%.1f</text>\n", RX(v),
			top + ROC_S + 18, v);
		fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%.1f</text>\n", ROC_L - 6,
			RY(v) + 4, v);
	}
	fprintf(f, "<rect x=\"%d\" y=\"%.2f\" width=\"%d\" height=\"%d\" fill=\"none\" "
		   "stroke=\"black\"/>\n", ROC_L, top, ROC_S, ROC_S);
	fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"" GREY "\" "
		   "stroke-dasharray=\"6 4\"/>\n", RX(0), RY(0), RX(1), RY(1));
	fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" fill=\"" GREY "\" "
		   "transform=\"rotate(-45 %.2f %.2f)\">chance</text>\n",
		RX(0.8) + 9, RY(0.8) + 9, RX(0.8) + 9, RY(0.8) + 9);
	fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">"
		   "False positive rate (1 \xe2\x88\x92 specificity)</text>\n",
		RX(0.5), top + ROC_S + 40);
	fprintf(f, "<text transform=\"translate(22 %.2f) rotate(-90)\" text-anchor=\"middle\">"
		   "True positive rate (sensitivity)</text>\n", RY(0.5));
	for (int k = 0; k < n; k++) {
		const char *col = palette[k % 5];
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
			   "stroke-linejoin=\"round\" points=\"", col);
		double lx = NAN, ly = NAN;
		for (size_t i = 0; i < c[k].np; i++) {
			double x = RX(c[k].p[i].fpr), y = RY(c[k].p[i].tpr);
			if (i > 0 && i + 1 < c[k].np && fabs(x - lx) + fabs(y - ly) < 0.25)
				continue;
			fprintf(f, "%.2f,%.2f ", x, y);
			lx = x;
			ly = y;
		}
		fputs("\"/>\n", f);
	}
	/* Operating points over every curve, with guides to the axes. */
	for (int k = 0; k < n; k++) {
		if (isnan(c[k].op_fpr) || isnan(c[k].op_tpr))
			continue;
		const char *col = palette[k % 5];
		double x = RX(c[k].op_fpr), y = RY(c[k].op_tpr);
		fprintf(f, "<path d=\"M%d %.2fH%.2fV%.2f\" fill=\"none\" stroke=\"%s\" "
			   "stroke-dasharray=\"2 3\"/>\n", ROC_L, y, x, top + ROC_S, col);
		fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"5.5\" fill=\"%s\" stroke=\"black\"/>\n",
			x, y, col);
		if (c[k].op_label) {
			lines ol = wrap(c[k].op_label, 60);
			int right = c[k].op_fpr < 0.5;
			double ty = c[k].op_tpr > 0.3 ? y + 22 : y - 12 - 15.0 * (ol.n - 1);
			char a[160];
			snprintf(a, sizeof a, "text-anchor=\"%s\" " HALO, right ? "start" : "end");
			put_lines(f, &ol, right ? x + 10 : x - 10, ty, 15, a);
			lines_free(&ol);
		}
	}
	/* The legend, below the plot: a swatch, then the label and detail. */
	double y = leg_y;
	for (int k = 0; k < n; k++) {
		fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"%s\" "
			   "stroke-width=\"3\"/>\n", LEG_X, y - 4, LEG_X + 28, y - 4, palette[k % 5]);
		y = put_lines(f, &lab[k], LEG_TEXT, y, 18, "");
		y = put_lines(f, &det[k], LEG_TEXT, y, 18, "fill=\"#333\"") + 8;
	}
	if (ops) {
		fprintf(f, "<circle cx=\"%d\" cy=\"%.2f\" r=\"5\" fill=\"#ccc\" stroke=\"black\"/>\n",
			LEG_X + 14, y - 4);
		fprintf(f, "<text x=\"%d\" y=\"%.2f\">operating point: the decision threshold"
			   "</text>\n", LEG_TEXT, y);
		y += 18;
	}
	put_lines(f, &cap, LEG_X, y + 6, 16, "font-size=\"12\" fill=\"#444\"");
#undef RX
#undef RY
	for (int k = 0; k < n; k++) {
		lines_free(&lab[k]);
		lines_free(&det[k]);
	}
	free(lab);
	free(det);
	lines_free(&cap);
	lines_free(&tl);
	return tail(f);
}

/* ---- reliability diagram ---------------------------------------------- */

enum { REL_W = 540, REL_L = 70, REL_S = 400, REL_HIST = 64 };

int cxr_svg_reliability(FILE *f, const char *title, const char *caption,
			const cxr_calbin *b, int nb, int small_n, int flags)
{
	lines tl = wrap(title, fit(REL_W - 20, 16));
	lines cap = wrap(caption, fit(REL_W - 2 * LEG_X, 12));
	double top = 26 + 20.0 * tl.n;
	double hist = top + REL_S + 50; /* top of the count bars */
	double leg = hist + REL_HIST + 28;
	double h = leg + 18 + (cap.n ? 6 + 16.0 * cap.n : 0) + 8;
	head(f, REL_W, h, title, &tl, flags);
#define RX(v) (REL_L + (double)(v) * REL_S)
#define RY(v) (top + (1 - (v)) * REL_S)
	for (int k = 0; k <= 5; k++) {
		double v = k / 5.0;
		fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n",
			RX(v), top, RX(v), top + REL_S);
		fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n",
			REL_L, RY(v), REL_L + REL_S, RY(v));
		fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%.1f</text>\n", RX(v),
			top + REL_S + 18, v);
		fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%.1f</text>\n", REL_L - 6,
			RY(v) + 4, v);
	}
	fprintf(f, "<rect x=\"%d\" y=\"%.2f\" width=\"%d\" height=\"%d\" fill=\"none\" "
		   "stroke=\"black\"/>\n", REL_L, top, REL_S, REL_S);
	fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"" GREY "\" "
		   "stroke-dasharray=\"6 4\"/>\n", RX(0), RY(0), RX(1), RY(1));
	fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">Mean score in the bin</text>\n",
		RX(0.5), top + REL_S + 38);
	fprintf(f, "<text transform=\"translate(22 %.2f) rotate(-90)\" text-anchor=\"middle\">"
		   "Fraction positive (95%% CI)</text>\n", RY(0.5));
	/* The points joined in score order, then each with its interval. */
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", palette[0]);
	for (int k = 0; k < nb; k++)
		if (b[k].n)
			fprintf(f, "%.2f,%.2f ", RX(b[k].mean_score), RY((double)b[k].pos / b[k].n));
	fputs("\"/>\n", f);
	long most = 1;
	for (int k = 0; k < nb; k++) {
		if (b[k].n > most)
			most = b[k].n;
		if (!b[k].n)
			continue;
		double lo, hi, x = RX(b[k].mean_score), y = RY((double)b[k].pos / b[k].n);
		int small = b[k].n < small_n;
		const char *col = small ? GREY : palette[0];
		cxr_wilson(b[k].pos, b[k].n, CXR_Z95, &lo, &hi);
		fprintf(f, "<path d=\"M%.2f %.2fV%.2fM%.2f %.2fH%.2fM%.2f %.2fH%.2f\" stroke=\"%s\" "
			   "stroke-width=\"1.5\" fill=\"none\"/>\n", x, RY(lo), RY(hi), x - 4, RY(lo),
			x + 4, x - 4, RY(hi), x + 4, col);
		fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"%s\" stroke=\"%s\" "
			   "stroke-width=\"1.5\"/>\n", x, y, small ? "white" : col, col);
	}
	/* Samples per bin. */
	fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\" font-size=\"11\">n</text>\n",
		REL_L - 6, hist + REL_HIST / 2.0 + 4);
	for (int k = 0; k < nb; k++) {
		double bh = (REL_HIST - 14) * (double)b[k].n / most, x0 = RX(b[k].lo) + 1;
		double x1 = RX(b[k].hi) - 1, y1 = hist + REL_HIST;
		if (b[k].n)
			fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
				   "fill=\"%s\"/>\n", x0, y1 - bh, x1 - x0, bh,
				b[k].n < small_n ? "#ccc" : "#9ecae1");
		fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"10\">%ld"
			   "</text>\n", (x0 + x1) / 2, y1 - bh - 3, b[k].n);
	}
	fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"black\"/>\n", REL_L,
		hist + REL_HIST, REL_L + REL_S, hist + REL_HIST);
	/* Legend. */
	fprintf(f, "<circle cx=\"%d\" cy=\"%.2f\" r=\"5\" fill=\"%s\"/>\n", LEG_X + 6, leg - 4,
		palette[0]);
	fprintf(f, "<text x=\"%d\" y=\"%.2f\">bin</text>\n", LEG_X + 16, leg);
	fprintf(f, "<circle cx=\"%d\" cy=\"%.2f\" r=\"5\" fill=\"white\" stroke=\"" GREY "\" "
		   "stroke-width=\"1.5\"/>\n", LEG_X + 58, leg - 4);
	fprintf(f, "<text x=\"%d\" y=\"%.2f\">fewer than %d</text>\n", LEG_X + 68, leg, small_n);
	fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"" GREY "\" "
		   "stroke-dasharray=\"6 4\"/>\n", LEG_X + 190, leg - 4, LEG_X + 218, leg - 4);
	fprintf(f, "<text x=\"%d\" y=\"%.2f\">perfect calibration</text>\n", LEG_X + 224, leg);
	put_lines(f, &cap, LEG_X, leg + 24, 16, "font-size=\"12\" fill=\"#444\"");
#undef RX
#undef RY
	lines_free(&cap);
	lines_free(&tl);
	return tail(f);
}

/* ---- forest plot ------------------------------------------------------- */

enum { FP_PW = 230, FP_GAP = 44, FP_RH = 22, FP_X = 12 };

/* An arrowhead at pixel x pointing left (dir -1) or right (+1). */
static void arrow(FILE *f, double x, double y, int dir, const char *col)
{
	fprintf(f, "<path d=\"M%.2f %.2fL%.2f %.2fL%.2f %.2fZ\" fill=\"%s\"/>\n", x, y,
		x - dir * 7, y - 4, x - dir * 7, y + 4, col);
}

int cxr_svg_forest(FILE *f, const char *title, const char *caption, const cxr_svg_row *rows,
		   int nrows, const cxr_svg_panel *p, int np, int flags)
{
	double lw = 0, nw = 0;
	for (int r = 0; r < nrows; r++) {
		double w = text_px(rows[r].label, 13) + (rows[r].heading ? 0 : 12);
		lw = fmax(lw, w);
		if (!rows[r].heading)
			nw = fmax(nw, text_px(rows[r].note, 11));
	}
	double lcol = FP_X + lw + (nw > 0 ? 14 + nw : 0) + 16; /* first panel's left */
	double w = lcol + np * (FP_PW + FP_GAP) - FP_GAP + 18;
	lines tl = wrap(title, fit(w - 20, 16)); /* NULL title: no heading */
	lines cap = wrap(caption, fit(w - 2 * FP_X, 12));
	lines *pt = cxr_xcalloc((size_t)np + 1, sizeof *pt);
	int npt = 1;
	for (int k = 0; k < np; k++) {
		pt[k] = wrap(p[k].title, fit(FP_PW, 13));
		npt = pt[k].n > npt ? pt[k].n : npt;
	}
	double top = tl.n ? 26 + 20.0 * tl.n : 20;    /* panel titles' first baseline */
	double refy = top + 17.0 * npt + 4;            /* reference labels' first baseline */
	double rtop = refy + 14 * 2;                   /* first row's top */
	double rbot = rtop + (double)FP_RH * nrows;
	double h = rbot + 40 + (cap.n ? 8 + 16.0 * cap.n : 0) + 6;
	head(f, w, h, title ? title : np ? p[0].title : "", &tl, flags);
	/* Rows: bands, labels and notes. */
	int band = 0;
	for (int r = 0; r < nrows; r++) {
		double y = rtop + (double)FP_RH * r;
		if (rows[r].heading) {
			band = 0;
			if (r)
				fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
					   "stroke=\"#bbb\"/>\n", FP_X, y, w - 10, y);
			fprintf(f, "<text x=\"%d\" y=\"%.2f\" font-weight=\"bold\">", FP_X, y + 15);
			put_text(f, rows[r].label);
			fputs("</text>\n", f);
			continue;
		}
		if (band++ % 2)
			fprintf(f, "<rect x=\"%d\" y=\"%.2f\" width=\"%.2f\" height=\"%d\" "
				   "fill=\"#f3f5f8\"/>\n", FP_X - 4, y, w - FP_X - 6, FP_RH);
		const char *col = rows[r].hollow ? "#666" : "black";
		fprintf(f, "<text x=\"%d\" y=\"%.2f\" fill=\"%s\">", FP_X + 12, y + 15, col);
		put_text(f, rows[r].label);
		fputs("</text>\n", f);
		if (rows[r].note) {
			fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\" font-size=\"11\" "
				   "fill=\"#666\">", lcol - 16, y + 15);
			put_text(f, rows[r].note);
			fputs("</text>\n", f);
		}
	}
	for (int k = 0; k < np; k++) {
		const cxr_svg_panel *q = &p[k];
		double x0 = lcol + k * (FP_PW + FP_GAP), span = q->xmax - q->xmin;
#define PX(v) (x0 + FP_PW * ((v) - q->xmin) / span)
		put_lines(f, &pt[k], x0 + FP_PW / 2.0, top, 17,
			  "text-anchor=\"middle\" font-weight=\"bold\"");
		double step = nice_step(span);
		for (double v = ceil(q->xmin / step - 1e-9) * step; v <= q->xmax + 1e-9 * span;
		     v += step) {
			fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
				   "stroke=\"#e0e0e0\"/>\n", PX(v), rtop, PX(v), rbot);
			fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
				   "stroke=\"black\"/>\n", PX(v), rbot, PX(v), rbot + 4);
			fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"11\">"
				   "%.3g</text>\n", PX(v), rbot + 17, fabs(v) < 1e-12 ? 0 : v);
		}
		fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"black\"/>\n",
			x0, rbot, x0 + FP_PW, rbot);
		double refs[2] = {q->ref, q->ref2};
		const char *rl[2] = {q->ref_label, q->ref2_label}, *rc[2] = {"#777", palette[1]};
		for (int i = 0; i < 2; i++) {
			if (isnan(refs[i]) || refs[i] < q->xmin || refs[i] > q->xmax)
				continue;
			double x = PX(refs[i]);
			fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
				   "stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>\n", x, refy + 14 * i + 4,
				x, rbot, rc[i]);
			if (rl[i]) {
				double tw = text_px(rl[i], 11);
				const char *anchor = x - tw / 2 < x0 - FP_GAP / 2.0 ? "start"
						     : x + tw / 2 > x0 + FP_PW + FP_GAP / 2.0 ? "end"
						     : "middle";
				fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\" font-size=\"11\" "
					   "fill=\"%s\">", x, refy + 14 * i, anchor, rc[i]);
				put_text(f, rl[i]);
				fputs("</text>\n", f);
			}
		}
		for (int r = 0; r < nrows; r++) {
			if (rows[r].heading)
				continue;
			const cxr_svg_est *e = &q->est[r];
			double y = rtop + (double)FP_RH * r + FP_RH / 2.0;
			const char *col = rows[r].hollow ? GREY : palette[0];
			if (isnan(e->value)) {
				fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"11\" font-style=\"italic\" "
					   "fill=\"#666\">", x0 + 4, y + 4);
				put_text(f, e->na ? e->na : "n/a");
				fputs("</text>\n", f);
				continue;
			}
			if (!isnan(e->lo) && !isnan(e->hi)) {
				double lo = fmax(e->lo, q->xmin), hi = fmin(e->hi, q->xmax);
				fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
					   "stroke=\"%s\" stroke-width=\"2\"/>\n", PX(lo), y, PX(hi), y, col);
				if (e->lo < q->xmin)
					arrow(f, PX(q->xmin), y, -1, col);
				if (e->hi > q->xmax)
					arrow(f, PX(q->xmax), y, 1, col);
			}
			if (e->value < q->xmin || e->value > q->xmax) {
				/* off the panel: an arrowhead at the edge it lies beyond */
				int dir = e->value > q->xmax ? 1 : -1;
				double edge = PX(dir > 0 ? q->xmax : q->xmin);
				arrow(f, edge, y, dir, col);
				arrow(f, edge - dir * 5, y, dir, col);
				continue;
			}
			double v = e->value;
			if (rows[r].hollow)
				fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4.5\" fill=\"white\" "
					   "stroke=\"%s\" stroke-width=\"2\"/>\n", PX(v), y, col);
			else
				fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"9\" height=\"9\" "
					   "fill=\"%s\"/>\n", PX(v) - 4.5, y - 4.5, col);
		}
#undef PX
	}
	put_lines(f, &cap, FP_X, rbot + 44, 16, "font-size=\"12\" fill=\"#444\"");
	for (int k = 0; k < np; k++)
		lines_free(&pt[k]);
	free(pt);
	lines_free(&cap);
	lines_free(&tl);
	return tail(f);
}
