/* train_driver — see train_driver.h.
 *
 * Files, for -o MODEL:
 *	MODEL.ckpt  after every epoch (and on SIGINT/SIGTERM, mid-epoch): the
 *	            network, Adam's moments and step, the dropout generator,
 *	            the schedule and the position in the data, so that
 *	            --resume MODEL.ckpt ends with the same bits as a run that
 *	            was never stopped (same machine, same -j);
 *	MODEL.best  the model of the epoch with the best validation AUC so far;
 *	MODEL       at the end: MODEL.best's model (the last epoch's without
 *	            --val), carrying the decision threshold;
 *	MODEL.log   the configuration and one TSV line per epoch.
 * Every model file is written whole or not at all (temp, fsync, rename).
 * The logs grow line by line; each checkpoint records how long they were
 * and their SHA-256 then, so that a resume cuts off the lines written
 * after it (their steps run, and are logged, again).
 *
 * Micro-batches (--accum K, and R ranks under MPI): each step's batch of n
 * samples is cut into P = R x K parts, part p the samples [p*n/P,
 * (p+1)*n/P), rank r doing parts rK .. rK+K-1 one after another. Each
 * part is its own forward and backward (batch-norm statistics of its
 * own, as PyTorch's DDP), its logits' gradient divided by n so that the
 * parts' gradients add up to the batch's; the rank adds its K gradients
 * in order, the ranks add theirs (dist_sum_f32), and every rank takes the
 * same Adam step. The running statistics are updated once per part in
 * part order: by the forward itself on one rank, from the parts' batch
 * statistics gathered from every rank otherwise. The dropout mask is
 * drawn for the whole batch from the one generator every rank keeps in
 * step, each part taking its rows. So -np 2 and --accum 2 do the same
 * arithmetic in the same order (a + b is b + a) and write the same bits;
 * more parts add in another order (within float rounding). Only rank 0
 * writes files; every decision to stop is agreed (stopping()). */
#include "run/train_driver.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cli.h"
#include "data/loader.h"
#include "eval/metrics.h"
#include "data/model_file.h"
#include "nn/activation.h"
#include "nn/init.h"
#include "nn/optim.h"
#include "nn/precision.h"
#include "nn/resnet.h"
#include "run/dist.h"
#include "run/resnet_file.h"
#include "base/sha256.h"
#include "base/strset.h"
#include "data/stream.h"

/* The schedules' names, by enum cxr_schedule: in the log, the model's
 * train.schedule, and what a checkpoint's is read back from. */
static const char *const schedule_names[] = {
	[CXR_SCHED_CONSTANT] = "constant",
	[CXR_SCHED_COSINE] = "cosine",
	[CXR_SCHED_PLATEAU] = "plateau",
};
#define NSCHEDULES (int)(sizeof schedule_names / sizeof *schedule_names)

const char *cxr_schedule_name(int schedule)
{
	return schedule >= 0 && schedule < NSCHEDULES ? schedule_names[schedule] : "?";
}

int cxr_schedule_parse(const char *name)
{
	for (int i = 0; i < NSCHEDULES; i++)
		if (!strcmp(name, schedule_names[i]))
			return i;
	return -1;
}

void cxr_train_defaults(cxr_train_cfg *c)
{
	memset(c, 0, sizeof *c);
	c->width_mult = 1;
	/* PyTorch's layer defaults: on small data they learn faster than
	 * torchvision's init (cxr-train(1), INITIALISATION) */
	c->init = CXR_INIT_TORCH;
	c->precision = CXR_PREC_FP32;
	c->epochs = 10;
	c->batch = 32;
	c->lr = 1e-3;
	c->min_lr = 0;
	c->beta1 = 0.9;
	c->beta2 = 0.999;
	c->eps = 1e-8;
	c->weight_decay = 1e-4;
	c->decoupled = 1;
	c->schedule = CXR_SCHED_COSINE;
	c->warmup_epochs = 0;
	c->plateau_patience = 2;
	c->plateau_factor = 0.1;
	c->early_stop = 0;
	c->seed = 1;
	c->threads = 1;
}

/* Everything a run carries from step to step; what a checkpoint holds. */
typedef struct state {
	int epoch;          /* current epoch, 0-based */
	long batch;         /* next batch within it */
	long step;          /* optimizer steps taken (Adam's t) */
	double loss_sum;    /* this epoch's training loss x images so far */
	long seen;          /* images this epoch */
	double lr;          /* for plateau */
	cxr_plateau plateau;
	double best_auc;    /* NaN before any validation */
	int best_epoch;     /* 1-based, 0 none */
	int since_best;
	int done;           /* early-stopped or finished */
} state;

/* A log written line by line (MODEL.log, --step-log) whose length and
 * SHA-256 so far go into each checkpoint. */
typedef struct tlog {
	FILE *f;
	const char *path;
	cxr_sha256 sha;     /* of every byte of the file so far */
	uint64_t bytes;
	const char *key;    /* its checkpoint keys: KEY_bytes, KEY_sha256 */
} tlog;

typedef struct run {
	const cxr_train_cfg *c;
	cxr_resnet *net;
	float *m, *v;       /* Adam moments (num_params) */
	size_t np;
	cxr_pack *train_pack, *val_pack;
	cxr_loader *train, *val;
	char *ckpt_path, *best_path, *log_path;
	tlog log;
	tlog step_log;      /* --step-log: step, epoch, loss, lr; f NULL without */
	char data_digest[65];
	state st;
	double *val_score;  /* (val count) */
	int *val_label;
	double t0, elapsed_before;
	long prog_base;     /* steps into the run when this process started */
	long seen_base;     /* st.seen when this process started the epoch */
	char msg[1200];     /* last_good's sentence */
	int ckpt_written;   /* this run has a checkpoint: resumed, or saved one */
	/* micro-batches and ranks (see the top) */
	int rank, nranks;   /* dist_rank(), dist_size() */
	int accum, parts;   /* K, and P = nranks x K */
	int micro;          /* batch / P: the network's batch */
	int h, w;
	size_t nbuf;        /* BN buffers */
	float *acc;         /* (np) the rank's gradient so far, K > 1 */
	float *mask;        /* (batch x hidden) the batch's dropout mask, P > 1 */
	double *stats;      /* (K x (nbuf + 1)) each part's BN statistics and size */
	double *stats_all;  /* (P x (nbuf + 1)) every rank's, ranks > 1 */
	float *vz, *vz_all; /* (2 x batch) validation logits and labels */
	int stop;           /* the agreed signal, once one came */
	long sum_steps;     /* step, dist_sum_seconds() and dist_wait_seconds() */
	double sum_t, wait_t; /* at the epoch's start */
} run;

/* The signal that stops the run, agreed by every rank (the largest any
 * saw), or 0; once non-zero it stays. Every rank calls it at the same
 * points, so all stop after the same step. */
static int stopping(run *r)
{
	if (!r->stop) {
		r->stop = r->nranks > 1 ? dist_max_int((int)cxr_stop_signal) : (int)cxr_stop_signal;
		if (r->stop && !cxr_stop_signal)
			cxr_stop_signal = r->stop; /* ends this rank by it too */
	}
	return r->stop;
}

static char *with_suffix(const char *path, const char *suffix)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *s = cxr_xmalloc(n);
	snprintf(s, n, "%s%s", path, suffix);
	return s;
}

/* Appends text to a log, flushed; a write error shows at the next
 * checkpoint (tlog_sync). */
static void tlog_put(tlog *l, const char *text, size_t n)
{
	fwrite(text, 1, n, l->f);
	fflush(l->f);
	cxr_sha256_update(&l->sha, text, n);
	l->bytes += n;
}

