/* cxr-train — train the study's network on a pack, validating on another. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <getopt.h>
#include <sched.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/options.h"
#include "nn/init.h"
#include "nn/precision.h"
#include "nn/resnet.h"
#include "run/dist.h"
#include "run/train_driver.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cxr-train [-q] [-j N] [--val FILE] [--epochs N] [--batch N] [--lr X]\n"
		"                 [--arch A] [--width W] [--init S] [--seed S] [--resume CKPT]\n"
		"                 -o MODEL TRAIN\n"
		"\n"
		"  -o, --output MODEL     the model (also MODEL.ckpt, MODEL.best, MODEL.log)\n"
		"      --val FILE         validation pack: metrics each epoch, best model,\n"
		"                         decision threshold\n"
		"      --epochs N         epochs (default 10)\n"
		"      --batch N          batch size (default 32), all ranks' under mpirun\n"
		"      --accum K          cut each batch into K micro-batches run one after\n"
		"                         another (gradient accumulation; default 1)\n"
		"      --lr X             learning rate (default 0.001)\n"
		"      --min-lr X         floor of the schedule (default 0)\n"
		"      --beta1 X, --beta2 X, --eps X   Adam (0.9, 0.999, 1e-8)\n"
		"      --weight-decay X   (default 0.0001, decoupled as AdamW)\n"
		"      --adam             L2 weight decay added to the gradient (torch Adam)\n"
		"      --schedule S       cosine (default), plateau or constant\n"
		"      --warmup N         epochs of linear warmup (cosine; default 0)\n"
		"      --patience N       plateau: epochs without gain before lr x0.1 (2)\n"
		"      --early-stop N     stop after N epochs without a better val AUC (off)\n"
		"      --augment          small random shifts, scales and brightness\n"
		"      --threshold-sens P pick the threshold for sensitivity P%% (default:\n"
		"                         Youden's J on the validation set)\n"
		"      --arch A           torchvision-resnet50 (default) or keras-resnet50\n"
		"      --width W          width multiplier (default 1: ResNet-50)\n"
		"      --init S           initial weights: torch (default), torchvision or keras\n"
		"      --precision P      bf16 (default where the CPU has AVX512_BF16) or fp32\n"
		"      --seed S           seed for initialisation, order, dropout (default 1)\n"
		"      --resume CKPT      continue a run from its checkpoint\n"
		"      --max-steps N      stop (with a checkpoint) after N steps in all\n"
		"      --log FILE         metrics log (default MODEL.log)\n"
		"      --step-log FILE    the loss and learning rate of every step (TSV)\n"
		"  -j, --jobs N           threads (default: all cores; --threads is the same)\n"
		"  -q, --quiet            no progress, no metrics on stderr\n"
		"      --help, --version\n");
}

static const char *opt_name(const struct option *l, int val)
{
	for (; l->name; l++)
		if (l->val == val)
			return l->name;
	return "?";
}

/* Every way out after a SIGINT, SIGTERM or SIGHUP ends by that signal,
 * even a usage error or an exit from a helper that dies: a script
 * running cxr-train stops too (cxr-train(1), EXIT STATUS). */
static void end_by_signal(void)
{
	if (cxr_stop_signal)
		cxr_exit_signal();
}

/* Whether a word needs quoting for the shell. */
static int needs_quotes(const char *s)
{
	if (!*s)
		return 1;
	for (; *s; s++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			    "_@%+=:,./-", *s))
			return 1;
	return 0;
}

/* Appends the word s to the command line in buf, shell-quoted where it
 * needs it: in single quotes, a ' written as '\''. */
static void put_word(char **buf, size_t *len, const char *s)
{
	size_t need = *len + 4 * strlen(s) + 4;
	*buf = cxr_xrealloc(*buf, need);
	char *p = *buf + *len;
	*p++ = ' ';
	if (!needs_quotes(s)) {
		p = stpcpy(p, s);
	} else {
		*p++ = '\'';
		for (; *s; s++) {
			if (*s == '\'')
				p = stpcpy(p, "'\\''");
			else
				*p++ = *s;
		}
		*p++ = '\'';
	}
	*p = 0;
	*len = (size_t)(p - *buf);
}

