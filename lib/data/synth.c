/* synth — see synth.h.
 *
 * The picture is drawn in "anatomy" coordinates, the unit square with x to
 * the image's right and y down, as a density map D (0 air .. 1 bone-white)
 * built from soft-edged shapes: body, two lung fields, mediastinum and
 * heart, spine, ribs, clavicles, lung markings from value noise, and the
 * lesions. Each pixel centre is mapped through a per-image affine jitter
 * (shift, scale, tilt) into those coordinates, so the same anatomy lands a
 * little differently on each film. D then goes through a per-image gain,
 * offset and gamma (the exposure) and gets pixel noise. Being analytic,
 * the picture can be rendered at any size without resampling. */
#include "data/synth.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cli.h"
#include "data/png.h"
#include "base/rng.h"

const char *const cxr_synth_finding_names[CXR_SYNTH_NFINDINGS] = {
	"Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion",
	"Emphysema", "Fibrosis", "Hernia", "Infiltration", "Mass", "Nodule",
	"Pleural_Thickening", "Pneumonia", "Pneumothorax",
};
enum {
	F_ATELECTASIS, F_CARDIOMEGALY, F_CONSOLIDATION, F_EDEMA, F_EFFUSION,
	F_EMPHYSEMA, F_FIBROSIS, F_HERNIA, F_INFILTRATION, F_MASS, F_NODULE,
	F_PLEURAL, F_PNEUMONIA, F_PNEUMOTHORAX,
};
/* How often each finding appears in NIH's file (images carrying it). */
static const double finding_weight[CXR_SYNTH_NFINDINGS] = {
	11559, 2776, 4667, 2303, 13317, 2516, 1686, 227, 19894, 5782, 6331,
	3385, 1431, 5302,
};

/* NIH's most common original sizes and pixel spacings, with their counts;
 * the spacing is printed as NIH's file has it (Python's float repr). */
static const struct {
	int w, h;
	const char *spacing;
	double weight;
} origs[] = {
	{2500, 2048, "0.168", 29986}, {2992, 2991, "0.14300000000000002", 21961},
	{3056, 2544, "0.139", 15340}, {2500, 2048, "0.171", 7141},
	{2048, 2500, "0.168", 5817}, {2021, 2021, "0.19431099999999998", 4264},
	{2048, 2500, "0.171", 2838}, {2544, 3056, "0.139", 2418},
};
enum { NORIGS = sizeof origs / sizeof origs[0] };

/* ---- random numbers ---- */

typedef cxr_rng rng;

/* A generator for one purpose (stream) of one thing (a, b), independent
 * of every other: the same picture whichever thread draws it, in whatever
 * order. */
static rng rng_for(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
	uint64_t x = cxr_seed_mix(cxr_seed_mix(cxr_seed_mix(seed, stream), a), b);
	rng r;
	cxr_rng_seed(&r, cxr_seed_mix(x, 0));
	return r;
}

static double unif(rng *r) { return cxr_rng_uniform(r); }
static double uniform(rng *r, double a, double b) { return a + (b - a) * unif(r); }
static double gauss(rng *r) { return cxr_rng_normal(r); }