static char *vformat(const char *fmt, va_list ap, size_t *n)
{
	va_list aq;
	va_copy(aq, ap);
	int len = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	char *buf = cxr_xmalloc(len > 0 ? (size_t)len + 1 : 1);
	vsnprintf(buf, len > 0 ? (size_t)len + 1 : 1, fmt, ap);
	*n = len > 0 ? (size_t)len : 0;
	return buf;
}

static void logf_(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(run *r, const char *fmt, ...)
{
	if (r->rank) /* rank 0 logs for all */
		return;
	va_list ap;
	va_start(ap, fmt);
	size_t n;
	char *text = vformat(fmt, ap, &n);
	va_end(ap);
	tlog_put(&r->log, text, n);
	if (!r->c->quiet)
		fputs(text, stderr);
	free(text);
}

/* Before a checkpoint: the log's lines are written (and, best effort, on
 * disk), and the checkpoint records its length and SHA-256. */
static int tlog_sync(tlog *l, cxr_model *m)
{
	if (!l->f)
		return 0;
	if (fflush(l->f) || ferror(l->f)) {
		cxr_seterr("%s: write error: %s", l->path, strerror(errno));
		return -1;
	}
	fsync(fileno(l->f)); /* a pipe or a terminal cannot: no matter */
	char key[64], buf[65];
	snprintf(key, sizeof key, "%s_bytes", l->key);
	snprintf(buf, sizeof buf, "%" PRIu64, l->bytes);
	cxr_model_set_meta(m, key, buf);
	cxr_sha256 copy = l->sha;
	unsigned char sum[32];
	cxr_sha256_final(&copy, sum);
	cxr_sha256_hex(sum, buf);
	snprintf(key, sizeof key, "%s_sha256", l->key);
	cxr_model_set_meta(m, key, buf);
	return 0;
}

/* Opens a log: afresh ("w"), or, resuming from the checkpoint ck, to
 * append to. When ck recorded the log's length and SHA-256 and the file
 * begins with just those bytes, what follows them (the lines of steps
 * after the checkpoint, which run again) is cut off, so that the log
 * holds each line once; a file that begins otherwise is appended to with
 * a warning (unless quiet). */
static int tlog_open(tlog *l, const char *path, const char *key, const cxr_model *ck, int quiet)
{
	l->path = path;
	l->key = key;
	l->bytes = 0;
	cxr_sha256_init(&l->sha);
	if (!(l->f = fopen(path, ck ? "a+" : "w"))) {
		cxr_seterr("%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (!ck || fstat(fileno(l->f), &st) || !S_ISREG(st.st_mode) || st.st_size == 0)
		return 0;
	char kb[64], ks[64];
	snprintf(kb, sizeof kb, "%s_bytes", key);
	snprintf(ks, sizeof ks, "%s_sha256", key);
	const char *vb = cxr_model_get_meta(ck, kb), *vs = cxr_model_get_meta(ck, ks);
	uint64_t want = vb && vs ? strtoull(vb, NULL, 10) : UINT64_MAX;
	enum { BUF = 1 << 16 };
	unsigned char *buf = cxr_xmalloc(BUF);
	size_t n;
	int cut = 0;
	rewind(l->f);
	for (;;) {
		if (l->bytes == want) {
			cxr_sha256 copy = l->sha;
			unsigned char sum[32];
			char hex[65];
			cxr_sha256_final(&copy, sum);
			cxr_sha256_hex(sum, hex);
			if (!strcmp(hex, vs)) {
				cut = 1;
				break;
			}
		}
		size_t ask = BUF;
		if (l->bytes < want && want - l->bytes < ask)
			ask = (size_t)(want - l->bytes);
		if (!(n = fread(buf, 1, ask, l->f)))
			break;
		cxr_sha256_update(&l->sha, buf, n);
		l->bytes += n;
	}
	free(buf);
	if (ferror(l->f)) {
		cxr_seterr("%s: read error: %s", path, strerror(errno));
		return -1;
	}
	if (cut && (uint64_t)st.st_size > want) {
		if (ftruncate(fileno(l->f), (off_t)want)) {
			cxr_seterr("%s: cannot cut off the lines after the checkpoint: %s", path,
				   strerror(errno));
			return -1;
		}
		if (!quiet)
			cxr_warn("%s: removed the lines written after the checkpoint %s (their steps "
				 "run again)", path, cxr_model_path(ck));
	} else if (!cut && want != UINT64_MAX && !quiet) {
		cxr_warn("%s: not the log the checkpoint %s was written with; appending to it",
			 path, cxr_model_path(ck));
	}
	fseek(l->f, 0, SEEK_END);
	return 0;
}

static void tlog_close(tlog *l)
{
	if (l->f)
		fclose(l->f);
	l->f = NULL;
}

/* SHA-256 of a file, the provenance of the data a model was trained on. */
static int file_digest(const char *path, char hex[65])
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cxr_seterr("%s: %s", path, strerror(errno));
		return -1;
	}
	cxr_sha256 s;
	cxr_sha256_init(&s);
	enum { BUF = 1 << 16 };
	unsigned char *buf = cxr_xmalloc(BUF);
	size_t n;
	while (!cxr_stop_signal && (n = fread(buf, 1, BUF, f)) > 0)
		cxr_sha256_update(&s, buf, n);
	int bad = ferror(f);
	fclose(f);
	free(buf);
	if (bad) {
		cxr_seterr("%s: read error", path);
		return -1;
	}
	unsigned char sum[32];
	cxr_sha256_final(&s, sum);
	cxr_sha256_hex(sum, hex);
	return 0;
}

static void meta_num(cxr_model *m, const char *key, double v)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%.17g", v);
	cxr_model_set_meta(m, key, buf);
}

static void meta_long(cxr_model *m, const char *key, long v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%ld", v);
	cxr_model_set_meta(m, key, buf);
}

/* The hyper-parameters, as model metadata (provenance) and log lines. */
static void put_config(run *r, cxr_model *m)
{
	const cxr_train_cfg *c = r->c;
	meta_long(m, "train.epochs", c->epochs);
	meta_long(m, "train.batch", c->batch);
	meta_num(m, "train.lr", c->lr);
	meta_num(m, "train.min_lr", c->min_lr);
	meta_num(m, "train.beta1", c->beta1);
	meta_num(m, "train.beta2", c->beta2);
	meta_num(m, "train.eps", c->eps);
	meta_num(m, "train.weight_decay", c->weight_decay);
	cxr_model_set_meta(m, "train.optimizer", c->decoupled ? "adamw" : "adam");
	cxr_model_set_meta(m, "train.schedule", cxr_schedule_name(c->schedule));
	meta_long(m, "train.warmup_epochs", c->warmup_epochs);
	meta_long(m, "train.early_stop", c->early_stop);
	meta_long(m, "train.augment", c->augment);
	meta_long(m, "train.threshold_sens", c->threshold_sens_pct);
	meta_long(m, "train.val", c->val_path != NULL);
	/* The run's shape: the batch-norm statistics are those of parts of
	 * batch / (ranks x accum) images. */
	meta_long(m, "train.accum", r->accum);
	meta_long(m, "train.ranks", r->nranks);
	meta_long(m, "seed", (long)c->seed);
	cxr_model_set_meta(m, "train.init", cxr_init_name(c->init));
	cxr_model_set_meta(m, "train.precision", cxr_precision_name(c->precision));
	cxr_model_set_meta(m, "data_digest", r->data_digest);
	cxr_model_set_meta(m, "tool_version", "cxr-train " CXR_VERSION);
	cxr_model_set_meta(m, "input_scale", "1/255");
}

