/* optim — Adam and learning-rate schedules.
 *
 * The update follows torch 1.13's _single_tensor_adam(w) operation by
 * operation: the scalars (bias corrections, step size) in double as Python
 * computes them, then rounded to float as ATen does when it applies them
 * to a float tensor; the element-wise work in float, with a fused
 * multiply-add where ATen's vectorised kernels (AVX2 build) use one: in
 * add_(x, alpha) and in addcmul_. The fused operations go through double,
 * exact for a product of two floats, so any x86-64 gets them without FMA
 * instructions; the result is bit-identical to torch on this machine
 * (tests/check_optim.c). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/parallel.h"
#include "nn/optim.h"

/* a*b + c rounded once to float (but for a rare double rounding) */
static inline float fmadd(float a, float b, float c)
{
	return (float)((double)a * (double)b + (double)c);
}

cxr_adam_cfg cxr_adam_defaults(void)
{
	return (cxr_adam_cfg){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

/* The step's scalars, rounded to float as ATen applies them. */
typedef struct adam_k {
	float keep, l2, fb1, fb2, a1, a2, bc2s, eps, neg_step;
	int decoupled, decay;
} adam_k;

/* Elements [i0, i1) of the update in one of its three forms (mode, a
 * constant where inlined: 0 no decay, 1 AdamW's, 2 Adam's L2), each
 * element's operations the scalar loop's, in the same order: the same
 * bits, vectorised. The scalar loop, through double and back one element
 * at a time, took twice the time its traffic needs (ResNet-50's 23.5M
 * parameters: 660 MB a step). */
static inline __attribute__((always_inline)) void adam_body(float *restrict p,
							    const float *restrict g,
							    float *restrict m, float *restrict v,
							    size_t i0, size_t i1, const adam_k *k,
							    const int mode)
{
	const adam_k c = *k;
#pragma omp simd
	for (size_t i = i0; i < i1; i++) {
		float gi = g[i], pi = p[i];
		if (mode == 1)
			pi = pi * c.keep;
		else if (mode == 2)
			gi = fmadd(pi, c.l2, gi);
		float mi = fmadd(gi, c.a1, m[i] * c.fb1);
		float vi = fmadd(c.a2 * gi, gi, v[i] * c.fb2);
		float denom = sqrtf(vi) / c.bc2s + c.eps;
		p[i] = pi + c.neg_step * mi / denom;
		m[i] = mi;
		v[i] = vi;
	}
}

CXR_CLONES static void adam_range(float *restrict p, const float *restrict g, float *restrict m,
				  float *restrict v, size_t i0, size_t i1, const adam_k *k)
{
	if (!k->decay)
		adam_body(p, g, m, v, i0, i1, k, 0);
	else if (k->decoupled)
		adam_body(p, g, m, v, i0, i1, k, 1);
	else
		adam_body(p, g, m, v, i0, i1, k, 2);
}

void cxr_adam_step(float *p, const float *g, float *m, float *v, size_t n,
		   const cxr_adam_cfg *cfg, long step)
{
	double lr = cfg->lr, b1 = cfg->beta1, b2 = cfg->beta2, wd = cfg->weight_decay;
	double bc1 = 1 - pow(b1, (double)step);
	double bc2 = 1 - pow(b2, (double)step);
	const adam_k k = {
		.keep = (float)(1 - lr * wd), /* AdamW: param.mul_(1 - lr*wd) */
		.l2 = (float)wd,              /* Adam: grad.add(param, alpha=wd) */
		.fb1 = (float)b1,
		.fb2 = (float)b2,
		.a1 = (float)(1 - b1),
		.a2 = (float)(1 - b2),
		.bc2s = (float)sqrt(bc2),
		.eps = (float)cfg->eps,
		.neg_step = (float)-(lr / bc1),
		.decoupled = cfg->decoupled,
		.decay = cfg->weight_decay != 0,
	};
#pragma omp parallel if (n > 65536)
	{
		size_t i0, i1;
		cxr_par_range(n, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
		adam_range(p, g, m, v, i0, i1, &k);
	}
}

double cxr_lr_cosine(double base, double min_lr, long step, long total, long warmup)
{
	if (warmup > 0 && step < warmup)
		return base * (double)(step + 1) / (double)warmup;
	if (step >= total || total <= warmup)
		return min_lr;
	double t = (double)(step - warmup) / (double)(total - warmup);
	return min_lr + (base - min_lr) * (1 + cos(M_PI * t)) / 2;
}

void cxr_plateau_init(cxr_plateau *s, double lr, int mode_max)
{
	*s = (cxr_plateau){
		.mode_max = mode_max,
		.factor = 0.1,
		.patience = 10,
		.threshold = 1e-4,
		.cooldown = 0,
		.min_lr = 0,
		.lr = lr,
		.best = mode_max ? -INFINITY : INFINITY,
	};
}

static int better(const cxr_plateau *s, double a)
{
	if (s->mode_max)
		return a > s->best * (1 + s->threshold);
	return a < s->best * (1 - s->threshold);
}

double cxr_plateau_step(cxr_plateau *s, double metric)
{
	s->epoch++;
	if (better(s, metric)) { /* false for NaN */
		s->best = metric;
		s->num_bad = 0;
	} else {
		s->num_bad++;
	}
	if (s->cooldown_left > 0) {
		s->cooldown_left--;
		s->num_bad = 0;
	}
	if (s->num_bad > s->patience) {
		double lr = fmax(s->lr * s->factor, s->min_lr);
		if (s->lr - lr > 1e-8) /* torch's eps: ignore a negligible change */
			s->lr = lr;
		s->cooldown_left = s->cooldown;
		s->num_bad = 0;
	}
	return s->lr;
}

void cxr_plateau_format(const cxr_plateau *s, char *buf, size_t n)
{
	snprintf(buf, n, "mode=%s factor=%.17g patience=%d threshold=%.17g cooldown=%d "
			 "min_lr=%.17g lr=%.17g best=%.17g num_bad=%d cooldown_left=%d epoch=%ld",
		 s->mode_max ? "max" : "min", s->factor, s->patience, s->threshold, s->cooldown,
		 s->min_lr, s->lr, s->best, s->num_bad, s->cooldown_left, s->epoch);
}

int cxr_plateau_parse(cxr_plateau *s, const char *str)
{
	char mode[8];
	cxr_plateau t;
	int k = sscanf(str, "mode=%7s factor=%lf patience=%d threshold=%lf cooldown=%d "
			    "min_lr=%lf lr=%lf best=%lf num_bad=%d cooldown_left=%d epoch=%ld",
		       mode, &t.factor, &t.patience, &t.threshold, &t.cooldown, &t.min_lr, &t.lr,
		       &t.best, &t.num_bad, &t.cooldown_left, &t.epoch);
	if (k != 11 || (strcmp(mode, "max") && strcmp(mode, "min"))) {
		cxr_seterr("bad plateau scheduler state '%.100s'", str);
		return -1;
	}
	t.mode_max = !strcmp(mode, "max");
	*s = t;
	return 0;
}
