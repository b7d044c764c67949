/* optim — Adam (and AdamW) over flat float arrays, and learning-rate
 * schedules as pure functions, all matching PyTorch 1.13. */
#ifndef CXR_OPTIM_H
#define CXR_OPTIM_H
#include <stddef.h>

/* Hyper-parameters in double, as Python floats: 1 - beta2 from a float
 * beta2 would be off by 1e-5 relative. */
typedef struct cxr_adam_cfg {
	double lr;           /* 1e-3 */
	double beta1, beta2; /* 0.9, 0.999 */
	double eps;          /* 1e-8 */
	double weight_decay; /* 0: none */
	int decoupled;      /* 0: torch.optim.Adam (L2 added to the gradient);
			       1: torch.optim.AdamW (p *= 1 - lr*weight_decay) */
} cxr_adam_cfg;

/* torch.optim.Adam's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay. */
cxr_adam_cfg cxr_adam_defaults(void);

/* One Adam step, as torch.optim.Adam/AdamW (single-tensor path) with
 * amsgrad off. step is the step number after this update, 1 for the
 * first; m and v start zeroed and are updated in place.
 *	p (n) parameters, updated
 *	g (n) gradients (not changed)
 *	m (n) first moments, v (n) second moments
 * Threads: OpenMP, for arrays large enough to gain from it. */
void cxr_adam_step(float *p, const float *g, float *m, float *v, size_t n,
		   const cxr_adam_cfg *cfg, long step);

/* Cosine learning rate for step (0-based) of total: a linear warmup from
 * base/warmup to base over the first warmup steps (0: none), then
 * min_lr + (base - min_lr) (1 + cos(pi t)) / 2 with t going from 0 at step
 * warmup to 1 at step total; steps past total stay at min_lr. Without
 * warmup this is torch's CosineAnnealingLR(T_max=total, eta_min=min_lr) in
 * its closed form. */
double cxr_lr_cosine(double base, double min_lr, long step, long total, long warmup);

/* Reduce-on-plateau, torch.optim.lr_scheduler.ReduceLROnPlateau with
 * threshold_mode "rel": after more than patience epochs without a relative
 * improvement of threshold, lr *= factor (not below min_lr), then cooldown
 * epochs of rest. The state is plain numbers, so a checkpoint can keep it
 * (cxr_plateau_format/parse). */
typedef struct cxr_plateau {
	/* configuration */
	int mode_max;     /* 1: the metric should rise (AUC); 0: fall (loss) */
	double factor;    /* 0.1 */
	int patience;     /* 10 */
	double threshold; /* 1e-4, relative */
	int cooldown;     /* 0 */
	double min_lr;    /* 0 */
	/* state */
	double lr;
	double best;      /* -inf or +inf before the first epoch */
	int num_bad;
	int cooldown_left;
	long epoch;
} cxr_plateau;

/* PyTorch's defaults, mode by mode_max, starting at lr. */
void cxr_plateau_init(cxr_plateau *s, double lr, int mode_max);
/* Feeds one epoch's metric; returns the learning rate for the next epoch
 * (also in s->lr). A NaN metric counts as no improvement. */
double cxr_plateau_step(cxr_plateau *s, double metric);
/* The whole state as one line of text (round-trips exactly), and back.
 * parse returns 0, or -1 with cxr_errmsg() set. */
void cxr_plateau_format(const cxr_plateau *s, char *buf, size_t n);
int cxr_plateau_parse(cxr_plateau *s, const char *str);

#endif