static cxr_model *snapshot(run *r)
{
	cxr_model *m = cxr_model_new();
	if (cxr_resnet_to_model(r->net, m)) {
		cxr_model_free(m);
		return NULL;
	}
	put_config(r, m);
	return m;
}

/* ---- checkpoints ---- */

static int save_checkpoint(run *r)
{
	if (r->rank) { /* rank 0 writes */
		r->ckpt_written = 1;
		return 0;
	}
	cxr_model *m = snapshot(r);
	if (!m)
		return -1;
	const state *s = &r->st;
	int64_t dims[1] = {(int64_t)r->np};
	cxr_model_add_ref(m, "adam.m", CXR_F32, 1, dims, r->m);
	cxr_model_add_ref(m, "adam.v", CXR_F32, 1, dims, r->v);
	meta_long(m, "adam.step", s->step);
	meta_long(m, "ckpt.epoch", s->epoch);
	meta_long(m, "ckpt.batch", s->batch);
	char buf[512];
	snprintf(buf, sizeof buf, "%a", s->loss_sum); /* hex float: exact */
	cxr_model_set_meta(m, "ckpt.loss_sum", buf);
	meta_long(m, "ckpt.seen", s->seen);
	snprintf(buf, sizeof buf, "%a", s->lr);
	cxr_model_set_meta(m, "ckpt.lr", buf);
	cxr_plateau_format(&s->plateau, buf, sizeof buf);
	cxr_model_set_meta(m, "ckpt.plateau", buf);
	snprintf(buf, sizeof buf, "%a", s->best_auc);
	cxr_model_set_meta(m, "ckpt.best_auc", buf);
	meta_long(m, "ckpt.best_epoch", s->best_epoch);
	meta_long(m, "ckpt.since_best", s->since_best);
	meta_long(m, "ckpt.done", s->done);
	snprintf(buf, sizeof buf, "%a", r->elapsed_before + cxr_now() - r->t0);
	cxr_model_set_meta(m, "ckpt.elapsed", buf);
	const uint64_t *rs = cxr_resnet_rng(r->net)->s;
	snprintf(buf, sizeof buf, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
		 rs[0], rs[1], rs[2], rs[3]);
	cxr_model_set_meta(m, "rng.state", buf);
	int rc = -1;
	if (!tlog_sync(&r->log, m) && !tlog_sync(&r->step_log, m))
		rc = cxr_model_save(m, r->ckpt_path);
	if (!rc)
		r->ckpt_written = 1;
	cxr_model_free(m);
	return rc;
}

static int meta_get(const cxr_model *m, const char *key, const char **v)
{
	*v = cxr_model_get_meta(m, key);
	if (!*v) {
		cxr_seterr("%s: not a checkpoint: no '%s'", cxr_model_path(m), key);
		return -1;
	}
	return 0;
}

static int restore_checkpoint(run *r, const cxr_model *m)
{
	state *s = &r->st;
	const char *v;
	int64_t dims[1] = {(int64_t)r->np};
	const float *am = cxr_model_expect_f32(m, "adam.m", 1, dims);
	const float *av = am ? cxr_model_expect_f32(m, "adam.v", 1, dims) : NULL;
	if (!av)
		return -1;
	memcpy(r->m, am, r->np * sizeof(float));
	memcpy(r->v, av, r->np * sizeof(float));
	if (meta_get(m, "adam.step", &v)) return -1;
	s->step = atol(v);
	if (meta_get(m, "ckpt.epoch", &v)) return -1;
	s->epoch = atoi(v);
	if (meta_get(m, "ckpt.batch", &v)) return -1;
	s->batch = atol(v);
	if (meta_get(m, "ckpt.loss_sum", &v)) return -1;
	s->loss_sum = strtod(v, NULL);
	if (meta_get(m, "ckpt.seen", &v)) return -1;
	s->seen = atol(v);
	if (meta_get(m, "ckpt.lr", &v)) return -1;
	s->lr = strtod(v, NULL);
	if (meta_get(m, "ckpt.plateau", &v) || cxr_plateau_parse(&s->plateau, v)) return -1;
	if (meta_get(m, "ckpt.best_auc", &v)) return -1;
	s->best_auc = strtod(v, NULL);
	if (meta_get(m, "ckpt.best_epoch", &v)) return -1;
	s->best_epoch = atoi(v);
	if (meta_get(m, "ckpt.since_best", &v)) return -1;
	s->since_best = atoi(v);
	if (meta_get(m, "ckpt.done", &v)) return -1;
	s->done = atoi(v);
	if (meta_get(m, "ckpt.elapsed", &v)) return -1;
	r->elapsed_before = strtod(v, NULL);
	if (meta_get(m, "rng.state", &v)) return -1;
	uint64_t *rs = cxr_resnet_rng(r->net)->s;
	if (strlen(v) != 64) {
		cxr_seterr("%s: bad rng.state", cxr_model_path(m));
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		char word[17];
		memcpy(word, v + 16 * i, 16);
		word[16] = 0;
		rs[i] = strtoull(word, NULL, 16);
	}
	const char *digest = cxr_model_get_meta(m, "data_digest");
	if (digest && strcmp(digest, r->data_digest) && !r->rank)
		cxr_warn("%s: the training data differ from the checkpoint's (digest %.12s, now %.12s)",
			 r->c->train_path, digest, r->data_digest);
	return 0;
}

/* ---- validation ---- */

typedef struct val_result {
	double loss, auc, error;
	long n;
} val_result;

/* The logits and labels of a whole validation batch in order, in *z and
 * *y: one forward, or one per part (the network takes batch / P), the
 * ranks' parts gathered. NULL on an error. */
static int val_batch(run *r, const cxr_batch *b, const float **z, const float **y)
{
	if (r->parts == 1) {
		*y = b->y;
		return (*z = cxr_resnet_forward(r->net, b->x, b->n, 0)) ? 0 : -1;
	}
	const int n = b->total, P = r->parts, K = r->accum;
	const size_t hw = (size_t)r->h * r->w;
	float *mine = r->vz; /* this rank's logits, then its labels */
	for (int k = 0; k < K; k++) {
		int p = r->rank * K + k;
		int s0 = (int)((long)p * n / P), s1 = (int)((long)(p + 1) * n / P);
		if (s1 == s0)
			continue;
		const float *zz = cxr_resnet_forward(r->net, b->x + (size_t)(s0 - b->first) * hw,
						     s1 - s0, 0);
		if (!zz)
			return -1;
		memcpy(mine + (s0 - b->first), zz, (size_t)(s1 - s0) * sizeof *zz);
	}
	memcpy(mine + b->n, b->y, (size_t)b->n * sizeof *b->y);
	if (r->nranks == 1) {
		*z = mine;
		*y = mine + n;
		return 0;
	}
	int counts[r->nranks];
	for (int q = 0; q < r->nranks; q++)
		counts[q] = 2 * (int)(((long)(q + 1) * n / r->nranks) - ((long)q * n / r->nranks));
	dist_allgatherv_f32(mine, r->vz_all, counts);
	/* rank by rank (logits, labels) -> the batch's logits, then labels */
	float *zz = r->vz, *yy = r->vz + n;
	const float *src = r->vz_all;
	for (int q = 0, at = 0; q < r->nranks; q++) {
		int m = counts[q] / 2;
		memcpy(zz + at, src, (size_t)m * sizeof *zz);
		memcpy(yy + at, src + m, (size_t)m * sizeof *yy);
		src += 2 * m;
		at += m;
	}
	*z = zz;
	*y = yy;
	return 0;
}