/* "stopped by signal N", where the run can go on from, and the command
 * that resumes it, every path quoted for the shell: the checkpoint
 * (MODEL.ckpt, or ckpt when the run stopped before writing one), the
 * same -j (so that it ends with the same bits), --val, and the logs. */
static void print_resume(const cxr_train_cfg *c, int sig, const char *ckpt)
{
	char *mine = NULL;
	if (!ckpt) {
		size_t n = strlen(c->out_path) + 6;
		mine = cxr_xmalloc(n);
		snprintf(mine, n, "%s.ckpt", c->out_path);
	}
	char jobs[32];
	snprintf(jobs, sizeof jobs, "%d", c->threads);
	char head[64] = "  cxr-train";
	if (dist_size() > 1) /* the same ranks keep its bits; others go on too */
		snprintf(head, sizeof head, "  mpirun -np %d cxr-train", dist_size());
	char *cmd = cxr_xstrdup(head);
	size_t len = strlen(cmd);
	put_word(&cmd, &len, "-j");
	put_word(&cmd, &len, jobs);
	put_word(&cmd, &len, "--resume");
	put_word(&cmd, &len, ckpt ? ckpt : mine);
	put_word(&cmd, &len, "-o");
	put_word(&cmd, &len, c->out_path);
	if (c->val_path) {
		put_word(&cmd, &len, "--val");
		put_word(&cmd, &len, c->val_path);
	}
	if (c->log_path) {
		put_word(&cmd, &len, "--log");
		put_word(&cmd, &len, c->log_path);
	}
	if (c->step_log_path) {
		put_word(&cmd, &len, "--step-log");
		put_word(&cmd, &len, c->step_log_path);
	}
	put_word(&cmd, &len, c->train_path);
	if (ckpt)
		cxr_warn("stopped by signal %d before training went on; the checkpoint %s is "
			 "left as it was. Resume with:\n%s", sig, ckpt, cmd);
	else
		cxr_warn("stopped by signal %d; checkpoint written. Resume with:\n%s", sig, cmd);
	free(cmd);
	free(mine);
}

