/* cxr-report — one scores file's evaluation as one self-contained HTML
 * page: the figures of cxr-roc and cxr-bias, their plots, a reliability
 * diagram, and the provenance of every number (the scores' SHA-256, the
 * model's digest and metadata, the commands, the versions, the date). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cli.h"
#include "base/options.h"
#include "base/sha256.h"
#include "data/model_file.h"
#include "data/tsv.h"
#include "eval/groupeval.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "eval/scores_file.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cxr-report [options] [SCORES|-]\n"
		"\n"
		"  -o, --output FILE   the HTML page (whole or not at all; default stdout)\n"
		"      --title TEXT    the page's title (default: cxr report: SCORES's name)\n"
		"  -b, --by COLUMN[:WIDTH]  a group table, as cxr-bias (default: --by sex\n"
		"                      --by age:10 --by view, those columns the scores have)\n"
		"  -t, --threshold T   decision threshold: a number, youden or sens=X\n"
		"                      (default: the scores' threshold column, else 0.5)\n"
		"  -m, --model FILE    the model that wrote the scores: its metadata (how the\n"
		"                      threshold was picked, training provenance); its digest\n"
		"                      must be the scores' model column\n"
		"      --val MANIFEST  the validation manifest the threshold was picked on:\n"
		"                      its normal and abnormal images are counted\n"
		"      --command TEXT  a command line that made the scores (repeatable)\n"
		"      --provenance FILE  key<TAB>value lines: command, version, anything else\n"
		"      --label COLUMN  evaluate against this column (default label)\n"
		"  -j, --jobs N        accepted like every tool's; the work is one pass\n"
		"  -q, --quiet         no notes on stderr\n"
		"      --help, --version\n");
}

enum { MAX_BY = 32 };

struct cmdline {
	cxr_threshold_rule thr;
	const char *by[MAX_BY];
	double width[MAX_BY];
	int nby, quiet;
	const char *out, *title, *model, *val, *label, *prov_file;
	cxr_kv *prov;
	int nprov, capprov;
};

static void add_by(struct cmdline *cl, const char *arg)
{
	if (cl->nby == MAX_BY)
		cxr_usage_error("--by: at most %d tables", MAX_BY);
	char *col;
	cxr_parse_by(arg, &col, &cl->width[cl->nby]);
	cl->by[cl->nby++] = col;
}

static void add_prov(struct cmdline *cl, const char *k, const char *v)
{
	if (cl->nprov == cl->capprov) {
		cl->capprov = cl->capprov ? 2 * cl->capprov : 8;
		cl->prov = cxr_xrealloc(cl->prov, (size_t)cl->capprov * sizeof *cl->prov);
	}
	cl->prov[cl->nprov++] = (cxr_kv){cxr_xstrdup(k), cxr_xstrdup(v)};
}

/* --provenance: "key<TAB>value" lines; blank lines and lines starting
 * with '#' are skipped. */
static void read_provenance(struct cmdline *cl, const char *path)
{
	FILE *f = cxr_open_in(path);
	char *line = NULL;
	size_t cap = 0;
	long ln = 0;
	int rc;
	while ((rc = cxr_getline(f, cxr_name(path), &line, &cap, &ln)) == 1) {
		if (!*line || *line == '#')
			continue;
		char *tab = strchr(line, '\t');
		if (!tab || tab == line)
			cxr_die(CXR_EXIT_DATA, "%s: line %ld: not key<TAB>value", cxr_name(path), ln);
		*tab = 0;
		add_prov(cl, line, tab + 1);
	}
	if (rc < 0)
		cxr_die_err();
	free(line);
	if (f != stdin)
		fclose(f);
}

/* The whole input in memory, NUL-terminated: it is hashed, then parsed. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = cxr_open_in(path);
	size_t cap = 1 << 16, len = 0;
	char *buf = cxr_xmalloc(cap);
	for (;;) {
		if (len == cap)
			buf = cxr_xrealloc(buf, cap *= 2);
		size_t k = fread(buf + len, 1, cap - len, f);
		len += k;
		if (k == 0)
			break;
	}
	if (ferror(f))
		cxr_die(CXR_EXIT_DATA, "%s: read error", cxr_name(path));
	if (f != stdin)
		fclose(f);
	if (len == cap)
		buf = cxr_xrealloc(buf, cap + 1);
	buf[len] = 0; /* a string too, for a look at the header */
	*n = len;
	return buf;
}