static int validate(run *r, val_result *out)
{
	const cxr_batch *b;
	long n = 0;
	double loss = 0;
	cxr_loader_start(r->val, 0, 0);
	int got;
	while ((got = cxr_loader_next(r->val, &b)) == 1) {
		const float *z, *yv;
		if (val_batch(r, b, &z, &yv))
			return -1;
		for (int i = 0; i < b->total; i++, n++) {
			double zi = z[i], y = yv[i];
			/* log(1 + e^-|z|) + max(z, 0) - z y: stable BCE */
			loss += log1p(exp(-fabs(zi))) + (zi > 0 ? zi : 0) - zi * y;
			r->val_score[n] = 1 / (1 + exp(-zi));
			r->val_label[n] = (int)y;
		}
		if (stopping(r))
			return 0;
	}
	if (got < 0)
		return -1;
	cxr_auc a;
	out->n = n;
	out->loss = loss / n;
	out->auc = cxr_auc_delong(r->val_score, r->val_label, (size_t)n, &a) ? NAN : a.auc;
	cxr_confusion cm;
	cxr_confusion_at(r->val_score, r->val_label, (size_t)n, 0.5, &cm);
	out->error = (double)(cm.fp + cm.fn) / n;
	return 0;
}

/* The decision threshold on the validation scores of the current model:
 * Youden's J (or a fixed sensitivity). Picking it on the test set would
 * overstate performance (man/cxr-train.1). */
static double pick_threshold(run *r, long n)
{
	cxr_roc roc;
	if (cxr_roc_build(&roc, r->val_score, r->val_label, (size_t)n))
		return 0.5;
	double t = r->c->threshold_sens_pct
			   ? cxr_threshold_sensitivity(&roc, r->c->threshold_sens_pct / 100.0)
			   : cxr_threshold_youden(&roc);
	cxr_roc_free(&roc);
	return isfinite(t) ? t : 0.5;
}

static int save_best(run *r, const val_result *vr)
{
	if (r->rank)
		return 0;
	cxr_model *m = snapshot(r);
	if (!m)
		return -1;
	double t = pick_threshold(r, vr->n);
	meta_num(m, "threshold", t);
	cxr_model_set_meta(m, "threshold_rule", r->c->threshold_sens_pct ? "sensitivity" : "youden");
	meta_long(m, "epochs", r->st.epoch + 1);
	meta_num(m, "val_auc", vr->auc);
	meta_num(m, "val_loss", vr->loss);
	int rc = cxr_model_save(m, r->best_path);
	cxr_model_free(m);
	return rc;
}

/* ---- the loop ---- */

/* The learning rate of optimizer step `step` (0-based; nb batches an
 * epoch). */
static double lr_at(run *r, long nb, long step)
{
	const cxr_train_cfg *c = r->c;
	switch (c->schedule) {
	case CXR_SCHED_COSINE:
		return cxr_lr_cosine(c->lr, c->min_lr, step, (long)c->epochs * nb,
				     (long)c->warmup_epochs * nb);
	case CXR_SCHED_PLATEAU:
		return r->st.lr;
	default:
		return c->lr;
	}
}

static int grads_finite(run *r)
{
	const float *g = cxr_resnet_grads(r->net);
	const long long n = (long long)r->np;
	float acc = 0;
	/* NaN or Inf anywhere makes acc NaN, in any order of the sums: on
	 * every thread, vectorised (one thread's chain of dependent adds took
	 * 23 ms a step at width 1) */
#pragma omp parallel for simd reduction(+ : acc) schedule(static) if (n > 65536)
	for (long long i = 0; i < n; i++)
		acc += g[i] * 0.0f;
	return acc == 0;
}

/* The end of the message when training blows up, in r's own buffer. */
static const char *last_good(run *r)
{
	if (!r->ckpt_written)
		snprintf(r->msg, sizeof r->msg, "no checkpoint was written yet");
	else
		snprintf(r->msg, sizeof r->msg, "the last good checkpoint %s is left as it was",
			 r->ckpt_path);
	return r->msg;
}

/* The sum of the per-sample binary cross-entropies of logits z (n)
 * against y, bce_logits's formula (activation.c) term by term, and the
 * logits' gradient divided by the whole batch's size total, so that the
 * parts' gradients add up to the batch's (with total == n, the bits of
 * cxr_resnet_loss). */
static double part_loss(float *dz, const float *z, const float *y, int n, int total)
{
	double loss = 0;
	for (int i = 0; i < n; i++) {
		double zi = z[i], t = y[i];
		loss += (zi > 0 ? zi : 0) - zi * t + log1p(exp(-fabs(zi)));
		double sg = zi >= 0 ? 1 / (1 + exp(-zi)) : exp(zi) / (1 + exp(zi));
		dz[i] = (float)((sg - t) / total);
	}
	return loss;
}

/* One step's forward and backward over this rank's parts of batch b: the
 * batch's gradient in the network's grads on every rank, the sum of its
 * samples' losses in *loss, the running statistics updated part by part
 * (see the top). -1 on an error. */
static int step_parts(run *r, const cxr_batch *b, double *loss)
{
	cxr_resnet *net = r->net;
	const int n = b->total, P = r->parts, K = r->accum;
	const size_t hw = (size_t)r->h * r->w, np = r->np, sb = r->nbuf + 1;
	const cxr_resnet_config *nc = cxr_resnet_get_config(net);
	const int hid = nc->head_hidden;
	float *g = cxr_resnet_grads(net);
	if (P > 1) /* the rows a forward of the whole batch would draw */
		dropout_mask(r->mask, (size_t)n * hid, (float)nc->dropout, cxr_resnet_rng(net));
	double sum = 0;
	for (int k = 0; k < K; k++) {
		int p = r->rank * K + k;
		int s0 = (int)((long)p * n / P), s1 = (int)((long)(p + 1) * n / P), m = s1 - s0;
		cxr_resnet_zero_grads(net);
		if (m > 0) {
			if (P > 1 && cxr_resnet_set_dropout_mask(net, r->mask + (size_t)s0 * hid, m))
				return -1;
			const float *z = cxr_resnet_forward(net, b->x + (size_t)(s0 - b->first) * hw, m, 1);
			if (!z)
				return -1;
			sum += part_loss(cxr_resnet_dlogits(net), z, b->y + (s0 - b->first), m, n);
			if (cxr_resnet_backward(net))
				return -1;
		}
		if (r->nranks > 1) {
			double *st = r->stats + (size_t)k * sb;
			if (m > 0)
				memcpy(st, cxr_resnet_bn_batch_stats(net), r->nbuf * sizeof *st);
			st[r->nbuf] = m;
		}
		/* acc = g0, acc += g1, ...; the last one's grads += acc */
		if (K > 1 && k == 0)
			memcpy(r->acc, g, np * sizeof *g);
		else if (K > 1 && k < K - 1)
			for (size_t i = 0; i < np; i++)
				r->acc[i] += g[i];
		else if (K > 1)
			for (size_t i = 0; i < np; i++)
				g[i] += r->acc[i];
	}
	if (r->nranks > 1) {
		dist_sum_f32(g, np);
		dist_sum_f64(&sum, 1);
		dist_allgather(r->stats, r->stats_all, (size_t)K * sb * sizeof *r->stats);
		for (int q = 0; q < P; q++)
			if (r->stats_all[(size_t)q * sb + r->nbuf] > 0)
				cxr_resnet_bn_apply(net, r->stats_all + (size_t)q * sb);
	}
	*loss = sum;
	return 0;
}