int main(int argc, char **argv)
{
	cxr_init(argc, argv, 1);
	atexit(end_by_signal);
	cxr_train_cfg c;
	cxr_train_defaults(&c);
	c.precision = cxr_precision_default(); /* bf16 where the CPU has it: cxr-train(1) */
	cxr_common_opts co = {.jobs = cxr_ncores()};
	enum { O_VAL = 256, O_EPOCHS, O_BATCH, O_LR, O_MINLR, O_B1, O_B2, O_EPS, O_WD, O_ADAM,
	       O_SCHED, O_WARM, O_PAT, O_EARLY, O_AUG, O_SENS, O_WIDTH, O_SEED, O_RESUME,
	       O_MAXSTEPS, O_LOG, O_STEPLOG, O_INIT, O_ARCH, O_ACCUM, O_PREC };
	static const struct option longs[] = {
		{"output", required_argument, 0, 'o'}, {"val", required_argument, 0, O_VAL},
		{"epochs", required_argument, 0, O_EPOCHS}, {"batch", required_argument, 0, O_BATCH},
		{"accum", required_argument, 0, O_ACCUM},
		{"lr", required_argument, 0, O_LR}, {"min-lr", required_argument, 0, O_MINLR},
		{"beta1", required_argument, 0, O_B1}, {"beta2", required_argument, 0, O_B2},
		{"eps", required_argument, 0, O_EPS}, {"weight-decay", required_argument, 0, O_WD},
		{"adam", no_argument, 0, O_ADAM}, {"schedule", required_argument, 0, O_SCHED},
		{"warmup", required_argument, 0, O_WARM}, {"patience", required_argument, 0, O_PAT},
		{"early-stop", required_argument, 0, O_EARLY}, {"augment", no_argument, 0, O_AUG},
		{"threshold-sens", required_argument, 0, O_SENS},
		{"width", required_argument, 0, O_WIDTH}, {"seed", required_argument, 0, O_SEED},
		{"init", required_argument, 0, O_INIT}, {"arch", required_argument, 0, O_ARCH},
		{"precision", required_argument, 0, O_PREC},
		{"resume", required_argument, 0, O_RESUME},
		{"max-steps", required_argument, 0, O_MAXSTEPS}, {"log", required_argument, 0, O_LOG},
		{"step-log", required_argument, 0, O_STEPLOG},
		CXR_JOBS_LONGOPTS, CXR_COMMON_LONGOPTS, {0, 0, 0, 0}};
	/* With --resume the checkpoint's hyper-parameters win; say so when
	 * the command line names others. */
	const char *ignored = NULL;
	int epochs_set = 0;
	int o;
	while ((o = getopt_long(argc, argv, "o:" CXR_JOBS_SHORTOPTS CXR_COMMON_SHORTOPTS, longs, NULL)) != -1) {
		switch (o) {
		case O_BATCH: case O_LR: case O_MINLR: case O_B1: case O_B2: case O_EPS: case O_WD:
		case O_ADAM: case O_SCHED: case O_WARM: case O_PAT: case O_EARLY: case O_AUG:
		case O_SENS: case O_WIDTH: case O_SEED: case O_INIT: case O_ARCH: case O_PREC:
			ignored = opt_name(longs, o);
			break;
		}
		switch (o) {
		case 'o': c.out_path = optarg; break;
		case O_VAL: c.val_path = optarg; break;
		case O_EPOCHS:
			c.epochs = (int)cxr_parse_long("--epochs", optarg, 1, 100000);
			epochs_set = 1;
			break;
		case O_BATCH: c.batch = (int)cxr_parse_long("--batch", optarg, 1, 4096); break;
		case O_ACCUM: c.accum = (int)cxr_parse_long("--accum", optarg, 1, 4096); break;
		case O_LR: c.lr = cxr_parse_double("--lr", optarg, 0, 10); break;
		case O_MINLR: c.min_lr = cxr_parse_double("--min-lr", optarg, 0, 10); break;
		case O_B1: c.beta1 = cxr_parse_double("--beta1", optarg, 0, 0.999999); break;
		case O_B2: c.beta2 = cxr_parse_double("--beta2", optarg, 0, 0.99999999); break;
		case O_EPS: c.eps = cxr_parse_double("--eps", optarg, 0, 1); break;
		case O_WD: c.weight_decay = cxr_parse_double("--weight-decay", optarg, 0, 10); break;
		case O_ADAM: c.decoupled = 0; break;
		case O_SCHED:
			if ((c.schedule = cxr_schedule_parse(optarg)) < 0)
				cxr_usage_error("--schedule: '%s' is not cosine, plateau or constant", optarg);
			break;
		case O_WARM: c.warmup_epochs = (int)cxr_parse_long("--warmup", optarg, 0, 100000); break;
		case O_PAT: c.plateau_patience = (int)cxr_parse_long("--patience", optarg, 0, 100000); break;
		case O_EARLY: c.early_stop = (int)cxr_parse_long("--early-stop", optarg, 0, 100000); break;
		case O_AUG: c.augment = 1; break;
		case O_SENS: c.threshold_sens_pct = (int)cxr_parse_long("--threshold-sens", optarg, 1, 100); break;
		case O_WIDTH: c.width_mult = cxr_parse_double("--width", optarg, 1e-3, 8); break;
		case O_SEED: c.seed = (uint64_t)cxr_parse_long("--seed", optarg, 0, LONG_MAX); break;
		case O_INIT:
			if ((c.init = cxr_init_parse(optarg)) < 0)
				cxr_usage_error("--init: '%s' is not torchvision, keras or torch", optarg);
			break;
		case O_ARCH:
			if (!strcmp(optarg, "torchvision-resnet50"))
				c.arch = CXR_ARCH_TORCHVISION;
			else if (!strcmp(optarg, "keras-resnet50"))
				c.arch = CXR_ARCH_KERAS;
			else
				cxr_usage_error("--arch: '%s' is not torchvision-resnet50 or "
						"keras-resnet50", optarg);
			break;
		case O_PREC: c.precision = cxr_precision_option(optarg); break;
		case O_RESUME: c.resume_path = optarg; break;
		case O_MAXSTEPS: c.max_steps = cxr_parse_long("--max-steps", optarg, 1, LONG_MAX); break;
		case O_LOG: c.log_path = optarg; break;
		case O_STEPLOG: c.step_log_path = optarg; break;
		default: cxr_common_option(o, optarg, &co, usage);
		}
	}
	c.threads = co.jobs;
	c.quiet = co.quiet;
	if (!c.out_path)
		cxr_usage_error("no output: give -o MODEL");
	if (optind != argc - 1)
		cxr_usage_error("give one training pack (written by cxr-pack)");
	c.train_path = argv[optind];
	if (c.resume_path) {
		if (ignored)
			cxr_warn("--%s ignored: a resumed run keeps its checkpoint's settings "
				 "(only --epochs, --val, --log, --step-log, --max-steps, -j and -q apply)", ignored);
		if (!epochs_set)
			c.epochs = 0; /* the checkpoint's */
	}
	if (c.val_path == NULL && (c.early_stop || c.schedule == CXR_SCHED_PLATEAU))
		cxr_usage_error("--early-stop and --schedule plateau need --val");
	/* Under mpirun or srun: one rank of a data-parallel run; the batch
	 * must divide into ranks x --accum parts (checked again for the
	 * batch a checkpoint gives). */
	if (dist_init(&argc, &argv))
		cxr_die_err();
	int nranks = dist_size();
	/* mpirun binds each of one or two ranks to a core: -j 2 would then
	 * share one (and OpenBLAS would run fewer threads than asked). */
	cpu_set_t cpus;
	if (nranks > 1 && !dist_rank() && !c.quiet && !sched_getaffinity(0, sizeof cpus, &cpus) &&
	    CPU_COUNT(&cpus) < c.threads)
		cxr_warn("rank 0 may run on %d core%s but -j %d: give mpirun --bind-to none (or "
			 "--map-by slot:PE=%d)", CPU_COUNT(&cpus), CPU_COUNT(&cpus) == 1 ? "" : "s",
			 c.threads, c.threads);
	if (!c.resume_path && c.batch % (nranks * (c.accum ? c.accum : 1)))
		cxr_usage_error("--batch %d does not divide into %d ranks x --accum %d: give a "
				"multiple of %d", c.batch, nranks, c.accum ? c.accum : 1,
				nranks * (c.accum ? c.accum : 1));
	cxr_train_end end;
	int rc = cxr_train_run(&c, &end);
	/* The run ended on every rank together (an error ends the job: MPI
	 * is not finished then, and mpirun ends the other ranks). MPI is
	 * finished after rank 0's message: no rank can end the job (and
	 * mpirun then signal rank 0) before it is out. */
	if (end.signal) {
		/* Whatever else happened, end by the signal (cxr-train(1)). */
		if (rc < 0)
			cxr_warn("%s", cxr_errmsg());
		if (dist_rank() > 0) /* rank 0 says where the run stopped */
			;
		else if (end.checkpoint)
			print_resume(&c, end.signal, NULL);
		else if (end.model)
			cxr_warn("stopped by signal %d after the run ended; %s is written", end.signal,
				 c.out_path);
		else if (c.resume_path && rc == 0)
			print_resume(&c, end.signal, c.resume_path);
		else
			cxr_warn("stopped by signal %d before training%s", end.signal,
				 c.resume_path ? " went on" : " started; nothing was written");
		if (rc == 0)
			dist_finish();
		cxr_exit_signal();
	}
	if (rc < 0)
		cxr_die_err();
	dist_finish();
	return 0;
}
