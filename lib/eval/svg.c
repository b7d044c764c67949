/* svg — see svg.h. Pixel coordinates are written with 2 decimals: a
 * hundredth of a pixel is below anything a screen or printer shows. */
#include "eval/svg.h"

#include <math.h>

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};

/* Text content or attribute value, XML-escaped. */
static void put_text(FILE *f, const char *s)
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

/* Characters, not bytes, of UTF-8 text: for sizing boxes. */
static size_t text_width(const char *s)
{
	size_t n = 0;
	for (; s && *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* A tick step of 1, 2, 2.5 or 5 times a power of ten, giving about
 * four intervals over span. */
static double nice_step(double span)
{
	double raw = span / 4, p = pow(10, floor(log10(raw))), m = raw / p;
	return p * (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10);
}

static void head(FILE *f, double w, double h, const char *title)
{
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		   "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"13\">\n",
		w, h, w, h);
	fputs("<title>", f);
	put_text(f, title);
	fputs("</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n", f);
	fprintf(f, "<text x=\"%.2f\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">", w / 2);
	put_text(f, title);
	fputs("</text>\n", f);
}

static int tail(FILE *f)
{
	fputs("</svg>\n", f);
	return ferror(f) ? -1 : 0;
}

/* ---- ROC -------------------------------------------------------------- */

enum { ROC_L = 70, ROC_T = 50, ROC_S = 440 }; /* plot square: left, top, side */

static double rx(double fpr) { return ROC_L + fpr * ROC_S; }
static double ry(double tpr) { return ROC_T + (1 - tpr) * ROC_S; }

int cxr_svg_roc(FILE *f, const char *title, const cxr_svg_curve *c, int n)
{
	double w = ROC_L + ROC_S + 30, h = ROC_T + ROC_S + 60;
	head(f, w, h, title);
	/* Grid and tick labels every 0.2. */
	for (int k = 0; k <= 5; k++) {
		double v = k / 5.0;
		fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#e5e5e5\"/>\n",
			rx(v), ROC_T, rx(v), ROC_T + ROC_S);
		fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n",
			ROC_L, ry(v), ROC_L + ROC_S, ry(v));
		fprintf(f, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%.1f</text>\n", rx(v),
			ROC_T + ROC_S + 18, v);
		fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%.1f</text>\n", ROC_L - 6,
			ry(v) + 4, v);
	}
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
		   "stroke=\"black\"/>\n", ROC_L, ROC_T, ROC_S, ROC_S);
	fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#888\" "
		   "stroke-dasharray=\"6 4\"/>\n", rx(0), ry(0), rx(1), ry(1));
	fprintf(f, "<text x=\"%.2f\" y=\"%.0f\" text-anchor=\"middle\">"
		   "False positive rate (1 \xe2\x88\x92 specificity)</text>\n",
		rx(0.5), h - 14);
	fprintf(f, "<text transform=\"translate(20 %.2f) rotate(-90)\" text-anchor=\"middle\">"
		   "True positive rate (sensitivity)</text>\n", ry(0.5));
	for (int k = 0; k < n; k++) {
		const char *col = palette[k % 5];
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
			   "stroke-linejoin=\"round\" points=\"", col);
		double lx = NAN, ly = NAN;
		for (size_t i = 0; i < c[k].np; i++) {
			double x = rx(c[k].p[i].fpr), y = ry(c[k].p[i].tpr);
			if (i > 0 && i + 1 < c[k].np && fabs(x - lx) + fabs(y - ly) < 0.25)
				continue;
			fprintf(f, "%.2f,%.2f ", x, y);
			lx = x;
			ly = y;
		}
		fputs("\"/>\n", f);
		if (!isnan(c[k].op_fpr) && !isnan(c[k].op_tpr))
			fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"%s\" "
				   "stroke=\"black\"/>\n", rx(c[k].op_fpr), ry(c[k].op_tpr), col);
	}
	/* Legend in the lower right, where a useful curve never passes. */
	double lw = 230;
	for (int k = 0; k < n; k++)
		lw = fmax(lw, 46 + 7.0 * text_width(c[k].label));
	lw = fmin(lw, ROC_S - 20);
	int ops = 0;
	for (int k = 0; k < n; k++)
		ops |= !isnan(c[k].op_fpr) && !isnan(c[k].op_tpr);
	double lh = 22.0 * n + 10 + (ops ? 22 : 0);
	double lx0 = ROC_L + ROC_S - lw - 10, ly0 = ROC_T + ROC_S - lh - 10;
	fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"white\" "
		   "fill-opacity=\"0.9\" stroke=\"#999\"/>\n", lx0, ly0, lw, lh);
	for (int k = 0; k < n; k++) {
		double y = ly0 + 20 + 22.0 * k;
		fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
			   "stroke-width=\"2\"/>\n", lx0 + 8, y - 4, lx0 + 30, y - 4, palette[k % 5]);
		fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">", lx0 + 36, y);
		put_text(f, c[k].label);
		fputs("</text>\n", f);
	}
	if (ops) {
		double y = ly0 + 20 + 22.0 * n;
		fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4\" fill=\"#ccc\" stroke=\"black\"/>\n",
			lx0 + 19, y - 4);
		fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">operating point (threshold)</text>\n",
			lx0 + 36, y);
	}
	return tail(f);
}