static int train_epoch(run *r, cxr_adam_cfg *adam, cxr_progress *prog)
{
	const cxr_train_cfg *c = r->c;
	state *s = &r->st;
	long nb = cxr_loader_batches(r->train);
	const cxr_batch *b;
	/* A resumed epoch's rate counts only the images trained since. */
	r->seen_base = s->seen;
	cxr_loader_start(r->train, s->epoch, s->batch);
	while (s->batch < nb) {
		int got = cxr_loader_next(r->train, &b);
		if (got < 0)
			return -1;
		adam->lr = lr_at(r, nb, s->step);
		double lsum;
		if (step_parts(r, b, &lsum))
			return -1;
		float loss = (float)(lsum / b->total);
		if (!isfinite(loss) || !grads_finite(r)) {
			cxr_seterr("%s: epoch %d, step %ld: %s is not finite (learning rate %g too "
				   "high?); %s",
				   c->train_path, s->epoch + 1, s->batch + 1,
				   isfinite(loss) ? "a gradient" : "the loss", adam->lr,
				   last_good(r));
			return -1;
		}
		s->step++;
		cxr_adam_step(cxr_resnet_params(r->net), cxr_resnet_grads(r->net), r->m, r->v,
			      r->np, adam, s->step);
		cxr_resnet_params_changed(r->net);
		if (r->step_log.f) {
			char line[128];
			int n = snprintf(line, sizeof line, "%ld\t%d\t%.9g\t%.9g\n", s->step,
					 s->epoch + 1, (double)loss, adam->lr);
			tlog_put(&r->step_log, line, (size_t)n);
		}
		s->loss_sum += (double)loss * b->total;
		s->seen += b->total;
		s->batch++;
		cxr_progress_update(prog, (long)s->epoch * nb + s->batch - r->prog_base);
		if (stopping(r))
			return 0;
		if (c->max_steps && s->step >= c->max_steps)
			return 0;
	}
	return 0;
}

static int end_epoch(run *r, double epoch_t0)
{
	const cxr_train_cfg *c = r->c;
	state *s = &r->st;
	val_result vr = {NAN, NAN, NAN, 0};
	if (r->val) {
		if (validate(r, &vr))
			return -1;
		if (stopping(r))
			return 0;
	}
	/* The images trained in this process over its time on the epoch
	 * (not those before a resume); none (resumed after the epoch's last
	 * step): nan. */
	double dt = cxr_now() - epoch_t0;
	long trained = s->seen - r->seen_base;
	double rate = trained > 0 && dt > 0 ? trained / dt : NAN;
	/* The rate the epoch's last step used. */
	double lr_used = lr_at(r, cxr_loader_batches(r->train), s->step > 0 ? s->step - 1 : 0);
	logf_(r, "%d\t%ld\t%.10g\t%.10g\t%.10g\t%.10g\t%.6g\t%.3f\t%.1f\n", s->epoch + 1, s->step,
	      s->seen ? s->loss_sum / s->seen : NAN, vr.loss, vr.auc, vr.error, lr_used,
	      rate, r->elapsed_before + cxr_now() - r->t0);
	if (r->nranks > 1) {
		/* The gradient sums' share of the epoch (rank 0's wait
		 * included: it is what the step costs). */
		long steps = s->step - r->sum_steps;
		double t = dist_sum_seconds() - r->sum_t, tw = dist_wait_seconds() - r->wait_t;
		logf_(r, "# epoch %d: %d ranks, gradient allreduce %.1f ms a step (%ld steps), "
			 "%.1f%% of the epoch's %.1f s; waiting for the slowest rank before it "
			 "%.1f ms a step\n", s->epoch + 1, r->nranks,
		      steps > 0 ? 1e3 * t / steps : 0.0, steps, dt > 0 ? 100 * t / dt : 0.0, dt,
		      steps > 0 ? 1e3 * tw / steps : 0.0);
		r->sum_steps = s->step;
		r->sum_t = dist_sum_seconds();
		r->wait_t = dist_wait_seconds();
	}
	if (r->val && !isfinite(vr.loss)) {
		cxr_seterr("%s: epoch %d: the validation loss is not finite (learning rate %g "
			   "too high?); %s", c->val_path, s->epoch + 1, lr_used, last_good(r));
		return -1;
	}
	if (r->val) {
		/* An epoch without an AUC (one class only in the validation
		 * set) is never the best. */
		if (!isnan(vr.auc) && (isnan(s->best_auc) || vr.auc > s->best_auc)) {
			s->best_auc = vr.auc;
			s->best_epoch = s->epoch + 1;
			s->since_best = 0;
			if (save_best(r, &vr))
				return -1;
		} else {
			s->since_best++;
		}
		if (c->schedule == CXR_SCHED_PLATEAU)
			s->lr = cxr_plateau_step(&s->plateau, vr.auc);
		if (c->early_stop && s->since_best >= c->early_stop) {
			logf_(r, "# early stop: no better validation AUC for %d epochs (best %.6f at epoch %d)\n",
			      s->since_best, s->best_auc, s->best_epoch);
			s->done = 1;
		}
	}
	s->epoch++;
	s->batch = 0;
	s->loss_sum = 0;
	s->seen = 0;
	return save_checkpoint(r);
}

/* The final model: the best epoch's (with its threshold), or the last. */
static int write_final(run *r)
{
	if (r->rank)
		return 0;
	if (r->val && r->st.best_epoch) {
		cxr_model *m = cxr_model_load(r->best_path);
		if (!m)
			return -1;
		int rc = cxr_model_save(m, r->c->out_path);
		cxr_model_free(m);
		return rc;
	}
	cxr_model *m = snapshot(r);
	if (!m)
		return -1;
	meta_num(m, "threshold", 0.5);
	cxr_model_set_meta(m, "threshold_rule", "default");
	meta_long(m, "epochs", r->st.epoch);
	int rc = cxr_model_save(m, r->c->out_path);
	cxr_model_free(m);
	return rc;
}

static void print_config(run *r, int h, int w)
{
	const cxr_train_cfg *c = r->c;
	logf_(r, "# cxr-train %s: train %s (%ld images, %dx%d), val %s (%ld images)\n",
	      CXR_VERSION, c->train_path, cxr_loader_count(r->train), h, w,
	      c->val_path ? c->val_path : "-", r->val ? cxr_loader_count(r->val) : 0L);
	const cxr_resnet_config *nc = cxr_resnet_get_config(r->net);
	logf_(r, "# width %g, %zu parameters, %.3g GFLOP per image (forward+backward), %s\n",
	      nc->width_mult, r->np, cxr_resnet_flops(r->net, 1) * 1e-9,
	      nc->arch == CXR_ARCH_KERAS ? "keras-resnet50" : "torchvision-resnet50");
	logf_(r, "# epochs %d, batch %d, %s lr %g (min %g), betas %g %g, eps %g, weight decay %g, "
		 "schedule %s, warmup %d, early stop %d, augment %d, init %s, seed %llu, threads %d, "
		 "precision %s\n",
	      c->epochs, c->batch, c->decoupled ? "AdamW" : "Adam", c->lr, c->min_lr, c->beta1,
	      c->beta2, c->eps, c->weight_decay, cxr_schedule_name(c->schedule), c->warmup_epochs,
	      c->early_stop, c->augment, cxr_init_name(c->init), (unsigned long long)c->seed,
	      c->threads, cxr_precision_name(c->precision));
	logf_(r, "epoch\tsteps\ttrain_loss\tval_loss\tval_auc\tval_error\tlr\timages_per_s\telapsed\n");
}

/* A resumed run takes its hyper-parameters from the checkpoint, so it
 * cannot drift from the run it continues; only --epochs (when given: 0
 * means the checkpoint's), --val, -j, -q, --log and --max-steps come from
 * the command line. */
