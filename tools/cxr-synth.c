/* cxr-synth — a synthetic data set in the NIH ChestX-ray14 layout: label
 * file and PNGs (see man/cxr-synth.1). The label file is written last, so
 * its presence means the set is complete. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cli.h"
#include "base/options.h"
#include "data/synth.h"

struct cmdline {
	long images, patients, per_dir;
	unsigned long seed;
	int size, jobs, level, quiet, csv_only;
	const char *outdir;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-q] [-j N] [--images N] [--patients N] [--size S] [--seed S]\n"
	       "           [--per-dir N] [--level L] [--csv-only] -o DIR\n"
	       "Writes a synthetic chest X-ray data set in the NIH layout:\n"
	       "DIR/" CXR_NIH_CSV_NAME " and DIR/images_001/images/*.png ...\n"
	       "  --images N    images (default 1000)\n"
	       "  --patients N  patients (default 0: about one for 3.7 images)\n"
	       "  --size S      width and height in pixels (default 1024)\n"
	       "  --seed S      seed (default 1); the same seed gives the same bytes\n"
	       "  --per-dir N   images per images_NNN folder (default 10000)\n"
	       "  --level L     zlib level of the PNGs, 0-9 (default 1: fast)\n"
	       "  --csv-only    write only the label file\n"
	       "  -o DIR        output directory, created if needed\n"
	       "  -j, --jobs N  threads (default: all cores; --threads is the same)\n"
	       "  -q            no progress on stderr\n"
	       "  --help, --version\n", cxr_progname);
}

static void parse_args(struct cmdline *c, int argc, char **argv)
{
	enum { O_IMAGES = 256, O_PATIENTS, O_SIZE, O_SEED, O_PERDIR, O_LEVEL, O_CSV };
	static const struct option opts[] = {
		{"images", required_argument, NULL, O_IMAGES},
		{"patients", required_argument, NULL, O_PATIENTS},
		{"size", required_argument, NULL, O_SIZE},
		{"seed", required_argument, NULL, O_SEED},
		{"per-dir", required_argument, NULL, O_PERDIR},
		{"level", required_argument, NULL, O_LEVEL},
		{"csv-only", no_argument, NULL, O_CSV},
		CXR_JOBS_LONGOPTS,
		CXR_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	*c = (struct cmdline){.images = 1000, .per_dir = 10000, .seed = 1, .size = 1024,
		.level = 1};
	cxr_common_opts co = {.jobs = cxr_ncores()};
	int ch;
	while ((ch = getopt_long(argc, argv, "o:" CXR_JOBS_SHORTOPTS CXR_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		/* Patient ids have 8 digits and follow-ups 3 in NIH's names. */
		case O_IMAGES: c->images = cxr_parse_long("--images", optarg, 0, 99999999); break;
		case O_PATIENTS: c->patients = cxr_parse_long("--patients", optarg, 0, 99999999); break;
		case O_SIZE: c->size = (int)cxr_parse_long("--size", optarg, 16, 8192); break;
		case O_SEED: c->seed = cxr_parse_long("--seed", optarg, 0, LONG_MAX); break;
		case O_PERDIR: c->per_dir = cxr_parse_long("--per-dir", optarg, 1, LONG_MAX); break;
		case O_LEVEL: c->level = (int)cxr_parse_long("--level", optarg, 0, 9); break;
		case O_CSV: c->csv_only = 1; break;
		case 'o': c->outdir = optarg; break;
		default: cxr_common_option(ch, optarg, &co, usage);
		}
	}
	c->jobs = co.jobs;
	c->quiet = co.quiet;
	if (!c->outdir)
		cxr_usage_error("no output directory (-o DIR)");
	if (optind < argc)
		cxr_usage_error("unexpected argument '%s'", argv[optind]);
	if (c->patients > c->images)
		cxr_usage_error("--patients %ld is more than --images %ld", c->patients, c->images);
}

/* mkdir -p */
static void make_dirs(const char *dir)
{
	char *p = cxr_xstrdup(dir);
	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0777) && errno != EEXIST)
			cxr_die(CXR_EXIT_DATA, "%s: cannot create directory: %s", p, strerror(errno));
		if (!(*s = c))
			break;
	}
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		cxr_die(CXR_EXIT_DATA, "%s: not a directory", dir);
	free(p);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	/* Deferred signals: the threads finish the image in hand, so no
	 * half-written PNG is left behind. */
	cxr_init(argc, argv, 1);
	parse_args(&c, argc, argv);
	make_dirs(c.outdir);

	cxr_synth_plan plan;
	if (cxr_synth_plan_make(&plan, c.images, c.patients, c.seed))
		cxr_die_err();
	if (!c.csv_only) {
		cxr_synth_opts o = {.size = c.size, .per_dir = c.per_dir, .jobs = c.jobs,
			.level = c.level, .quiet = c.quiet};
		int rc = cxr_synth_write_images(c.outdir, &plan, &o);
		if (cxr_stop_signal)
			cxr_exit_signal();
		if (rc)
			cxr_die_err();
	}
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", c.outdir, CXR_NIH_CSV_NAME) >= (int)sizeof path)
		cxr_die(CXR_EXIT_DATA, "%s: path too long", c.outdir);
	cxr_out *out = cxr_out_open(path, 0);
	if (cxr_synth_write_csv(cxr_out_file(out), path, &plan))
		cxr_die_err();
	if (cxr_stop_signal)
		cxr_exit_signal();
	cxr_out_commit(out);
	if (!c.quiet) {
		long ab = 0;
		for (long i = 0; i < plan.n; i++)
			ab += plan.rows[i].findings != 0;
		cxr_warn("%ld images of %ld patients (%ld abnormal) in %s", plan.n,
			plan.npatients, ab, c.outdir);
	}
	cxr_synth_plan_free(&plan);
	return 0;
}
