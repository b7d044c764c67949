/* train_driver — what cxr-train does: the training loop over a pack, validation
 * each epoch, the decision threshold, checkpoints that resume bit for bit,
 * and the per-epoch metrics log. */
#ifndef CXR_TRAIN_DRIVER_H
#define CXR_TRAIN_DRIVER_H
#include <stdint.h>

enum cxr_schedule { CXR_SCHED_CONSTANT, CXR_SCHED_COSINE, CXR_SCHED_PLATEAU };
/* "constant", "cosine", "plateau"; "?" for another number. */
const char *cxr_schedule_name(int schedule);
/* The enum cxr_schedule of a name, or -1. */
int cxr_schedule_parse(const char *name);

typedef struct cxr_train_cfg {
	/* data */
	const char *train_path, *val_path; /* val may be NULL */
	const char *out_path;              /* MODEL; also MODEL.ckpt, MODEL.best */
	const char *log_path;              /* NULL: MODEL.log */
	const char *resume_path;           /* a checkpoint, or NULL */
	const char *step_log_path;         /* one line per step, or NULL */
	/* network */
	double width_mult;
	int arch;                          /* CXR_ARCH_* (nn/resnet.h) */
	int init;                          /* enum cxr_init_scheme (nn/init.h) */
	int precision;                     /* CXR_PREC_* (nn/precision.h); a resumed
					    * run keeps its checkpoint's */
	/* optimisation */
	int epochs, batch;                 /* batch: the whole step's, all ranks' */
	int accum;                         /* micro-batches per rank and step
					    * (--accum K); 0: 1, or resuming,
					    * the checkpoint's part size */
	double lr, min_lr, beta1, beta2, eps, weight_decay;
	int decoupled;                     /* AdamW (1) or Adam with L2 (0) */
	int schedule;                      /* enum cxr_schedule */
	int warmup_epochs;
	int plateau_patience;
	double plateau_factor;
	int early_stop;                    /* epochs without a better val AUC; 0 off */
	int augment;
	uint64_t seed;
	/* running */
	int threads;
	int quiet;
	long max_steps;                    /* stop after this many steps (tests); 0 all */
	int threshold_sens_pct;            /* 0: Youden's J; else a fixed sensitivity */
} cxr_train_cfg;

void cxr_train_defaults(cxr_train_cfg *c);
/* Prints the configuration, one "# key value" line each, to the log. */

/* How a run ended, for the caller's message. */
typedef struct cxr_train_end {
	int signal;     /* the signal (cxr_stop_signal) that came, or 0 */
	int checkpoint; /* MODEL.ckpt was written where the run stopped */
	int model;      /* MODEL was written: done, or stopped by max_steps */
} cxr_train_end;

/* Runs the whole training. Returns 0 when done, stopped by max_steps or
 * stopped by a signal, or -1 on an error (message in cxr_errmsg(); the
 * last good checkpoint is left as it was); *end says which. A signal
 * (SIGINT, SIGTERM, SIGHUP: cxr_stop_signal) stops the run at the next
 * step's end with a checkpoint, or, when it comes before the run has
 * written anything (while it reads its inputs), at once; it may also
 * come with an error it caused (an interrupted open), or after the model
 * was written. Never exits: the caller ends by the signal. */
int cxr_train_run(const cxr_train_cfg *c, cxr_train_end *end);

#endif