static int config_from_checkpoint(cxr_train_cfg *c, const cxr_model *m)
{
	const char *v;
#define GET(key) if (meta_get(m, key, &v)) return -1;
	if (!c->epochs) {
		GET("train.epochs") c->epochs = atoi(v);
	}
	if ((v = cxr_model_get_meta(m, "train.threshold_sens")))
		c->threshold_sens_pct = atoi(v);
	/* Without the same validation set the run would pick another best
	 * model and threshold than the one it continues. */
	if ((v = cxr_model_get_meta(m, "train.val")) && atoi(v) != (c->val_path != NULL)) {
		cxr_seterr("%s: the run was %s --val; resume it %s", cxr_model_path(m),
			   atoi(v) ? "made with" : "made without",
			   atoi(v) ? "with --val and the same validation pack" : "without --val");
		return -1;
	}
	GET("train.batch") c->batch = atoi(v);
	GET("train.lr") c->lr = strtod(v, NULL);
	GET("train.min_lr") c->min_lr = strtod(v, NULL);
	GET("train.beta1") c->beta1 = strtod(v, NULL);
	GET("train.beta2") c->beta2 = strtod(v, NULL);
	GET("train.eps") c->eps = strtod(v, NULL);
	GET("train.weight_decay") c->weight_decay = strtod(v, NULL);
	GET("train.optimizer") c->decoupled = !strcmp(v, "adamw");
	GET("train.schedule") {
		int k = cxr_schedule_parse(v);
		if (k >= 0)
			c->schedule = k;
	}
	GET("train.warmup_epochs") c->warmup_epochs = atoi(v);
	GET("train.early_stop") c->early_stop = atoi(v);
	GET("train.augment") c->augment = atoi(v);
	GET("seed") c->seed = strtoull(v, NULL, 10);
#undef GET
	/* Only provenance once training has begun, but the model says it;
	 * a checkpoint written before --init existed began as torchvision. */
	c->init = CXR_INIT_TORCHVISION;
	if ((v = cxr_model_get_meta(m, "train.init")) && (c->init = cxr_init_parse(v)) < 0) {
		cxr_seterr("%s: metadata train.init = '%s' is not torchvision, keras or torch",
			   cxr_model_path(m), v);
		return -1;
	}
	/* Resume is bit-identical within one precision: keep the run's. */
	c->precision = CXR_PREC_FP32;
	if ((v = cxr_model_get_meta(m, "train.precision")) &&
	    (c->precision = cxr_precision_parse(v)) < 0) {
		cxr_seterr("%s: metadata train.precision = '%s' is not fp32 or bf16",
			   cxr_model_path(m), v);
		return -1;
	}
	return 0;
}

/* Keeps record k's image name and patient id, where it has them. */
static void keep_names(const cxr_record *rec, char **im, char **pa, uint64_t k)
{
	const cxr_sample *m = &rec->meta;
	if (m->image && *m->image && strcmp(m->image, "-"))
		im[k] = cxr_xstrdup(m->image);
	if (m->patient && *m->patient && strcmp(m->patient, "-"))
		pa[k] = cxr_xstrdup(m->patient);
}

/* The image names and patient ids of every record of a pack (NULL where
 * a record has none), read through its index on the threads of -j. */
static int pack_names(cxr_pack *p, char ***image, char ***patient, uint64_t *count)
{
	uint64_t n = cxr_pack_count(p);
	char **im = cxr_xcalloc(n ? n : 1, sizeof *im), **pa = cxr_xcalloc(n ? n : 1, sizeof *pa);
	unsigned char *bad = cxr_xcalloc(n ? n : 1, 1);
	*image = im;
	*patient = pa;
	*count = n;
#pragma omp parallel
	{
		cxr_record rec;
		cxr_record_init(&rec);
#pragma omp for schedule(dynamic, 64)
		for (uint64_t k = 0; k < n; k++) {
			if (cxr_stop_signal)
				continue;
			if (cxr_pack_get(p, k, &rec))
				bad[k] = 1;
			else
				keep_names(&rec, im, pa, k);
		}
		cxr_record_free(&rec);
	}
	int rc = 0;
	for (uint64_t k = 0; k < n && !rc; k++)
		if (bad[k]) { /* again here, for the message (errors are per thread) */
			cxr_record rec;
			cxr_record_init(&rec);
			if (cxr_pack_get(p, k, &rec))
				rc = -1;
			else
				keep_names(&rec, im, pa, k);
			cxr_record_free(&rec);
		}
	free(bad);
	return rc;
}

static void free_names(char **v, uint64_t n)
{
	for (uint64_t k = 0; v && k < n; k++)
		free(v[k]);
	free(v);
}

/* Refuses a validation pack that shares images or patients with the
 * training pack: the best epoch and the decision threshold would be
 * picked on data the network was trained on (and a patient's other images
 * look alike), overstating both. Reads every record's names through the
 * packs' indexes. Stopped by a signal, it returns 0 unfinished (the
 * caller sees cxr_stop_signal). */
static int check_disjoint(run *r)
{
	const cxr_train_cfg *c = r->c;
	char **ti = NULL, **tp = NULL, **vi = NULL, **vp = NULL;
	uint64_t nt = 0, nv = 0;
	int rc = -1;
	if (pack_names(r->train_pack, &ti, &tp, &nt) || pack_names(r->val_pack, &vi, &vp, &nv))
		goto out;
	rc = 0;
	if (cxr_stop_signal)
		goto out;
	cxr_strset img = {0}, pat = {0};
	for (uint64_t k = 0; k < nt; k++) {
		if (ti[k])
			cxr_strset_add(&img, ti[k], NULL);
		if (tp[k])
			cxr_strset_add(&pat, tp[k], NULL);
	}
	size_t ni = img.n, np = pat.n;
	unsigned char *hit_i = cxr_xcalloc(ni ? ni : 1, 1), *hit_p = cxr_xcalloc(np ? np : 1, 1);
	long shared_i = 0, shared_p = 0;
	for (uint64_t k = 0; k < nv; k++) {
		size_t id;
		if (vi[k] && (id = cxr_strset_add(&img, vi[k], NULL)) < ni && !hit_i[id]) {
			hit_i[id] = 1;
			shared_i++;
		}
		if (vp[k] && (id = cxr_strset_add(&pat, vp[k], NULL)) < np && !hit_p[id]) {
			hit_p[id] = 1;
			shared_p++;
		}
	}
	if (shared_i || shared_p) {
		cxr_seterr("the validation pack %s and the training pack %s share %ld image%s and "
			   "%ld patient%s: the best epoch and the "
			   "decision threshold would be picked on training data; validate on "
			   "other patients (cxr-split splits by patient)",
			   c->val_path, c->train_path, shared_i, shared_i == 1 ? "" : "s", shared_p,
			   shared_p == 1 ? "" : "s");
		rc = -1;
	}
	free(hit_i);
	free(hit_p);
	cxr_strset_free(&img);
	cxr_strset_free(&pat);
out:
	free_names(ti, nt);
	free_names(tp, nt);
	free_names(vi, nv);
	free_names(vp, nv);
	return rc;
}

/* Whether name is base + "." + six letters or digits: a temporary name
 * of base as cxr_atomic_open makes it (mkstemp's XXXXXX). */
