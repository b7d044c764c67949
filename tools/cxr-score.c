/* cxr-score — score a tensor stream with a model: scores TSV on stdout. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/options.h"
#include "data/model_file.h"
#include "nn/precision.h"
#include "run/score_driver.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cxr-score [-q] [-j N] [--batch N] [--threshold T] [--no-header]\n"
		"                 -m MODEL [-o FILE] [STREAM|-]\n"
		"       cxr-score --info -m MODEL\n"
		"\n"
		"  -m, --model MODEL   the model file (.cxm) from cxr-train\n"
		"  -o, --output FILE   write the scores here (whole or not at all)\n"
		"      --batch N       images per forward pass (default 8)\n"
		"      --threshold T   decision threshold for the pred column\n"
		"                      (default: the one stored in the model)\n"
		"      --no-header     no header line (to append to a scores file)\n"
		"      --precision P   bf16 (default where the CPU has AVX512_BF16) or fp32\n"
		"      --info          print the model's metadata (key, tab, value) and exit\n"
		"  -j, --jobs N        threads (default: all cores; --threads is the same)\n"
		"  -q, --quiet         no progress\n"
		"      --help, --version\n");
}

/* Every way out after a SIGINT, SIGTERM or SIGHUP ends by that signal,
 * even an error it caused (an open of a FIFO interrupted) or an exit from
 * a helper: a script running cxr-score stops too (cxr-score(1), EXIT
 * STATUS). */
static void end_by_signal(void)
{
	if (cxr_stop_signal)
		cxr_exit_signal();
}

/* The input: stdin for "-"; a path opened here, so that a signal while
 * the open waits (a FIFO without a writer yet) ends by the signal rather
 * than as an error. */
static FILE *open_input(const char *path)
{
	if (!strcmp(path, "-"))
		return stdin;
	FILE *f;
	while (!(f = fopen(path, "rb")) && errno == EINTR && !cxr_stop_signal)
		;
	if (!f) {
		if (cxr_stop_signal)
			cxr_exit_signal();
		cxr_die(CXR_EXIT_DATA, "%s: %s", path, strerror(errno));
	}
	return f;
}

/* --info: what a script needs to know before scoring with a model (the
 * input size, the threshold, its digest), one "key<TAB>value" a line. */
static int print_model_info(const char *path)
{
	cxr_model *m = cxr_model_load(path);
	if (!m)
		cxr_die_err();
	printf("digest\t%s\n", cxr_model_digest(m));
	for (int i = 0; i < cxr_model_nmeta(m); i++) {
		const char *k, *v;
		cxr_model_meta_at(m, i, &k, &v);
		/* keys and values are single-line UTF-8 by the format's rules
		 * (cxr-model(5)); a tab or newline would break the table */
		if (strpbrk(k, "\t\n") || strpbrk(v, "\t\n"))
			continue;
		printf("%s\t%s\n", k, v);
	}
	cxr_model_free(m);
	if (fflush(stdout) || ferror(stdout)) {
		if (errno == EPIPE)
			exit(CXR_EXIT_DATA); /* the reader went away: quietly */
		cxr_die(CXR_EXIT_DATA, "stdout: write error");
	}
	return 0;
}

int main(int argc, char **argv)
{
	cxr_init(argc, argv, 1);
	atexit(end_by_signal);
	/* bf16 where the CPU has it: cxr-score(1) says why */
	cxr_score_opts o = {.batch = 8, .threshold = NAN, .header = 1,
			    .precision = cxr_precision_default()};
	cxr_common_opts co = {.jobs = cxr_ncores()};
	const char *model = NULL, *out = NULL;
	enum { O_BATCH = 256, O_THR, O_NOHEAD, O_INFO, O_PREC };
	int info = 0;
	static const struct option longs[] = {
		{"model", required_argument, 0, 'm'}, {"output", required_argument, 0, 'o'},
		{"batch", required_argument, 0, O_BATCH}, {"threshold", required_argument, 0, O_THR},
		{"no-header", no_argument, 0, O_NOHEAD}, {"info", no_argument, 0, O_INFO},
		{"precision", required_argument, 0, O_PREC}, CXR_JOBS_LONGOPTS, CXR_COMMON_LONGOPTS,
		{0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "m:o:" CXR_JOBS_SHORTOPTS CXR_COMMON_SHORTOPTS, longs, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'o': out = optarg; break;
		case O_BATCH: o.batch = (int)cxr_parse_long("--batch", optarg, 1, 4096); break;
		case O_THR: o.threshold = cxr_parse_double("--threshold", optarg, 0, 1); break;
		case O_NOHEAD: o.header = 0; break;
		case O_INFO: info = 1; break;
		case O_PREC: o.precision = cxr_precision_option(optarg); break;
		default: cxr_common_option(c, optarg, &co, usage);
		}
	}
	o.threads = co.jobs;
	o.quiet = co.quiet;
	if (!model)
		cxr_usage_error("no model: give -m MODEL");
	if (info) {
		if (optind < argc)
			cxr_usage_error("--info reads only the model; no stream");
		return print_model_info(model);
	}
	if (argc - optind > 1)
		cxr_usage_error("give at most one stream");
	const char *in = optind < argc ? argv[optind] : "-";
	FILE *f = open_input(in);
	cxr_out *dst = cxr_out_open(out, 0);
	o.out_name = out && strcmp(out, "-") ? out : "stdout";
	long n = cxr_score_stream(model, f, in, cxr_out_file(dst), &o);
	/* Stopped by a signal: the lines written are whole; a -o FILE is not
	 * created. */
	if (cxr_stop_signal)
		cxr_exit_signal();
	if (n == CXR_SCORE_CLOSED) {
		/* cxr-score | head: the reader has what it wanted */
		cxr_out_abort(dst);
		exit(CXR_EXIT_DATA);
	}
	if (n < 0)
		cxr_die_err();
	cxr_out_commit(dst);
	if (!o.quiet)
		cxr_warn("%ld image%s scored", n, n == 1 ? "" : "s");
	return 0;
}