/* ---- bars ------------------------------------------------------------- */

enum { BAR_L = 70, BAR_SLOT = 44, BAR_H = 200, BAR_LABELS = 80, BAR_GAP = 40 };

int cxr_svg_bars(FILE *f, const char *title, const cxr_svg_panel *p, int n)
{
	int most = 1;
	for (int k = 0; k < n; k++)
		if (p[k].nbars > most)
			most = p[k].nbars;
	double pw = most * BAR_SLOT < 360 ? 360 : most * BAR_SLOT;
	double w = BAR_L + pw + 20, ph = BAR_GAP + BAR_H + BAR_LABELS;
	head(f, w, 40 + n * ph, title);
	for (int k = 0; k < n; k++) {
		const cxr_svg_panel *q = &p[k];
		double top = 40 + k * ph + BAR_GAP, span = q->ymax - q->ymin;
#define Y(v) (top + BAR_H * (1 - ((v) - q->ymin) / span))
		fprintf(f, "<text x=\"%d\" y=\"%.2f\" font-size=\"14\">", BAR_L, top - 10);
		put_text(f, q->title);
		fputs("</text>\n", f);
		double step = nice_step(span);
		for (double v = ceil(q->ymin / step - 1e-9) * step; v <= q->ymax + 1e-9 * span;
		     v += step) {
			fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
				   "stroke=\"#e5e5e5\"/>\n", BAR_L, Y(v), BAR_L + pw, Y(v));
			fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%.3g</text>\n",
				BAR_L - 6, Y(v) + 4, fabs(v) < 1e-12 ? 0 : v);
		}
		for (int b = 0; b < q->nbars; b++) {
			const cxr_svg_bar *r = &q->bars[b];
			double cx = BAR_L + BAR_SLOT * (b + 0.5);
			if (isnan(r->value)) {
				fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" "
					   "fill=\"#888\">n/a</text>\n", cx, Y(q->base) - 4);
			} else {
				double v = fmin(fmax(r->value, q->ymin), q->ymax);
				double y0 = Y(q->base), y1 = Y(v);
				fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%d\" height=\"%.2f\" "
					   "fill=\"%s\"/>\n", cx - BAR_SLOT * 0.35, fmin(y0, y1),
					(int)(BAR_SLOT * 0.7), fabs(y1 - y0), palette[0]);
			}
			if (!isnan(r->lo) && !isnan(r->hi)) {
				double lo = Y(fmax(r->lo, q->ymin)), hi = Y(fmin(r->hi, q->ymax));
				fprintf(f, "<path d=\"M%.2f %.2fV%.2fM%.2f %.2fH%.2fM%.2f %.2fH%.2f\" "
					   "stroke=\"black\" stroke-width=\"1.5\" fill=\"none\"/>\n",
					cx, lo, hi, cx - 6, lo, cx + 6, cx - 6, hi, cx + 6);
			}
			fprintf(f, "<text transform=\"translate(%.2f %.2f) rotate(-40)\" "
				   "text-anchor=\"end\">", cx + 4, top + BAR_H + 16);
			put_text(f, r->label);
			fputs("</text>\n", f);
		}
		fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"black\"/>\n",
			BAR_L, Y(q->base), BAR_L + pw, Y(q->base));
		if (!isnan(q->ref))
			fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
				   "stroke=\"%s\" stroke-dasharray=\"6 4\"/>\n",
				BAR_L, Y(q->ref), BAR_L + pw, Y(q->ref), palette[1]);
		fprintf(f, "<rect x=\"%d\" y=\"%.2f\" width=\"%.2f\" height=\"%d\" fill=\"none\" "
			   "stroke=\"black\"/>\n", BAR_L, top, pw, BAR_H);
#undef Y
	}
	return tail(f);
}