/* --val: labelled rows and positives of a manifest's label column. */
static void count_val(const char *path, const char *col, long *n, long *pos)
{
	FILE *f = cxr_open_in(path);
	cxr_tsv *t = cxr_tsv_open(f, cxr_name(path));
	if (!t)
		cxr_die_err();
	int c = cxr_tsv_col(t, col);
	if (c < 0)
		cxr_die(CXR_EXIT_DATA, "%s: no '%s' column", cxr_name(path), col);
	int rc;
	*n = *pos = 0;
	while ((rc = cxr_tsv_next(t)) == 1) {
		const char *v = cxr_tsv_field(t, c);
		if (!strcmp(v, "-"))
			continue;
		if (strcmp(v, "0") && strcmp(v, "1"))
			cxr_die(CXR_EXIT_DATA, "%s: line %ld: %s '%s' is not 0, 1 or -", cxr_name(path),
				cxr_tsv_lineno(t), col, v);
		++*n;
		*pos += v[0] == '1';
	}
	if (rc < 0)
		cxr_die_err();
	cxr_tsv_close(t);
	if (f != stdin)
		fclose(f);
}

/* argv as one shell line, quoting what needs it. */
static char *command_line(int argc, char **argv)
{
	size_t cap = 64, len = 0;
	for (int i = 0; i < argc; i++)
		cap += 4 * strlen(argv[i]) + 3;
	char *s = cxr_xmalloc(cap);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int plain = *a != 0;
		for (const char *p = a; *p; p++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				    "-_./:=,+@%", *p))
				plain = 0;
		if (i)
			s[len++] = ' ';
		if (plain) {
			strcpy(s + len, a);
			len += strlen(a);
			continue;
		}
		s[len++] = '\'';
		for (const char *p = a; *p; p++) {
			if (*p == '\'') {
				memcpy(s + len, "'\\''", 4);
				len += 4;
			} else {
				s[len++] = *p;
			}
		}
		s[len++] = '\'';
	}
	s[len] = 0;
	return s;
}

