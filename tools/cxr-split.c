/* cxr-split — NIH label CSV to train, validation and test manifests,
 * split by patient with exact counts, or as published lists give it (see
 * man/cxr-split.1). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/cli.h"
#include "base/gzin.h"
#include "base/options.h"
#include "data/labellist.h"
#include "data/sample.h"
#include "data/nihcsv.h"
#include "data/split.h"

/* Pools the draw takes from (values of set[] before drawing): the images
 * of set s's list are POOL_LIST + s, the others POOL_REST. */
enum { POOL_LIST = 100, POOL_REST = POOL_LIST + CXR_NSETS };

struct cmdline {
	long want[CXR_NSETS];   /* -1: every image ("all") */
	int given[CXR_NSETS];   /* the count was given */
	unsigned long seed;
	const char *list[CXR_NSETS]; /* --test-list, --val-list, --train-list */
	const char *test_list;  /* list[CXR_SET_TEST] */
	int all_lists;          /* the three lists are the split */
	int disjoint;           /* --disjoint-patients */
	char **views; /* (nviews) */
	int nviews;
	const char *views_arg;
	char *views_buf; /* the names of views[] point into it */
	const char *outdir;
	const char *input;
	int skip_bad, quiet;
	size_t nlisted[CXR_NSETS], nlisted_patients[CXR_NSETS]; /* for the report */
	size_t nrelabelled[CXR_NSETS], nlabelled[CXR_NSETS];    /* list labels used */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-q] [--train N] [--val N] [--test N] [--seed S]\n"
	       "           [--test-list FILE] [--views PA,AP] [--skip-bad] -o DIR [CSV|-]\n"
	       "       %s [-q] --train-list FILE --val-list FILE --test-list FILE\n"
	       "           [--disjoint-patients] [--views PA,AP] [--skip-bad] -o DIR [CSV|-]\n"
	       "Splits an NIH Data_Entry CSV (or CSV.gz) by patient into DIR/train.tsv, DIR/val.tsv\n"
	       "and DIR/test.tsv manifests with exactly the counts asked for, or takes a\n"
	       "published split as its three lists give it.\n"
	       "  --train N        training images (default 20000; with --train-list, all listed)\n"
	       "  --val N          validation images (default 5000; with --val-list, all listed)\n"
	       "  --test N         test images (default 10000; with --test-list, all listed)\n"
	       "                   N may be 'all': every listed image (--train all: every image left)\n"
	       "  --seed S         seed of the patient draw (default 1)\n"
	       "  --test-list FILE the test set from a list: IMAGE or IMAGE LABEL lines\n"
	       "                   (0 normal, 1 abnormal; a label replaces the CSV's)\n"
	       "  --train-list FILE, --val-list FILE\n"
	       "                   with --test-list: the three lists are the split\n"
	       "  --disjoint-patients  refuse lists that share a patient (else a warning)\n"
	       "  --views LIST     keep only these View Positions, e.g. PA or PA,AP\n"
	       "  --skip-bad       skip malformed rows instead of stopping\n"
	       "  -o DIR           output directory, created if needed\n"
	       "  -q               no report on stderr\n"
	       "  -j, --jobs N     accepted for uniformity; the split is single-threaded\n"
	       "  --help, --version\n", cxr_progname, cxr_progname);
}

static void parse_views(struct cmdline *c, const char *arg)
{
	char *s = c->views_buf = cxr_xstrdup(arg), *save = NULL;
	for (const char *p = arg;; p++) { /* empty names: ",PA", "PA,,AP", "" */
		if (*p == ',' || !*p) {
			if (p == arg || p[-1] == ',')
				cxr_usage_error("--views: empty view name in '%s'", arg);
			if (!*p)
				break;
		}
	}
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		c->views = cxr_xrealloc(c->views, (c->nviews + 1) * sizeof *c->views);
		c->views[c->nviews++] = t;
	}
}

/* A set's count: a number, or "all" (-1). */
static void parse_count(struct cmdline *c, int set, const char *opt, const char *arg)
{
	c->want[set] = !strcmp(arg, "all") ? -1 : cxr_parse_long(opt, arg, 0, 1L << 40);
	c->given[set] = 1;
}