static int is_temp_of(const char *name, const char *base)
{
	size_t n = strlen(base);
	if (strncmp(name, base, n) || name[n] != '.' || strlen(name + n + 1) != 6)
		return 0;
	for (const char *p = name + n + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return 0;
	return 1;
}

/* Removes the temporaries that a run killed during an atomic write
 * (SIGKILL, a crash, a power cut) left beside MODEL, MODEL.ckpt and
 * MODEL.best: regular files named MODEL.XXXXXX, MODEL.ckpt.XXXXXX and
 * MODEL.best.XXXXXX. Nothing of this run is being written yet. */
static int remove_stale_temps(run *r)
{
	const char *out = r->c->out_path;
	const char *slash = strrchr(out, '/');
	char *dir = slash ? cxr_xstrdup(out) : cxr_xstrdup(".");
	if (slash)
		dir[slash == out ? 1 : slash - out] = 0;
	const char *base = slash ? slash + 1 : out;
	char *bases[3] = {cxr_xstrdup(base), with_suffix(base, ".ckpt"), with_suffix(base, ".best")};
	int rc = 0;
	DIR *d = opendir(dir);
	if (!d) {
		cxr_seterr("%s: %s", dir, strerror(errno));
		rc = -1;
	}
	struct dirent *e;
	while (d && (e = readdir(d))) {
		int match = 0;
		for (int i = 0; i < 3; i++)
			match |= is_temp_of(e->d_name, bases[i]);
		if (!match)
			continue;
		size_t n = strlen(dir) + strlen(e->d_name) + 2;
		char *path = cxr_xmalloc(n);
		snprintf(path, n, "%s%s%s", slash ? dir : "", slash && slash != out ? "/" : "",
			 e->d_name);
		struct stat st;
		if (!lstat(path, &st) && S_ISREG(st.st_mode)) {
			if (unlink(path) && errno != ENOENT) {
				cxr_seterr("%s: cannot remove this stale temporary file: %s", path,
					   strerror(errno));
				rc = -1;
			} else if (!r->c->quiet) {
				cxr_warn("removed %s, a temporary file an interrupted run left", path);
			}
		}
		free(path);
	}
	if (d)
		closedir(d);
	for (int i = 0; i < 3; i++)
		free(bases[i]);
	free(dir);
	return rc;
}

/* A fresh run into MODEL replaces the earlier run's whole set, so that
 * MODEL, MODEL.best, MODEL.ckpt and MODEL.log never mix two runs: once the
 * inputs have been accepted, it removes them (and says so unless quiet). */
static int remove_previous_run(run *r)
{
	const char *out = r->c->out_path;
	char *mlog = with_suffix(out, ".log");
	const char *files[4] = {out, r->best_path, r->ckpt_path, mlog};
	char said[4096] = "";
	int rc = 0;
	for (int i = 0; i < 4 && !rc; i++) {
		struct stat st;
		if (lstat(files[i], &st) || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
			continue; /* none, or no file of a run's (a device, a FIFO) */
		if (unlink(files[i]) && errno != ENOENT) {
			cxr_seterr("%s: cannot remove the previous run's file (a fresh run replaces "
				   "them all; --resume continues one): %s", files[i], strerror(errno));
			rc = -1;
		} else {
			size_t n = strlen(said);
			snprintf(said + n, sizeof said - n, "%s%s", n ? ", " : "", files[i]);
		}
	}
	if (!rc && *said && !r->c->quiet)
		cxr_warn("removed the previous run's %s (a fresh run replaces them all; "
			 "--resume continues one)", said);
	free(mlog);
	return rc;
}

/* Opens the inputs, checks them, builds or restores the network, then
 * (nothing was written before) cleans up after earlier runs and opens the
 * logs. 0, -1 with cxr_errmsg() set, or 1 when a signal came while it
 * read the inputs (nothing written, nothing removed). */
static int setup(run *r, cxr_model **ck)
{
	const cxr_train_cfg *c = r->c;
	r->ckpt_path = with_suffix(c->out_path, ".ckpt");
	r->best_path = with_suffix(c->out_path, ".best");
	r->log_path = c->log_path ? cxr_xstrdup(c->log_path) : with_suffix(c->out_path, ".log");
	/* Rank 0 reads what only it needs (the digest, the leakage check)
	 * and writes; every rank reads its slices of the packs. */
	if (!r->rank && file_digest(c->train_path, r->data_digest))
		return -1;
	dist_bcast(r->data_digest, sizeof r->data_digest);
	if (stopping(r))
		return 1;
	if (!(r->train_pack = cxr_pack_open(c->train_path)))
		return -1;
	cxr_loader_cfg lc = {c->batch, c->seed, 1, c->augment, 1};
	if (!(r->train = cxr_loader_open(r->train_pack, c->train_path, &lc)))
		return -1;
	cxr_loader_set_slice(r->train, r->rank, r->nranks);
	int h = cxr_loader_height(r->train), w = cxr_loader_width(r->train);
	if (c->val_path) {
		if (!(r->val_pack = cxr_pack_open(c->val_path)))
			return -1;
		cxr_loader_cfg vc = {c->batch, 0, 0, 0, 1};
		if (!(r->val = cxr_loader_open(r->val_pack, c->val_path, &vc)))
			return -1;
		cxr_loader_set_slice(r->val, r->rank, r->nranks);
		if (cxr_loader_height(r->val) != h || cxr_loader_width(r->val) != w) {
			cxr_seterr("%s: images are %dx%d, the training images %dx%d", c->val_path,
				   cxr_loader_height(r->val), cxr_loader_width(r->val), h, w);
			return -1;
		}
		long nv = cxr_loader_count(r->val);
		r->val_score = cxr_xmalloc((size_t)nv * sizeof *r->val_score);
		r->val_label = cxr_xmalloc((size_t)nv * sizeof *r->val_label);
	}
	cxr_resnet_set_threads(c->threads);
	if (!r->rank && r->val && check_disjoint(r))
		return -1;
	if (stopping(r)) /* nothing written yet: the earlier run's files stay */
		return 1;
	if (c->resume_path) {
		r->net = cxr_resnet_from_model(*ck, r->micro);
	} else {
		cxr_resnet_config rc;
		cxr_resnet_default_config(&rc);
		rc.arch = c->arch;
		rc.width_mult = c->width_mult;
		rc.height = h;
		rc.width = w;
		r->net = cxr_resnet_create(&rc, r->micro);
		if (r->net)
			cxr_resnet_init_scheme(r->net, c->init, c->seed);
	}
	if (!r->net || cxr_resnet_set_precision(r->net, c->precision))
		return -1;
	const cxr_resnet_config *nc = cxr_resnet_get_config(r->net);
	if (nc->height != h || nc->width != w) {
		cxr_seterr("%s: images are %dx%d, the checkpoint's network takes %dx%d",
			   c->train_path, h, w, nc->height, nc->width);
		return -1;
	}
	r->np = cxr_resnet_num_params(r->net);
	r->m = cxr_xcalloc(r->np, sizeof(float));
	r->v = cxr_xcalloc(r->np, sizeof(float));
	r->h = h, r->w = w;
	r->nbuf = cxr_resnet_num_buffers(r->net);
	if (r->accum > 1)
		r->acc = cxr_xmalloc(r->np * sizeof *r->acc);
	if (r->parts > 1) {
		r->mask = cxr_xmalloc((size_t)c->batch * nc->head_hidden * sizeof *r->mask);
		r->vz = cxr_xmalloc(2 * (size_t)c->batch * sizeof *r->vz);
	}
	if (r->nranks > 1) {
		/* running statistics from the gathered parts' (step_parts) */
		cxr_resnet_set_bn_update(r->net, 0);
		r->stats = cxr_xcalloc((size_t)r->accum * (r->nbuf + 1), sizeof *r->stats);
		r->stats_all = cxr_xcalloc((size_t)r->parts * (r->nbuf + 1), sizeof *r->stats_all);
		r->vz_all = cxr_xmalloc(2 * (size_t)c->batch * sizeof *r->vz_all);
	}
	r->st.best_auc = NAN;
	r->st.lr = c->lr;
	cxr_plateau_init(&r->st.plateau, c->lr, 1);
	r->st.plateau.patience = c->plateau_patience;
	r->st.plateau.factor = c->plateau_factor;
	r->st.plateau.min_lr = c->min_lr;
	if (*ck && restore_checkpoint(r, *ck))
		return -1;
	/* Rank 0's weights and statistics, so that every rank starts from
	 * the same bits (each made or read the same ones: this is the
	 * guarantee, and costs one copy). */
	dist_bcast(cxr_resnet_params(r->net), r->np * sizeof(float));
	dist_bcast(cxr_resnet_buffers(r->net), r->nbuf * sizeof(float));
	cxr_resnet_params_changed(r->net);
	r->ckpt_written = *ck != NULL;
	if (r->rank) /* rank 0 writes the files */
		return 0;
	if (remove_stale_temps(r) || (!*ck && remove_previous_run(r)))
		return -1;
	if (tlog_open(&r->log, r->log_path, "ckpt.log", *ck, c->quiet))
		return -1;
	if (c->step_log_path) {
		if (tlog_open(&r->step_log, c->step_log_path, "ckpt.step_log", *ck, c->quiet))
			return -1;
		if (!*ck) {
			static const char hdr[] = "step\tepoch\tloss\tlr\n";
			tlog_put(&r->step_log, hdr, sizeof hdr - 1);
		}
	}
	if (c->resume_path)
		logf_(r, "# resumed from %s at epoch %d, batch %ld\n", c->resume_path,
		      r->st.epoch + 1, r->st.batch);
	else
		print_config(r, h, w);
	return 0;
}

static void teardown(run *r)
{
	cxr_loader_close(r->train);
	cxr_loader_close(r->val);
	cxr_pack_close(r->train_pack);
	cxr_pack_close(r->val_pack);
	cxr_resnet_free(r->net);
	tlog_close(&r->log);
	tlog_close(&r->step_log);
	free(r->m);
	free(r->v);
	free(r->val_score);
	free(r->val_label);
	free(r->acc);
	free(r->mask);
	free(r->stats);
	free(r->stats_all);
	free(r->vz);
	free(r->vz_all);
	free(r->ckpt_path);
	free(r->best_path);
	free(r->log_path);
}

/* The run's shape: K (--accum; resumed without it, the checkpoint's
 * parts per batch shared by the ranks now, where they divide, so that
 * the batch-norm statistics stay those of parts of the same size) and
 * the parts, which must divide the batch. */
static int shape(run *r, const cxr_model *ck)
{
	const cxr_train_cfg *c = r->c;
	int k = c->accum;
	if (!k && ck) {
		const char *a = cxr_model_get_meta(ck, "train.accum");
		const char *n = cxr_model_get_meta(ck, "train.ranks");
		long parts = (a ? atol(a) : 1) * (n ? atol(n) : 1);
		k = parts > 0 && parts % r->nranks == 0 ? (int)(parts / r->nranks) : 1;
		if (parts > 0 && parts % r->nranks && !r->rank && !c->quiet)
			cxr_warn("%s: the run cut each batch into %ld parts, which %d ranks cannot share; "
				 "going on with --accum 1 (batch-norm statistics of other parts: the "
				 "result differs more than by rounding)", cxr_model_path(ck), parts,
				 r->nranks);
	}
	r->accum = k > 0 ? k : 1;
	r->parts = r->accum * r->nranks;
	if (c->batch % r->parts) {
		cxr_seterr("batch %d does not divide into %d parts (%d rank%s x --accum %d): give a "
			   "batch that is a multiple of %d", c->batch, r->parts, r->nranks,
			   r->nranks == 1 ? "" : "s", r->accum, r->parts);
		return -1;
	}
	r->micro = c->batch / r->parts;
	return 0;
}

int cxr_train_run(const cxr_train_cfg *c, cxr_train_end *end)
{
	run r = {0};
	cxr_train_cfg cc = *c;
	cxr_model *ck = NULL;
	r.c = &cc;
	r.t0 = cxr_now();
	memset(end, 0, sizeof *end);
	int rc = -1, ready;
	if (c->resume_path &&
	    (!(ck = cxr_model_load(c->resume_path)) || config_from_checkpoint(&cc, ck)))
		goto out;
	c = &cc;
	r.rank = dist_rank();
	r.nranks = dist_size();
	if (shape(&r, ck))
		goto out;
	if ((ready = setup(&r, &ck)) < 0)
		goto out;
	if (ready > 0) { /* a signal before anything was written */
		rc = 0;
		goto out;
	}
	r.sum_steps = r.st.step;
	cxr_adam_cfg adam = {c->lr, c->beta1, c->beta2, c->eps, c->weight_decay, c->decoupled};
	long nb = cxr_loader_batches(r.train);
	cxr_progress prog;
	/* The bar counts this process's steps, so that a resumed run's rate
	 * and time left are its own. */
	r.prog_base = (long)r.st.epoch * nb + r.st.batch;
	cxr_progress_start(&prog, "steps", (long)c->epochs * nb - r.prog_base, c->quiet || r.rank);
	while (!r.st.done && r.st.epoch < c->epochs) {
		double t = cxr_now();
		/* A signal before the epoch's first step (during the setup's
		 * last part, or the last epoch's checkpoint) stops here. */
		if (!stopping(&r) && train_epoch(&r, &adam, &prog))
			goto out_prog;
		if (stopping(&r) || (c->max_steps && r.st.step >= c->max_steps &&
				     r.st.batch < nb)) {
			/* Stopped mid-epoch: keep the position for --resume. */
			cxr_progress_end(&prog);
			if (save_checkpoint(&r))
				goto out;
			end->checkpoint = 1;
			rc = 0;
			if (!r.stop) {
				rc = write_final(&r);
				end->model = !rc;
			}
			goto out;
		}
		cxr_progress_clear(&prog);
		if (end_epoch(&r, t))
			goto out_prog;
		if (stopping(&r)) {
			if (save_checkpoint(&r))
				goto out;
			end->checkpoint = 1;
			rc = 0;
			goto out;
		}
		if (c->max_steps && r.st.step >= c->max_steps)
			break;
	}
	cxr_progress_end(&prog);
	rc = write_final(&r);
	end->model = !rc;
	if (!rc && !c->quiet && !r.rank && r.val && r.st.best_epoch)
		cxr_warn("%s: best validation AUC %.4f at epoch %d", c->out_path, r.st.best_auc,
			 r.st.best_epoch);
	goto out;
out_prog:
	cxr_progress_end(&prog);
out:
	/* A fresh run that failed before its first checkpoint leaves nothing
	 * to resume: its log goes too (when a file of its own), so that a
	 * failed run leaves no part of a set (the message is on stderr). */
	if (rc < 0 && !r.ckpt_written && r.log.f) {
		struct stat st;
		if (!fstat(fileno(r.log.f), &st) && S_ISREG(st.st_mode))
			unlink(r.log_path);
	}
	/* However it ended, a signal that came is the caller's to end by
	 * (even one after the model was written, or with an error it
	 * caused: an open interrupted). */
	if (!rc && r.nranks > 1) {
		/* A signal up to here is every rank's; then all wait for rank 0
		 * to have written, so that none ends the job before. */
		stopping(&r);
		dist_barrier();
	}
	end->signal = (int)cxr_stop_signal;
	cxr_model_free(ck);
	teardown(&r);
	return rc;
}