/* UTC now, or SOURCE_DATE_EPOCH when set (a reproducible page). */
static void now_utc(char buf[32])
{
	time_t t = time(NULL);
	const char *e = getenv("SOURCE_DATE_EPOCH");
	if (e && *e)
		t = (time_t)cxr_parse_long("SOURCE_DATE_EPOCH", e, 0, 253402300799L);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int main(int argc, char **argv)
{
	cxr_init(argc, argv, 0);
	char *self = command_line(argc, argv);
	struct cmdline cl = {0};
	cxr_common_opts co = {.jobs = 1};
	enum { OPT_TITLE = 256, OPT_VAL, OPT_COMMAND, OPT_PROV, OPT_LABEL };
	static const struct option longs[] = {
		{"output", required_argument, 0, 'o'}, {"title", required_argument, 0, OPT_TITLE},
		{"by", required_argument, 0, 'b'}, {"threshold", required_argument, 0, 't'},
		{"model", required_argument, 0, 'm'}, {"val", required_argument, 0, OPT_VAL},
		{"command", required_argument, 0, OPT_COMMAND},
		{"provenance", required_argument, 0, OPT_PROV},
		{"label", required_argument, 0, OPT_LABEL}, CXR_JOBS_LONGOPTS, CXR_COMMON_LONGOPTS,
		{0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "o:b:t:m:" CXR_JOBS_SHORTOPTS CXR_COMMON_SHORTOPTS, longs, NULL)) != -1) {
		switch (c) {
		case 'o': cl.out = optarg; break;
		case OPT_TITLE: cl.title = optarg; break;
		case 'b': add_by(&cl, optarg); break;
		case 't':
			if (cxr_threshold_rule_parse(optarg, &cl.thr))
				cxr_usage_error("--threshold: %s", cxr_errmsg());
			break;
		case 'm': cl.model = optarg; break;
		case OPT_VAL: cl.val = optarg; break;
		case OPT_COMMAND: add_prov(&cl, "command", optarg); break;
		case OPT_PROV: cl.prov_file = optarg; break;
		case OPT_LABEL: cl.label = optarg; break;
		default: cxr_common_option(c, optarg, &co, usage);
		}
	}
	cl.quiet = co.quiet; /* -j is accepted; the report takes no threads */
	argc -= optind, argv += optind;
	if (argc > 1)
		cxr_usage_error("give one scores file");
	const char *path = argc ? argv[0] : NULL;
	if (cl.prov_file && path && !strcmp(cl.prov_file, path))
		cxr_usage_error("--provenance and the scores cannot both be the same file");
	if (cl.prov_file && !path && !strcmp(cl.prov_file, "-"))
		cxr_usage_error("--provenance -: the scores are read from stdin already");
	int default_by = !cl.nby;
	if (cl.prov_file) {
		/* its lines go first: the commands that made the scores */
		struct cmdline tmp = cl;
		tmp.prov = NULL, tmp.nprov = tmp.capprov = 0;
		read_provenance(&tmp, cl.prov_file);
		for (int i = 0; i < cl.nprov; i++) {
			add_prov(&tmp, cl.prov[i].key, cl.prov[i].value);
			free((char *)cl.prov[i].key);
			free((char *)cl.prov[i].value);
		}
		free(cl.prov);
		cl.prov = tmp.prov, cl.nprov = tmp.nprov, cl.capprov = tmp.capprov;
	}

	/* The scores: hashed as read, then parsed. */
	size_t nbytes;
	char *bytes = slurp(path, &nbytes);
	cxr_report rep = {0};
	unsigned char sum[32];
	cxr_sha256_buf(bytes, nbytes, sum);
	cxr_sha256_hex(sum, rep.scores_sha256);
	if (default_by) {
		/* sex, age:10 and view, those of them the header has */
		static const char *const defaults[][2] = {{"sex", "sex"}, {"age", "age:10"},
							   {"view", "view"}};
		size_t hl = strcspn(bytes, "\r\n");
		for (size_t d = 0; d < 3 && nbytes; d++) {
			size_t k = strlen(defaults[d][0]);
			for (size_t i = 0; i + k <= hl && i < nbytes; i += strcspn(bytes + i, "\t\r\n") + 1)
				if (!strncmp(bytes + i, defaults[d][0], k) &&
				    (i + k == hl || bytes[i + k] == '\t')) {
					add_by(&cl, defaults[d][1]);
					break;
				}
		}
	}
	/* fmemopen takes no empty buffer: an empty file reads as /dev/null */
	FILE *mf = nbytes ? fmemopen(bytes, nbytes, "r") : fopen("/dev/null", "r");
	if (!mf)
		cxr_die(CXR_EXIT_DATA, "%s: cannot read from memory", cxr_name(path));
	cxr_scores s;
	cxr_scores_opt so = {.label_col = cl.label, .group_cols = cl.by, .ngroup = cl.nby};
	if (cxr_scores_read(&s, mf, cxr_name(path), &so) || cxr_scores_need_both(&s))
		cxr_die_err();
	fclose(mf);
	free(bytes);
	if (s.skipped && !cl.quiet)
		cxr_warn("%s: skipped %ld rows whose %s is '-'", s.path, s.skipped,
			 cl.label ? cl.label : "label");

	/* The model: its metadata, if it is the one that wrote the scores. */
	cxr_kv *meta = NULL;
	int nmeta = 0;
	cxr_model *m = NULL;
	if (cl.model) {
		m = cxr_model_load(cl.model);
		if (!m)
			cxr_die_err();
		const char *d = cxr_model_digest(m);
		if (s.model && strcmp(s.model, d))
			cxr_die(CXR_EXIT_DATA, "%s: model %s, but the scores %s are from model %s",
				cl.model, d, s.path, s.model);
		if (!s.model && !cl.quiet)
			cxr_warn("%s: no model column; cannot check that %s wrote them", s.path,
				 cl.model);
		nmeta = cxr_model_nmeta(m) + 1;
		meta = cxr_xcalloc((size_t)nmeta, sizeof *meta);
		meta[0] = (cxr_kv){"digest", d};
		for (int i = 1; i < nmeta; i++)
			cxr_model_meta_at(m, i - 1, &meta[i].key, &meta[i].value);
	}

	cxr_roc roc;
	if (cxr_roc_build(&roc, s.score, s.label, s.n))
		cxr_die(CXR_EXIT_DATA, "%s: %s", s.path, cxr_errmsg());
	double t = cxr_threshold_choose(&cl.thr, &roc, s.threshold);
	cxr_group_stats all;
	if (cxr_group_eval(s.score, s.label, s.n, t, &all))
		cxr_die_err();
	cxr_group_gaps(&all, &all);
	cxr_group_table *tables = cxr_xcalloc((size_t)cl.nby, sizeof *tables);
	for (int b = 0; b < cl.nby; b++)
		if (cxr_group_table_build(&tables[b], &s, b, cl.by[b], cl.width[b], t, &all))
			cxr_die_err();
	cxr_calbin bins[10];
	double ece = NAN;
	int nbins = 10;
	if (cxr_calibration(s.score, s.label, s.n, nbins, bins, &ece)) {
		if (!cl.quiet)
			cxr_warn("%s: %s; no reliability diagram", s.path, cxr_errmsg());
		nbins = 0;
	}

	char how[300], date[32], version[64], title[600];
	cxr_threshold_describe(how, sizeof how, &cl.thr, s.threshold);
	now_utc(date);
	snprintf(version, sizeof version, "cxr-report %s", CXR_VERSION);
	snprintf(title, sizeof title, "cxr report: %s", cxr_report_base_name(path));
	rep.title = cl.title ? cl.title : title;
	rep.scores_path = cxr_name(path);
	rep.scores_bytes = (long)nbytes;
	rep.skipped = s.skipped;
	rep.label_col = cl.label ? cl.label : "label";
	rep.model = s.model;
	rep.roc = &roc;
	rep.all = &all;
	rep.thr = t;
	rep.thr_source = how;
	rep.thr_stored = cl.thr.kind == CXR_THR_STORED && !isnan(s.threshold);
	rep.bins = bins;
	rep.nbins = nbins;
	rep.ece = ece;
	rep.tables = tables;
	rep.ntables = cl.nby;
	rep.model_path = cl.model;
	rep.meta = meta;
	rep.nmeta = nmeta;
	rep.val_path = cl.val;
	rep.val_n = rep.val_pos = -1;
	if (cl.val)
		count_val(cl.val, cl.label ? cl.label : "label", &rep.val_n, &rep.val_pos);
	rep.prov = cl.prov;
	rep.nprov = cl.nprov;
	rep.self_command = self;
	rep.version = version;
	rep.date = date;

	cxr_out *o = cxr_out_open(cl.out, 0);
	if (cxr_report_html(cxr_out_file(o), &rep))
		cxr_die(CXR_EXIT_DATA, "%s: write error", cl.out ? cl.out : "stdout");
	cxr_out_commit(o);
	if (cl.out && !cl.quiet)
		cxr_warn("%s: %ld images, AUC %.3f; report in %s", s.path, all.n, all.auc.auc, cl.out);

	for (int b = 0; b < cl.nby; b++) {
		cxr_group_table_free(&tables[b]);
		free((char *)cl.by[b]);
	}
	free(tables);
	for (int i = 0; i < cl.nprov; i++) {
		free((char *)cl.prov[i].key);
		free((char *)cl.prov[i].value);
	}
	free(cl.prov);
	free(meta);
	cxr_model_free(m);
	cxr_roc_free(&roc);
	cxr_scores_free(&s);
	free(self);
	return 0;
}