static void parse_args(struct cmdline *c, int argc, char **argv)
{
	enum { O_TRAIN = 256, O_VAL, O_TEST, O_SEED, O_LIST, O_VIEWS, O_SKIP, O_TRAIN_LIST,
	       O_VAL_LIST, O_DISJOINT };
	static const struct option opts[] = {
		{"train", required_argument, NULL, O_TRAIN},
		{"val", required_argument, NULL, O_VAL},
		{"test", required_argument, NULL, O_TEST},
		{"seed", required_argument, NULL, O_SEED},
		{"test-list", required_argument, NULL, O_LIST},
		{"train-list", required_argument, NULL, O_TRAIN_LIST},
		{"val-list", required_argument, NULL, O_VAL_LIST},
		{"disjoint-patients", no_argument, NULL, O_DISJOINT},
		{"views", required_argument, NULL, O_VIEWS},
		{"skip-bad", no_argument, NULL, O_SKIP},
		CXR_JOBS_LONGOPTS,
		CXR_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	*c = (struct cmdline){.want = {[CXR_SET_TEST] = 10000, [CXR_SET_VAL] = 5000,
				       [CXR_SET_TRAIN] = 20000}, .seed = 1};
	cxr_common_opts co = {.jobs = 1};
	int ch;
	while ((ch = getopt_long(argc, argv, "o:" CXR_JOBS_SHORTOPTS CXR_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_TRAIN: parse_count(c, CXR_SET_TRAIN, "--train", optarg); break;
		case O_VAL: parse_count(c, CXR_SET_VAL, "--val", optarg); break;
		case O_TEST: parse_count(c, CXR_SET_TEST, "--test", optarg); break;
		case O_SEED: c->seed = cxr_parse_long("--seed", optarg, 0, LONG_MAX); break;
		case O_LIST: c->list[CXR_SET_TEST] = optarg; break;
		case O_TRAIN_LIST: c->list[CXR_SET_TRAIN] = optarg; break;
		case O_VAL_LIST: c->list[CXR_SET_VAL] = optarg; break;
		case O_DISJOINT: c->disjoint = 1; break;
		case O_VIEWS:
			c->views_arg = optarg;
			parse_views(c, optarg);
			break;
		case O_SKIP: c->skip_bad = 1; break;
		case 'o': c->outdir = optarg; break;
		default: cxr_common_option(ch, optarg, &co, usage);
		}
	}
	c->quiet = co.quiet; /* -j is accepted; the split is one pass */
	if (!c->outdir)
		cxr_usage_error("no output directory (-o DIR)");
	if (argc - optind > 1)
		cxr_usage_error("one CSV at most, got %d", argc - optind);
	c->input = optind < argc ? argv[optind] : NULL;
	c->test_list = c->list[CXR_SET_TEST];
	if (c->list[CXR_SET_TRAIN] || c->list[CXR_SET_VAL]) {
		/* A published split gives all three; half of one mixed with a
		 * draw would be neither. */
		if (!c->list[CXR_SET_TRAIN] || !c->list[CXR_SET_VAL] || !c->test_list)
			cxr_usage_error("--train-list and --val-list go with --test-list: give all "
					"three lists, or --test-list alone");
		c->all_lists = 1;
	}
	for (int s = 0; s < CXR_NSETS; s++) {
		if (c->want[s] < 0 && !c->list[s] && s != CXR_SET_TRAIN)
			cxr_usage_error("--%s all: every image of what? give --%s-list", cxr_set_name[s],
					cxr_set_name[s]);
	}
	/* The standard input can be read once. */
	int nstd = !c->input || !strcmp(c->input, "-");
	for (int s = 0; s < CXR_NSETS; s++)
		nstd += c->list[s] && !strcmp(c->list[s], "-");
	if (nstd > 1)
		cxr_usage_error("only one of the CSV and the lists can be the standard input");
}

/* ---- reading ---- */

static int meta_cmp(const void *a, const void *b)
{
	return strcmp(((const cxr_sample *)a)->image, ((const cxr_sample *)b)->image);
}

static cxr_sample *read_csv(const struct cmdline *c, size_t *np)
{
	FILE *f = cxr_gzin_open(c->input); /* the label file as NIH ships it, or gunzipped */
	int flags = c->skip_bad ? CXR_NIHCSV_SKIP_BAD : 0;
	cxr_nihcsv *r = cxr_nihcsv_open(f, c->input, flags);
	if (!r)
		cxr_die_err();
	size_t n = 0, cap = 1024;
	cxr_sample *rows = cxr_xmalloc(cap * sizeof *rows);
	cxr_sample_init(&rows[0]);
	int rc;
	while ((rc = cxr_nihcsv_next(r, &rows[n])) == 1) {
		if (++n == cap)
			rows = cxr_xrealloc(rows, (cap *= 2) * sizeof *rows);
		cxr_sample_init(&rows[n]);
	}
	if (rc < 0)
		cxr_die_err();
	cxr_sample_free(&rows[n]);
	if (!c->quiet && cxr_nihcsv_nskipped(r))
		cxr_warn("%s: %ld malformed rows skipped", cxr_name(c->input),
			 cxr_nihcsv_nskipped(r));
	cxr_nihcsv_close(r);
	fclose(f);
	/* Sorted by image name: the order of every output, and the lookup
	 * for the test list. */
	qsort(rows, n, sizeof *rows, meta_cmp);
	*np = n;
	return rows;
}

static cxr_sample *find_image(cxr_sample *rows, size_t n, const char *name)
{
	cxr_sample key = {.image = (char *)name};
	return bsearch(&key, rows, n, sizeof *rows, meta_cmp);
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts p, then counts its distinct strings. */
static size_t count_patients(const char **p, size_t k)
{
	qsort(p, k, sizeof *p, strp_cmp);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		u += !i || strcmp(p[i], p[i - 1]);
	return u;
}

/* Sorts p, drops repeats; returns how many distinct strings are left. */
static size_t distinct_patients(const char **p, size_t k)
{
	qsort(p, k, sizeof *p, strp_cmp);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (!i || strcmp(p[i], p[u - 1]))
			p[u++] = p[i];
	return u;
}

/* Patients shared by lists a and b (their sorted distinct patients),
 * with how many images of each list they hold. */
static size_t shared_patients(const cxr_sample *rows, size_t n, const int *owner, int a, int b,
			      const char **pa, size_t na, const char **pb, size_t nb,
			      size_t *ia, size_t *ib)
{
	size_t k = 0;
	for (size_t i = 0, j = 0; i < na && j < nb;) {
		int d = strcmp(pa[i], pb[j]);
		k += !d;
		i += d <= 0;
		j += d >= 0;
	}
	*ia = *ib = 0;
	if (!k)
		return 0;
	for (size_t r = 0; r < n; r++) {
		if (owner[r] != a && owner[r] != b)
			continue;
		const char **other = owner[r] == a ? pb : pa;
		size_t no = owner[r] == a ? nb : na;
		if (bsearch(&rows[r].patient, other, no, sizeof *other, strp_cmp))
			++*(owner[r] == a ? ia : ib);
	}
	return k;
}

/* Reads the lists; each listed image goes to its set's pool (POOL_LIST + s)
 * with the list's label, if it has one. With the test list alone, the
 * other images of its patients go nowhere and the rest stay POOL_REST for
 * the draw; with three lists, every unlisted image goes nowhere. */
static void apply_lists(struct cmdline *c, cxr_sample *rows, size_t n, int *set)
{
	int *owner = cxr_xmalloc((n ? n : 1) * sizeof *owner); /* list of each row, or -1 */
	long *line = cxr_xcalloc(n ? n : 1, sizeof *line);     /* its line there */
	const char **pat[CXR_NSETS] = {0};
	for (size_t i = 0; i < n; i++)
		owner[i] = -1;
	for (int s = 0; s < CXR_NSETS; s++) {
		if (!c->list[s])
			continue;
		cxr_labellist l;
		if (cxr_labellist_load(&l, c->list[s]))
			cxr_die_err();
		pat[s] = cxr_xmalloc((l.n ? l.n : 1) * sizeof *pat[s]);
		for (size_t k = 0; k < l.n; k++) {
			cxr_sample *m = find_image(rows, n, l.image[k]);
			if (!m)
				cxr_die(CXR_EXIT_DATA, "%s: line %ld: image %s is not in %s",
					l.path, l.line[k], l.image[k], cxr_name(c->input));
			size_t i = m - rows;
			if (owner[i] >= 0)
				cxr_die(CXR_EXIT_DATA, "%s: line %ld: image %s is in %s too (line %ld); "
					"an image can be in one set only", l.path, l.line[k],
					l.image[k], cxr_name(c->list[owner[i]]), line[i]);
			owner[i] = s;
			line[i] = l.line[k];
			pat[s][k] = m->patient;
			if (l.label[k] != CXR_LABEL_UNKNOWN) {
				c->nlabelled[s]++;
				c->nrelabelled[s] += m->label != l.label[k];
				m->label = l.label[k];
			}
		}
		c->nlisted[s] = l.n;
		c->nlisted_patients[s] = distinct_patients(pat[s], l.n);
		cxr_labellist_free(&l);
	}
	/* Data that would leak between sets: said even under -q, as the
	 * CSV's impossible values are. */
	for (int a = CXR_NSETS - 1; a >= 0; a--) /* train, val, test */
		for (int b = a - 1; b >= 0; b--) {
			if (!c->list[a] || !c->list[b])
				continue;
			size_t ia, ib, k = shared_patients(rows, n, owner, a, b, pat[a],
							   c->nlisted_patients[a], pat[b],
							   c->nlisted_patients[b], &ia, &ib);
			if (!k)
				continue;
			if (c->disjoint)
				cxr_die(CXR_EXIT_DATA, "%s and %s share %zu patient%s (%zu and %zu of "
					"their images); --disjoint-patients refuses that",
					cxr_name(c->list[a]), cxr_name(c->list[b]), k,
					k == 1 ? "" : "s", ia, ib);
			cxr_warn("%s and %s share %zu patient%s (%zu and %zu of their images); "
				 "both sets keep them (--disjoint-patients refuses this)",
				 cxr_name(c->list[a]), cxr_name(c->list[b]), k, k == 1 ? "" : "s",
				 ia, ib);
		}
	for (size_t i = 0; i < n; i++) {
		if (owner[i] >= 0)
			set[i] = POOL_LIST + owner[i];
		else if (c->all_lists)
			set[i] = CXR_SET_NONE;
		else if (bsearch(&rows[i].patient, pat[CXR_SET_TEST], c->nlisted_patients[CXR_SET_TEST],
				 sizeof *pat[CXR_SET_TEST], strp_cmp))
			set[i] = CXR_SET_NONE;
	}
	for (int s = 0; s < CXR_NSETS; s++)
		free(pat[s]);
	free(owner);
	free(line);
}

/* The view filter comes before the draw: the rows of other views move to
 * the end, out of the pool (their patients may still be drawn through
 * other views), keeping the rest in order. Returns the rows kept. */
static size_t filter_views(const struct cmdline *c, cxr_sample *rows, size_t n, int *set)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int keep = !c->nviews;
		for (int v = 0; v < c->nviews && !keep; v++)
			keep = rows[i].view && !strcasecmp(rows[i].view, c->views[v]);
		if (keep) {
			cxr_sample t = rows[k];
			rows[k] = rows[i];
			rows[i] = t;
			set[k++] = set[i];
		}
	}
	return k;
}

/* ---- drawing, writing, reporting ---- */

static void draw(const struct cmdline *c, cxr_sample *rows, size_t n, int *set)
{
	const char **pat = cxr_xmalloc((n ? n : 1) * sizeof *pat);
	const char **img = cxr_xmalloc((n ? n : 1) * sizeof *img);
	for (size_t i = 0; i < n; i++) {
		pat[i] = rows[i].patient;
		img[i] = rows[i].image;
	}
	const char *in = cxr_name(c->input);
	const char *vw = c->nviews ? " after --views" : "";
	if (!c->test_list) {
		int sets[] = {CXR_SET_TEST, CXR_SET_VAL, CXR_SET_TRAIN};
		if (cxr_split_draw(n, pat, img, set, POOL_REST, 3, sets, c->want, c->seed) < 0)
			cxr_die(CXR_EXIT_DATA, "%s%s: %s", in, vw, cxr_errmsg());
	} else {
		/* Each list is its set's pool: all of it, or as many as its
		 * count asks, drawn by patient. */
		for (int s = 0; s < CXR_NSETS; s++) {
			if (!c->list[s])
				continue;
			int ts[] = {s};
			long tw[] = {c->given[s] ? c->want[s] : -1};
			if (cxr_split_draw(n, pat, img, set, POOL_LIST + s, 1, ts, tw, c->seed) < 0)
				cxr_die(CXR_EXIT_DATA, "%s%s: %s set from %s: %s", in, vw,
					cxr_set_name[s], cxr_name(c->list[s]), cxr_errmsg());
		}
		if (!c->all_lists) {
			int sets[] = {CXR_SET_VAL, CXR_SET_TRAIN};
			long want[] = {c->want[CXR_SET_VAL], c->want[CXR_SET_TRAIN]};
			if (cxr_split_draw(n, pat, img, set, POOL_REST, 2, sets, want, c->seed) < 0)
				cxr_die(CXR_EXIT_DATA, "%s%s: patients not in %s: %s", in, vw,
					cxr_name(c->test_list), cxr_errmsg());
		}
	}
	free(pat);
	free(img);
}

static void write_sets(const struct cmdline *c, const cxr_sample *rows, size_t n, const int *set)
{
	if (mkdir(c->outdir, 0777) < 0 && errno != EEXIST) {
		/* create the parents too, as mkdir -p */
		char *p = cxr_xstrdup(c->outdir);
		for (char *s = p + 1; *s; s++)
			if (*s == '/') {
				*s = 0;
				if (mkdir(p, 0777) < 0 && errno != EEXIST)
					cxr_die(CXR_EXIT_DATA, "%s: %s", p, strerror(errno));
				*s = '/';
			}
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			cxr_die(CXR_EXIT_DATA, "%s: %s", p, strerror(errno));
		free(p);
	}
	cxr_out *out[CXR_NSETS];
	for (int s = 0; s < CXR_NSETS; s++) {
		size_t len = strlen(c->outdir) + 16;
		char *path = cxr_xmalloc(len);
		snprintf(path, len, "%s/%s.tsv", c->outdir, cxr_set_name[s]);
		out[s] = cxr_out_open(path, 0);
		free(path);
		fputs(CXR_MANIFEST_HEADER "\n", cxr_out_file(out[s]));
	}
	for (size_t i = 0; i < n; i++)
		if (set[i] >= 0) {
			FILE *f = cxr_out_file(out[set[i]]);
			cxr_sample_print(f, &rows[i]);
			fputc('\n', f);
		}
	/* All three are whole before any replaces an older one. */
	for (int s = 0; s < CXR_NSETS; s++)
		cxr_out_commit(out[s]);
}

static void report(const struct cmdline *c, const cxr_sample *rows, size_t n,
		   size_t nread, const int *set)
{
	const char **p = cxr_xmalloc((n ? n : 1) * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = rows[i].patient;
	size_t npat = count_patients(p, n);
	if (c->nviews)
		cxr_warn("%s: %zu rows; %zu of views %s, of %zu patients",
			 cxr_name(c->input), nread, n, c->views_arg, npat);
	else
		cxr_warn("%s: %zu rows of %zu patients", cxr_name(c->input), n, npat);
	for (int s = CXR_NSETS - 1; s >= 0; s--) {
		if (!c->list[s])
			continue;
		char lab[160] = "";
		if (c->nlabelled[s])
			snprintf(lab, sizeof lab, "; %zu labels from the list, %zu of them not the "
				 "CSV's", c->nlabelled[s], c->nrelabelled[s]);
		cxr_warn("%s: %zu images of %zu patients listed%s%s", cxr_name(c->list[s]),
			 c->nlisted[s], c->nlisted_patients[s],
			 c->all_lists ? "" : "; no image of theirs in train or val", lab);
	}
	size_t used = 0;
	for (int s = CXR_NSETS - 1; s >= 0; s--) {
		size_t k = 0, pos = 0, neg = 0;
		for (size_t i = 0; i < n; i++)
			if (set[i] == s) {
				p[k++] = rows[i].patient;
				pos += rows[i].label == 1;
				neg += rows[i].label == 0;
			}
		used += k;
		char prev[32] = "-"; /* the fraction of labelled images with label 1 */
		if (pos + neg)
			snprintf(prev, sizeof prev, "%.4f", (double)pos / (pos + neg));
		char unk[64] = "";
		if (k - pos - neg)
			snprintf(unk, sizeof unk, ", %zu unlabelled", k - pos - neg);
		cxr_warn("%-5s %6zu images %6zu patients  prevalence %s (%zu abnormal%s)",
			 cxr_set_name[s], k, count_patients(p, k), prev, pos, unk);
	}
	cxr_warn("%zu image%s in no set", n - used, n - used == 1 ? "" : "s");
	free(p);
}

int main(int argc, char **argv)
{
	cxr_init(argc, argv, 0);
	struct cmdline c;
	parse_args(&c, argc, argv);
	size_t nread;
	cxr_sample *rows = read_csv(&c, &nread);
	int *set = cxr_xmalloc((nread ? nread : 1) * sizeof *set);
	for (size_t i = 0; i < nread; i++)
		set[i] = POOL_REST;
	if (c.test_list)
		apply_lists(&c, rows, nread, set);
	size_t n = filter_views(&c, rows, nread, set);
	draw(&c, rows, n, set);
	write_sets(&c, rows, n, set);
	if (!c.quiet)
		report(&c, rows, n, nread, set);
	for (size_t i = 0; i < nread; i++)
		cxr_sample_free(&rows[i]);
	free(rows);
	free(set);
	free(c.views);
	free(c.views_buf);
	return 0;
}