/* Index drawn with probability proportional to w[i]. */
static int pick(rng *r, const double *w, int n)
{
	double t = 0;
	for (int i = 0; i < n; i++)
		t += w[i];
	double x = unif(r) * t;
	for (int i = 0; i < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

static double logistic(double x) { return 1 / (1 + exp(-x)); }

/* ---- the plan: who, when, what ---- */

/* Images per patient: P(k) ~ k^-1.6 on 1..20, which puts half the
 * patients at one image and the mean near NIH's 3.6. */
enum { MAXPER = 20 };
static int draw_count(rng *r)
{
	double w[MAXPER];
	for (int k = 1; k <= MAXPER; k++)
		w[k - 1] = pow(k, -1.6);
	return 1 + pick(r, w, MAXPER);
}

int cxr_synth_plan_make(cxr_synth_plan *p, long nimages, long npatients, uint64_t seed)
{
	memset(p, 0, sizeof *p);
	if (nimages < 0 || npatients < 0 || npatients > nimages) {
		cxr_seterr("cannot spread %ld images over %ld patients", nimages, npatients);
		return -1;
	}
	rng r = rng_for(seed, 1, 0, 0);
	/* Images per patient: drawn, then nudged one at a time to the total. */
	long np = npatients, cap = MAXPER, *cnt;
	if (np == 0) {
		long sum = 0, alloc = 64;
		if (!(cnt = cxr_alloc_array(alloc, sizeof *cnt)))
			return -1;
		while (sum < nimages) {
			if (np == alloc) {
				long *c = realloc(cnt, (alloc *= 2) * sizeof *cnt);
				if (!c) {
					free(cnt);
					cxr_seterr("out of memory");
					return -1;
				}
				cnt = c;
			}
			long k = draw_count(&r);
			if (k > nimages - sum)
				k = nimages - sum;
			cnt[np++] = k;
			sum += k;
		}
	} else {
		if (!(cnt = cxr_alloc_array(np, sizeof *cnt)))
			return -1;
		long sum = 0;
		for (long i = 0; i < np; i++)
			sum += cnt[i] = draw_count(&r);
		if (cap < 2 * ((nimages + np - 1) / np))
			cap = 2 * ((nimages + np - 1) / np);
		while (sum > nimages) {
			long i = (long)(unif(&r) * np);
			if (cnt[i] > 1)
				cnt[i]--, sum--;
		}
		while (sum < nimages) {
			long i = (long)(unif(&r) * np);
			if (cnt[i] < cap)
				cnt[i]++, sum++;
		}
	}
	p->rows = cxr_alloc_array(nimages, sizeof *p->rows);
	if (!p->rows) {
		free(cnt);
		return -1;
	}
	p->seed = seed;
	p->n = nimages;
	p->npatients = np;

	long i = 0;
	for (long pt = 0; pt < np; pt++) {
		/* A patient: sex, age at the first film, how ill (drives views and
		 * findings over the follow-ups), a finding that tends to recur. */
		int male = unif(&r) < 0.565;
		double age = 47 + 16.5 * gauss(&r);
		double ill = gauss(&r);
		int usual = pick(&r, finding_weight, CXR_SYNTH_NFINDINGS);
		for (int f = 0; f < cnt[pt]; f++, i++) {
			cxr_synth_row *w = &p->rows[i];
			memset(w, 0, sizeof *w);
			w->patient = pt + 1;
			w->followup = f;
			if (f > 0)
				age += uniform(&r, 0, 0.6);
			w->age = age < 1 ? 1 : age > 95 ? 95 : (int)age;
			w->sex = male ? 'M' : 'F';
			/* NIH: AP (bedside) films of the sicker, older patients, and
			 * more findings with age, AP view and follow-up. */
			w->ap = unif(&r) < logistic(-0.55 + 0.7 * ill);
			double lo = -0.62 + 0.9 * ill + 0.02 * (w->age - 50) + 0.45 * w->ap +
				0.05 * (f < 10 ? f : 10);
			if (unif(&r) < logistic(lo)) {
				static const double nw[] = {0.60, 0.276, 0.094, 0.024, 0.006};
				int k = 1 + pick(&r, nw, 5);
				double fw[CXR_SYNTH_NFINDINGS];
				memcpy(fw, finding_weight, sizeof fw);
				for (int j = 0; j < k; j++) {
					int x = j == 0 && unif(&r) < 0.5 ? usual
						: pick(&r, fw, CXR_SYNTH_NFINDINGS);
					w->findings |= 1u << x;
					fw[x] = 0;
				}
			}
			double ow[NORIGS];
			for (int j = 0; j < NORIGS; j++)
				ow[j] = origs[j].weight;
			w->orig = pick(&r, ow, NORIGS);
		}
	}
	free(cnt);
	return 0;
}

void cxr_synth_plan_free(cxr_synth_plan *p)
{
	free(p->rows);
	memset(p, 0, sizeof *p);
}

void cxr_synth_image_name(const cxr_synth_row *r, char *buf)
{
	snprintf(buf, 32, "%08ld_%03d.png", r->patient, r->followup);
}

void cxr_synth_findings_str(unsigned findings, char *buf)
{
	buf[0] = 0;
	if (!findings) {
		strcpy(buf, "No Finding");
		return;
	}
	for (int i = 0; i < CXR_SYNTH_NFINDINGS; i++)
		if (findings & (1u << i)) {
			if (buf[0])
				strcat(buf, "|");
			strcat(buf, cxr_synth_finding_names[i]);
		}
}

void cxr_synth_subdir(long i, long per_dir, char *buf)
{
	snprintf(buf, 64, "images_%03ld/images", i / per_dir + 1);
}

int cxr_synth_write_csv(FILE *f, const char *name, const cxr_synth_plan *p)
{
	fputs(CXR_NIH_CSV_HEADER "\n", f);
	for (long i = 0; i < p->n; i++) {
		const cxr_synth_row *r = &p->rows[i];
		char img[32], fnd[256];
		cxr_synth_image_name(r, img);
		cxr_synth_findings_str(r->findings, fnd);
		fprintf(f, "%s,%s,%d,%ld,%d,%c,%s,%d,%d,%s,%s\n", img, fnd, r->followup,
			r->patient, r->age, r->sex, r->ap ? "AP" : "PA", origs[r->orig].w,
			origs[r->orig].h, origs[r->orig].spacing, origs[r->orig].spacing);
	}
	if (ferror(f)) {
		cxr_seterr("%s: write error: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the picture ---- */

static float clampf(float x, float a, float b) { return x < a ? a : x > b ? b : x; }

/* 0 at e0, 1 at e1, smooth between (e0 > e1 allowed). */
static float smooth(float e0, float e1, float x)
{
	float t = clampf((x - e0) / (e1 - e0), 0, 1);
	return t * t * (3 - 2 * t);
}

/* Value noise: random values on a g x g lattice over the unit square,
 * smoothly interpolated; -1..1. */
typedef struct vnoise {
	int g;
	float *v; /* (g+1, g+1) */
} vnoise;

static void vnoise_make(vnoise *n, int g, rng *r)
{
	n->g = g;
	n->v = cxr_xmalloc((size_t)(g + 1) * (g + 1) * sizeof *n->v);
	for (int i = 0; i < (g + 1) * (g + 1); i++)
		n->v[i] = (float)(2 * unif(r) - 1);
}

static float vnoise_at(const vnoise *n, float x, float y)
{
	x = clampf(x, 0, 0.99999f) * n->g;
	y = clampf(y, 0, 0.99999f) * n->g;
	int ix = (int)x, iy = (int)y;
	float fx = x - ix, fy = y - iy;
	fx = fx * fx * (3 - 2 * fx);
	fy = fy * fy * (3 - 2 * fy);
	const float *a = n->v + iy * (n->g + 1) + ix, *b = a + n->g + 1;
	return (a[0] + (a[1] - a[0]) * fx) * (1 - fy) + (b[0] + (b[1] - b[0]) * fx) * fy;
}

/* The patient's anatomy, in anatomy coordinates. Side 0 is the lung on
 * the image's left (the patient's right on a PA film), side 1 the other. */
typedef struct anat {
	float cx;        /* midline */
	float w;         /* thorax half-width */
	float top;       /* lung apices */
	float dome[2];   /* diaphragm at each lung's base */
	float med;       /* mediastinum half-width between the lungs */
	float ctr;       /* cardiothoracic ratio */
	float hy, hh;    /* heart centre height and half-height */
	float rib0, ribdy; /* first posterior rib, rib spacing */
	float tissue;    /* soft-tissue density */
	float air;       /* how much darker the aerated lung is */
	float marks;     /* lung-marking strength */
	float breast;    /* breast shadow density (0 for men) */
} anat;

/* Lung field of side s at (x, y): 0 outside .. 1 inside, soft-edged; *rr
 * gets the shape's radial value (<1 inside, 1 on the edge). */
static float lung_at(const anat *a, int s, float x, float y, float *rr)
{
	float sg = s ? 1 : -1;
	float xl = a->cx + sg * a->w, xm = a->cx + sg * a->med;
	float xc = (xl + xm) / 2, ha = (a->w - a->med) / 2;
	float yc = (a->top + a->dome[s]) / 2, hb = (a->dome[s] - a->top) / 2;
	float dx = (x - xc) / ha, dy = (y - yc) / hb, r;
	if (dy < 0) { /* the upper lobe narrows to a rounded apex */
		r = dx * dx + dy * dy;
	} else {
		/* a square-ish base, the dome of the diaphragm rising towards
		 * the middle of each hemithorax, the costophrenic angle deepest
		 * laterally */
		float lat = sg * dx;                    /* -1 medial .. 1 lateral */
		float bot = 1 - 0.16f * (1 - lat * lat) - 0.06f * (1 - lat);
		float ey = dy / bot, dx2 = dx * dx, ey2 = ey * ey;
		r = sqrtf(dx2 * dx2 + ey2 * ey2);
	}
	*rr = r;
	return smooth(1.06f, 0.9f, r);
}

static float heart_at(const anat *a, float x, float y)
{
	float hw = a->ctr * a->w;
	float hx = a->cx + 0.3f * hw;
	float dx = (x - hx) / hw, dy = (y - a->hy) / a->hh;
	return smooth(1.08f, 0.9f, dx * dx + dy * dy);
}

/* A lesion drawn over the lungs. */
enum { L_BLOB, L_GAUSS, L_PLATE, L_EFFUSION, L_RIM, L_PTX, L_RETIC, L_HERNIA };
typedef struct lesion {
	int kind, side;
	float x, y;      /* centre */
	float r, r2;     /* radius, or the two sigmas of a plate */
	float ca, sa;    /* plate orientation */
	float amp;       /* density added (negative darkens) */
	float x0, y0, x1, y1; /* bounding box */
} lesion;
enum { MAXLES = 24 };

typedef struct scene {
	anat a;
	float jx, jy, js, jc, jsn; /* jitter: shift, scale, rotation cos/sin */
	vnoise n1, n2, n3, nv, nr; /* markings, vessels, reticulation */
	lesion les[MAXLES];
	int nles;
	float marks_mul;         /* lung markings left (emphysema) */
	int ptx;                 /* the pneumothorax lesion, or -1 */
} scene;

/* A point well inside side s's lung field, in region 0 any, 1 upper,
 * 2 lower. */
static void lung_point(const scene *sc, rng *r, int s, int region, float *px, float *py)
{
	const anat *a = &sc->a;
	float sg = s ? 1 : -1, x = a->cx, y = a->top;
	for (int t = 0; t < 200; t++) {
		x = a->cx + sg * uniform(r, a->med, a->w);
		y = uniform(r, a->top, a->dome[s]);
		float rr, m = lung_at(a, s, x, y, &rr);
		if (s == 1)
			m *= 1 - heart_at(a, x, y);
		float yc = (a->top + a->dome[s]) / 2;
		if (region == 1 && y > yc)
			continue;
		if (region == 2 && y < yc)
			continue;
		if (m > 0.97f && rr < 0.85f)
			break;
	}
	*px = x;
	*py = y;
}

static lesion *add_lesion(scene *sc, int kind, int side, float x, float y, float r,
	float amp)
{
	if (sc->nles == MAXLES)
		return NULL;
	lesion *l = &sc->les[sc->nles++];
	memset(l, 0, sizeof *l);
	l->kind = kind;
	l->side = side;
	l->x = x;
	l->y = y;
	l->r = l->r2 = r;
	l->amp = amp;
	float e = kind == L_GAUSS || kind == L_PLATE ? 3 * r : 1.2f * r;
	l->x0 = x - e, l->x1 = x + e, l->y0 = y - e, l->y1 = y + e;
	return l;
}

/* The lesions of each finding, scaled by the image's conspicuity k. */
static void draw_findings(scene *sc, rng *r, unsigned findings, float k)
{
	anat *a = &sc->a;
	float x, y;
	if (findings & (1u << F_CARDIOMEGALY)) /* an enlarged heart */
		a->ctr = fminf(0.7f, 0.5f + k * (float)uniform(r, 0.04, 0.12));
	if (findings & (1u << F_EMPHYSEMA)) { /* hyperinflated, dark, few marks */
		float d = k * (float)uniform(r, 0.04, 0.07);
		a->dome[0] += d, a->dome[1] += d;
		a->air += k * (float)uniform(r, 0.05, 0.08);
		sc->marks_mul *= 0.4f;
		for (int i = 1 + (int)uniform(r, 0, 3); i > 0; i--) { /* bullae */
			int s = unif(r) < 0.5;
			lung_point(sc, r, s, 1, &x, &y);
			add_lesion(sc, L_GAUSS, s, x, y, (float)uniform(r, 0.025, 0.045),
				-k * (float)uniform(r, 0.06, 0.1));
		}
	}
	for (int f = 0; f < CXR_SYNTH_NFINDINGS; f++) {
		if (!(findings & (1u << f)))
			continue;
		int s = unif(r) < 0.5;
		lesion *l;
		switch (f) {
		case F_NODULE: /* small round opacities */
			for (int i = 1 + (unif(r) < 0.25) + (unif(r) < 0.1); i > 0; i--) {
				lung_point(sc, r, s, 0, &x, &y);
				add_lesion(sc, L_BLOB, s, x, y, (float)uniform(r, 0.02, 0.034),
					k * (float)uniform(r, 0.16, 0.3));
				s = unif(r) < 0.5;
			}
			break;
		case F_MASS: /* a larger, lobulated one */
			lung_point(sc, r, s, 0, &x, &y);
			float rm = (float)uniform(r, 0.035, 0.075), am = k * (float)uniform(r, 0.1, 0.24);
			add_lesion(sc, L_BLOB, s, x, y, rm, am);
			add_lesion(sc, L_BLOB, s, x + (float)uniform(r, -0.6, 0.6) * rm,
				y + (float)uniform(r, -0.6, 0.6) * rm, rm * (float)uniform(r, 0.5, 0.8), am * 0.6f);
			break;
		case F_CONSOLIDATION:
		case F_PNEUMONIA: /* a dense patch of a lobe */
			lung_point(sc, r, s, f == F_PNEUMONIA ? 2 : 0, &x, &y);
			for (int i = 2 + (unif(r) < 0.5); i > 0; i--)
				add_lesion(sc, L_GAUSS, s, x + (float)uniform(r, -0.04, 0.04),
					y + (float)uniform(r, -0.04, 0.04), (float)uniform(r, 0.025, 0.05),
					k * (float)uniform(r, 0.1, 0.18));
			break;
		case F_INFILTRATION: /* ill-defined patches, often both sides */
			for (int i = 2 + (int)uniform(r, 0, 3); i > 0; i--) {
				s = unif(r) < 0.5;
				lung_point(sc, r, s, 0, &x, &y);
				add_lesion(sc, L_GAUSS, s, x, y, (float)uniform(r, 0.025, 0.05),
					k * (float)uniform(r, 0.11, 0.2));
			}
			break;
		case F_EDEMA: /* bilateral haze around the hila */
			for (s = 0; s < 2; s++) {
				float sg = s ? 1 : -1;
				add_lesion(sc, L_GAUSS, s, a->cx + sg * (a->med + 0.07f),
					(a->top + a->dome[s]) / 2 + 0.03f, (float)uniform(r, 0.05, 0.075),
					k * (float)uniform(r, 0.1, 0.18));
			}
			break;
		case F_ATELECTASIS: /* a plate of collapsed lung near the base */
			lung_point(sc, r, s, 2, &x, &y);
			if ((l = add_lesion(sc, L_PLATE, s, x, y, (float)uniform(r, 0.05, 0.09),
					k * (float)uniform(r, 0.14, 0.28)))) {
				l->r2 = (float)uniform(r, 0.012, 0.025);
				float th = (float)uniform(r, -0.4, 0.4);
				l->ca = cosf(th), l->sa = sinf(th);
			}
			break;
		case F_EFFUSION: /* fluid filling the base, a meniscus laterally */
			for (int both = unif(r) < 0.3, i = 0; i <= both; i++, s = !s) {
				float sg = s ? 1 : -1;
				if ((l = add_lesion(sc, L_EFFUSION, s, a->cx + sg * (a->w + a->med) / 2,
						a->dome[s] - k * (float)uniform(r, 0.04, 0.13), 0,
						fminf(1, k * (float)uniform(r, 0.5, 0.9))))) {
					l->x0 = a->cx + (s ? a->med - 0.02f : -a->w - 0.05f);
					l->x1 = a->cx + (s ? a->w + 0.05f : -a->med + 0.02f);
					l->y0 = l->y - 0.12f, l->y1 = a->dome[s] + 0.06f;
				}
			}
			break;
		case F_PLEURAL: /* a band along the chest wall */
			if ((l = add_lesion(sc, L_RIM, s, 0, 0, (float)uniform(r, 0.62, 0.78),
					k * (float)uniform(r, 0.22, 0.35)))) {
				l->x0 = -1, l->x1 = 2, l->y0 = -1, l->y1 = 2;
				l->r2 = (float)uniform(r, -0.3, 0.5); /* from this height down */
			}
			break;
		case F_PNEUMOTHORAX: /* a lucent rim without markings, a pleural line */
			if ((l = add_lesion(sc, L_PTX, s, 0, 0, (float)uniform(r, 0.55, 0.78),
					k * (float)uniform(r, 0.08, 0.14)))) {
				l->x0 = -1, l->x1 = 2, l->y0 = -1, l->y1 = 2;
				sc->ptx = (int)(l - sc->les);
			}
			break;
		case F_FIBROSIS: /* reticular lines in the lower, outer lungs */
			for (s = 0; s < 2; s++) {
				float sg = s ? 1 : -1;
				if ((l = add_lesion(sc, L_RETIC, s, a->cx + sg * (a->w * 0.75f),
						a->dome[s] - 0.12f, 0.12f, k * (float)uniform(r, 0.12, 0.22)))) {
					l->x0 = l->x - 0.3f, l->x1 = l->x + 0.3f;
					l->y0 = l->y - 0.3f, l->y1 = l->y + 0.3f;
				}
			}
			break;
		case F_HERNIA: /* a round density behind the heart, an air cap */
			add_lesion(sc, L_HERNIA, 1, a->cx + 0.05f, a->dome[1] - 0.06f,
				(float)uniform(r, 0.04, 0.06), k * (float)uniform(r, 0.12, 0.22));
			break;
		}
	}
}

static void scene_make(scene *sc, uint64_t seed, const cxr_synth_row *row)
{
	memset(sc, 0, sizeof *sc);
	/* The patient's build: the same on every follow-up film. */
	rng pr = rng_for(seed, 2, (uint64_t)row->patient, 0);
	anat *a = &sc->a;
	int male = row->sex == 'M';
	a->cx = 0.5f + 0.01f * (float)gauss(&pr);
	a->w = (male ? 0.35f : 0.33f) + 0.015f * (float)gauss(&pr);
	a->top = 0.13f + 0.015f * (float)gauss(&pr);
	a->dome[0] = 0.74f + 0.02f * (float)gauss(&pr);
	a->dome[1] = a->dome[0] + (float)uniform(&pr, 0.01, 0.035);
	a->med = (float)uniform(&pr, 0.045, 0.06);
	a->ctr = (float)uniform(&pr, 0.38, 0.47);
	a->hh = (float)uniform(&pr, 0.14, 0.17);
	a->rib0 = a->top + 0.02f;
	a->ribdy = (a->dome[0] - a->top) / (float)uniform(&pr, 8.5, 9.5);
	a->tissue = (float)uniform(&pr, 0.45, 0.55);
	a->air = (float)uniform(&pr, 0.26, 0.32);
	a->marks = (float)uniform(&pr, 0.8, 1.2);
	a->breast = male ? 0 : (float)uniform(&pr, 0.02, 0.06);

	/* This film: breathing, positioning, the AP view's magnified heart. */
	rng ir = rng_for(seed, 3, (uint64_t)row->patient, (uint64_t)row->followup);
	float breath = 0.015f * (float)gauss(&ir);
	a->dome[0] += breath, a->dome[1] += breath;
	if (row->ap)
		a->ctr *= 1.06f;
	sc->jx = 0.02f * (float)gauss(&ir);
	sc->jy = 0.02f * (float)gauss(&ir);
	sc->js = (float)uniform(&ir, 0.93, 1.07);
	float th = 0.025f * (float)gauss(&ir);
	sc->jc = cosf(th), sc->jsn = sinf(th);
	sc->marks_mul = 1;
	sc->ptx = -1;
	vnoise_make(&sc->n1, 7, &ir);
	vnoise_make(&sc->n2, 15, &ir);
	vnoise_make(&sc->n3, 31, &ir);
	vnoise_make(&sc->nv, 22, &ir);
	vnoise_make(&sc->nr, 45, &ir);

	/* The lesions come from their own generator, so that a film with its
	 * findings removed is the same film without them (the tests rely on
	 * it). */
	rng lr = rng_for(seed, 4, (uint64_t)row->patient, (uint64_t)row->followup);
	float k = unif(&lr) < 0.1 ? (float)uniform(&lr, 0.5, 0.75)
		: (float)uniform(&lr, 1.0, 1.8);
	/* the heart sits on the dome: placed before the lesions (which
	 * avoid it), again after them (emphysema lowers the domes) */
	a->hy = a->dome[1] - 0.1f;
	draw_findings(sc, &lr, row->findings, k);
	a->hy = a->dome[1] - 0.1f;
}

static void scene_free(scene *sc)
{
	free(sc->n1.v);
	free(sc->n2.v);
	free(sc->n3.v);
	free(sc->nv.v);
	free(sc->nr.v);
}

/* Density of the posterior and anterior ribs and the clavicles at (x, y). */
static float bones_at(const anat *a, float x, float y)
{
	float d = fabsf(x - a->cx), b = 0;
	if (d > a->w + 0.04f || d < 0.03f)
		return 0;
	float lat = smooth(a->w + 0.04f, a->w - 0.02f, d);
	float u = d - 0.03f;
	/* posterior ribs: up a little from the spine, then curving down */
	float yc0 = -0.12f * u + 1.1f * u * u, t = 0.011f + 0.025f * u;
	float kf = (y - a->rib0 - yc0) / a->ribdy;
	int k0 = (int)floorf(kf);
	for (int k = k0; k <= k0 + 1; k++) {
		if (k < 0 || k > 9)
			continue;
		float e = (y - a->rib0 - yc0 - k * a->ribdy) / t;
		if (e > -1.3f && e < 1.3f)
			b += (0.055f + 0.025f * e * e) * smooth(1.3f, 0.9f, fabsf(e));
	}
	/* anterior ribs: fainter, sloping down towards the midline */
	float ya = a->rib0 + 0.1f + 0.45f * (a->w - d), ta = 0.012f;
	float ka = (y - ya) / (1.3f * a->ribdy);
	int j0 = (int)floorf(ka);
	for (int j = j0; j <= j0 + 1; j++) {
		if (j < 0 || j > 6)
			continue;
		float e = (y - ya - j * 1.3f * a->ribdy) / ta;
		if (e > -1.3f && e < 1.3f)
			b += 0.035f * smooth(1.3f, 0.8f, fabsf(e));
	}
	/* clavicles */
	float yk = a->top + 0.035f - 0.32f * (d - 0.04f), ek = (y - yk) / 0.014f;
	if (d < a->w * 0.8f && ek > -1.3f && ek < 1.3f)
		b += 0.1f * smooth(1.3f, 0.8f, fabsf(ek));
	/* below the domes the ribs fade into the abdomen's density */
	float dm = x < a->cx ? a->dome[0] : a->dome[1];
	return b * lat * (1 - 0.7f * smooth(dm - 0.02f, dm + 0.08f, y));
}

/* Pneumothorax l: how far (x, y) lies in the air beyond the collapsed
 * lung's edge, upper and lateral (0..1), and the pleural line there. */
static float ptx_out(const anat *a, const lesion *l, float y, float rr, float *line)
{
	float yc = (a->top + a->dome[l->side]) / 2;
	float fade = smooth(yc + 0.12f, yc - 0.04f, y);
	*line = fade * expf(-(rr - l->r) * (rr - l->r) / (2 * 0.01f * 0.01f));
	return fade * smooth(l->r - 0.01f, l->r + 0.01f, rr);
}

/* Density of the whole picture at anatomy point (x, y). */
static float density_at(const scene *sc, float x, float y)
{
	const anat *a = &sc->a;
	float d = fabsf(x - a->cx);
	/* body: the chest wall, wider at the shoulders */
	float bw = a->w + 0.075f + 0.07f * smooth(a->top + 0.1f, a->top - 0.08f, y);
	float body = smooth(bw + 0.012f, bw - 0.012f, d);
	float D = 0.04f + body * (a->tissue - 0.04f);
	if (body == 0)
		return D;
	/* the abdomen below the domes: liver on the image's left */
	float dm = x < a->cx ? a->dome[0] : a->dome[1];
	D += body * 0.06f * smooth(dm - 0.02f, dm + 0.05f, y) * (x < a->cx ? 1.3f : 0.8f);
	/* spine with its vertebrae */
	float sp = smooth(0.042f, 0.03f, d);
	if (sp > 0)
		D += sp * 0.16f * (0.85f + 0.15f * cosf(y * 2 * (float)M_PI / a->ribdy * 1.1f));
	D += body * bones_at(a, x, y);
	/* lungs: air, minus the heart's shadow, plus markings */
	float heart = heart_at(a, x, y), lung = 0, rr0 = 2, rr1 = 2;
	float l0 = lung_at(a, 0, x, y, &rr0), l1 = lung_at(a, 1, x, y, &rr1) * (1 - heart);
	lung = l0 + l1;
	if (lung > 0) {
		float hil = 0.06f * expf(-((d - a->med - 0.05f) * (d - a->med - 0.05f) +
			(y - a->hy + 0.08f) * (y - a->hy + 0.08f)) / (2 * 0.07f * 0.07f));
		float ves = 1 - fabsf(vnoise_at(&sc->nv, x, y));
		ves = ves * ves * ves * ves;
		float mk = a->marks * sc->marks_mul * (0.03f * vnoise_at(&sc->n1, x, y) +
			0.025f * vnoise_at(&sc->n2, x, y) + 0.015f * vnoise_at(&sc->n3, x, y) +
			0.05f * ves) + hil;
		/* breast shadows over the lower, outer lung */
		float br = a->breast * smooth(a->dome[0] - 0.22f, a->dome[0] - 0.08f, y) *
			smooth(a->med + 0.05f, a->w * 0.8f, d);
		float keep0 = 1, keep1 = 1, line;
		if (sc->ptx >= 0) { /* no markings beyond the collapsed lung */
			const lesion *l = &sc->les[sc->ptx];
			*(l->side ? &keep1 : &keep0) -= ptx_out(a, l, y, l->side ? rr1 : rr0, &line);
		}
		D += l0 * (keep0 * mk + br - a->air) + l1 * (keep1 * mk + br - a->air);
	}
	for (int i = 0; i < sc->nles; i++) {
		const lesion *l = &sc->les[i];
		if (x < l->x0 || x > l->x1 || y < l->y0 || y > l->y1)
			continue;
		float lm = l->side ? l1 : l0, rr = l->side ? rr1 : rr0;
		float dx = x - l->x, dy = y - l->y, q;
		switch (l->kind) {
		case L_BLOB: /* a soft-edged disk, denser in its middle */
			q = (dx * dx + dy * dy) / (l->r * l->r);
			if (q < 1.44f)
				D += l->amp * smooth(1.44f, 0.7f, q) * (0.75f + 0.25f * (1 - q)) *
					(0.3f + 0.7f * lm);
			break;
		case L_GAUSS:
			q = (dx * dx + dy * dy) / (l->r * l->r);
			D += l->amp * expf(-0.5f * q) * (0.7f + 0.3f * vnoise_at(&sc->n2, x, y)) * lm;
			break;
		case L_PLATE: {
			float u = (dx * l->ca + dy * l->sa) / l->r, v = (-dx * l->sa + dy * l->ca) / l->r2;
			D += l->amp * expf(-0.5f * (u * u + v * v)) * lm;
			break;
		}
		case L_EFFUSION: { /* fluid replaces the air below a level that
				    * rises laterally in a meniscus, hiding the
				    * dome and the costophrenic angle */
			float sg = l->side ? 1 : -1;
			float lat = clampf((sg * (x - a->cx) - a->med) / (a->w - a->med), 0, 1);
			float lev = l->y - 0.07f * lat * lat * lat;
			float fill = smooth(lev - 0.015f, lev + 0.015f, y);
			D += fill * lm * l->amp * a->air;
			break;
		}
		case L_RIM: { /* the lung's lateral edge, from height r2 down */
			float sg = l->side ? 1 : -1;
			float yc = (a->top + a->dome[l->side]) / 2, hb = (a->dome[l->side] - a->top) / 2;
			float lat = sg * (x - a->cx) - (a->med + a->w) / 2;
			if (lat > 0 && (y - yc) / hb > l->r2)
				D += l->amp * lm * smooth(l->r, 0.97f, rr);
			break;
		}
		case L_PTX: { /* the collapsed lung a little denser, air beyond
			       * its edge, the edge a thin line */
			float line, out = ptx_out(a, l, y, rr, &line);
			D += lm * l->amp * (0.3f * (1 - out) - out + line);
			break;
		}
		case L_RETIC: { /* a net of fine lines, basal and peripheral */
			float g = expf(-0.5f * (dx * dx + dy * dy) / (l->r * l->r));
			float n = 1 - fabsf(vnoise_at(&sc->nr, x, y));
			D += l->amp * g * lm * n * n * n;
			break;
		}
		case L_HERNIA: { /* a round density, an air cap on top */
			q = (dx * dx + dy * dy) / (l->r * l->r);
			if (q < 1.44f) {
				float m = smooth(1.44f, 0.8f, q);
				D += dy < -0.3f * l->r ? -0.5f * l->amp * m : l->amp * m;
			}
			break;
		}
		}
	}
	return D;
}

enum { LUT_N = 4096 };

void cxr_synth_render(uint8_t *px, int size, uint64_t seed, const cxr_synth_row *row)
{
	scene sc;
	scene_make(&sc, seed, row);
	/* The exposure: gain, offset and gamma, each wide enough that the
	 * image mean says nothing about the lesions. A table maps density to
	 * grey level. */
	rng er = rng_for(seed, 5, (uint64_t)row->patient, (uint64_t)row->followup);
	float gain = (float)uniform(&er, 0.8, 1.25);
	float off = 0.03f + 0.06f * (float)gauss(&er);
	float gam = (float)uniform(&er, 0.8, 1.25);
	float sigma = (float)uniform(&er, 1.5, 5);
	static const float dlo = -0.5f, dhi = 1.5f;
	float lut[LUT_N];
	for (int i = 0; i < LUT_N; i++) {
		float D = dlo + (dhi - dlo) * i / (LUT_N - 1);
		lut[i] = 255 * powf(clampf(off + gain * D, 0, 1), gam);
	}
	rng nr = rng_for(seed, 6, (uint64_t)row->patient, (uint64_t)row->followup);
	float c = 0.5f, inv = 1.0f / size;
	for (int j = 0; j < size; j++) {
		for (int i = 0; i < size; i++) {
			/* image point -> anatomy point: undo shift, scale, tilt */
			float u = (i + 0.5f) * inv - c - sc.jx, v = (j + 0.5f) * inv - c - sc.jy;
			float x = c + (sc.jc * u + sc.jsn * v) / sc.js;
			float y = c + (-sc.jsn * u + sc.jc * v) / sc.js;
			float D = density_at(&sc, x, y);
			float t = (D - dlo) / (dhi - dlo) * (LUT_N - 1);
			float g = lut[(int)clampf(t + 0.5f, 0, LUT_N - 1)];
			/* pixel noise: a sum of four uniforms, near enough normal */
			uint64_t z = cxr_rng_u64(&nr);
			float s4 = (float)((z & 0xffff) + ((z >> 16) & 0xffff) + ((z >> 32) & 0xffff) +
				(z >> 48)) * (1.0f / 65536) - 2;
			g += sigma * 1.7320508f * s4;
			px[(size_t)j * size + i] = (uint8_t)clampf(g + 0.5f, 0, 255);
		}
	}
	scene_free(&sc);
}

/* ---- writing the data set ---- */

static int mkdir_one(const char *path)
{
	if (mkdir(path, 0777) && errno != EEXIST) {
		cxr_seterr("%s: cannot create directory: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Renders and writes image i; -1 with cxr_errmsg() set. */
static int write_one(const char *dir, const cxr_synth_plan *p, long i,
	const cxr_synth_opts *o, uint8_t *px)
{
	char sub[64], name[32], path[4096];
	cxr_synth_subdir(i, o->per_dir, sub);
	cxr_synth_image_name(&p->rows[i], name);
	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	cxr_synth_render(px, o->size, p->seed, &p->rows[i]);
	cxr_atomic *a = cxr_atomic_open(path);
	if (!a)
		return -1;
	if (cxr_png_write_gray(cxr_atomic_file(a), path, px, (uint32_t)o->size,
			       (uint32_t)o->size, o->level)) {
		cxr_atomic_abort(a);
		return -1;
	}
	return cxr_atomic_commit(a);
}

int cxr_synth_write_images(const char *dir, const cxr_synth_plan *p, const cxr_synth_opts *o)
{
	char path[4096], sub[64];
	for (long i = 0; i < p->n; i += o->per_dir) {
		cxr_synth_subdir(i, o->per_dir, sub);
		*strchr(sub, '/') = 0;
		snprintf(path, sizeof path, "%s/%s", dir, sub);
		if (mkdir_one(path))
			return -1;
		snprintf(path, sizeof path, "%s/%s/images", dir, sub);
		if (mkdir_one(path))
			return -1;
	}
	cxr_progress pr;
	cxr_progress_start(&pr, "images", p->n, o->quiet);
	long done = 0;
	int failed = 0;
	char err[1024] = "";
#pragma omp parallel num_threads(o->jobs > 0 ? o->jobs : 1)
	{
		uint8_t *px = cxr_xmalloc((size_t)o->size * o->size);
#pragma omp for schedule(dynamic, 1)
		for (long i = 0; i < p->n; i++) {
			if (__atomic_load_n(&failed, __ATOMIC_RELAXED) || cxr_stop_signal)
				continue;
			if (write_one(dir, p, i, o, px)) {
#pragma omp critical(synth_err)
				if (!failed) {
					snprintf(err, sizeof err, "%s", cxr_errmsg());
					failed = 1;
				}
				continue;
			}
			long n = __atomic_add_fetch(&done, 1, __ATOMIC_RELAXED);
			if (omp_get_thread_num() == 0)
				cxr_progress_update(&pr, n);
		}
		free(px);
	}
	cxr_progress_end(&pr);
	if (failed) {
		cxr_seterr("%s", err);
		return -1;
	}
	return 0;
}
