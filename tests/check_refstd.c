/* refstd and labellist: IMAGE [LABEL] lists as Tang et al. publish them
 * (a last line without its newline, CRLF, a byte-order mark, blank lines,
 * bare names), their errors with file and line; a reference standard read
 * as a list or a TSV; the join with a scores file: the rows kept in the
 * file's order with the reference's labels, group columns rebuilt from the
 * rows kept, the counts and first names of what did not match, and the
 * errors (an image scored twice, nothing matched). */
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "data/labellist.h"
#include "data/sample.h"
#include "eval/refstd.h"
#include "eval/scores_file.h"
#include "testutil.h"

static FILE *text_n(const char *s, size_t n)
{
	FILE *f = fmemopen((void *)s, n, "r");
	ck_assert_ptr_nonnull(f);
	return f;
}

static FILE *text(const char *s)
{
	return text_n(s, strlen(s));
}

/* A file under a fresh temporary directory holding s; freed by the caller. */
static char *file_with(const char *s)
{
	const char *dir = test_tmpdir();
	char *path = cxr_xmalloc(strlen(dir) + 16);
	sprintf(path, "%s/ref", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(s, f);
	fclose(f);
	return path;
}

static void remove_file(char *path)
{
	unlink(path);
	*strrchr(path, '/') = 0;
	rmdir(path);
	free(path);
}

START_TEST(test_list_lines)
{
	/* a byte-order mark, CRLF, a blank line, blanks around, a tab, a
	 * bare name, "-", and a last line without its newline */
	FILE *f = text("\xEF\xBB\xBF" "a.png 1\r\n\r\n  b.png\t0  \nc.png\nd.png -\ne.png 1");
	cxr_labellist l;
	ck_assert_int_eq(cxr_labellist_read(&l, f, "t.txt"), 0);
	fclose(f);
	ck_assert_uint_eq(l.n, 5);
	ck_assert_int_eq(l.lines, 6);
	ck_assert_uint_eq(l.nlabel, 4);
	const char *img[] = {"a.png", "b.png", "c.png", "d.png", "e.png"};
	int lab[] = {1, 0, CXR_LABEL_UNKNOWN, CXR_LABEL_UNKNOWN, 1};
	long line[] = {1, 3, 4, 5, 6};
	int bare[] = {0, 0, 1, 0, 0};
	for (int i = 0; i < 5; i++) {
		ck_assert_str_eq(l.image[i], img[i]);
		ck_assert_int_eq(l.label[i], lab[i]);
		ck_assert_int_eq(l.line[i], line[i]);
		ck_assert_int_eq(l.bare[i], bare[i]);
	}
	ck_assert_str_eq(l.path, "t.txt");
	cxr_labellist_free(&l);
	/* an empty list is a list of nothing */
	f = text("\n\n");
	ck_assert_int_eq(cxr_labellist_read(&l, f, "e.txt"), 0);
	ck_assert_uint_eq(l.n, 0);
	fclose(f);
	cxr_labellist_free(&l);
}
END_TEST

static void list_fails_n(const char *s, size_t n, const char *msg)
{
	FILE *f = text_n(s, n);
	cxr_labellist l;
	ck_assert_int_eq(cxr_labellist_read(&l, f, "bad.txt"), -1);
	fclose(f);
	ck_assert_msg(strstr(cxr_errmsg(), msg), "'%s' lacks '%s'", cxr_errmsg(), msg);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(l.image);
}

static void list_fails(const char *s, const char *msg)
{
	list_fails_n(s, strlen(s), msg);
}

START_TEST(test_list_errors)
{
	list_fails("a.png 1\nb.png 1 x\n", "bad.txt: line 2: more than two fields");
	list_fails("a.png 1\n\nb.png yes\n", "bad.txt: line 3: label 'yes' of b.png is not 0, 1 or -");
	list_fails("a.png 1\nb.png 0\na.png 0", "bad.txt: line 3: image a.png listed again (first on line 1)");
	static const char nul[] = "a.png 1\nb\0.png 0\n";
	list_fails_n(nul, sizeof nul - 1, "bad.txt: line 2: a NUL byte");
	list_fails("a.png \xff\n", "bad.txt: line 1: not UTF-8");
}
END_TEST

START_TEST(test_reference_forms)
{
	cxr_refstd r;
	/* Tang's list, no final newline; sorted by name in r */
	char *p = file_with("z.png 1\na.png 0\nm.png -\nb.png 1");
	ck_assert_int_eq(cxr_refstd_load(&r, p, NULL), 0);
	ck_assert_int_eq(r.tsv, 0);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_uint_eq(r.unknown, 1);
	ck_assert_str_eq(r.image[0], "a.png");
	ck_assert_str_eq(r.image[2], "z.png");
	ck_assert_int_eq(r.label[2], 1);
	ck_assert_int_eq(r.line[1], 4);
	cxr_refstd_free(&r);
	/* --label on a list has no column to name */
	ck_assert_int_eq(cxr_refstd_load(&r, p, "rad"), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "--label rad names a column"));
	remove_file(p);
	/* a TSV: the header has a field "image"; --label picks the column */
	p = file_with("patient\timage\tlabel\trad\n1\ta.png\t1\t0\n2\tb.png\t-\t1\n");
	ck_assert_int_eq(cxr_refstd_load(&r, p, NULL), 0);
	ck_assert_int_eq(r.tsv, 1);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.unknown, 1);
	cxr_refstd_free(&r);
	ck_assert_int_eq(cxr_refstd_load(&r, p, "rad"), 0);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_int_eq(r.label[0], 0);
	ck_assert_int_eq(r.label[1], 1);
	ck_assert_int_eq(r.line[1], 3);
	cxr_refstd_free(&r);
	ck_assert_int_eq(cxr_refstd_load(&r, p, "consensus"), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "no 'consensus' column"));
	remove_file(p);
	/* a name alone is no reference */
	p = file_with("a.png 1\nb.png\n");
	ck_assert_int_eq(cxr_refstd_load(&r, p, NULL), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "line 2: b.png has no label"));
	remove_file(p);
	/* a TSV naming an image twice */
	p = file_with("image\tlabel\na.png\t1\nb.png\t0\na.png\t1\n");
	ck_assert_int_eq(cxr_refstd_load(&r, p, NULL), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "line 4: image a.png listed again (first on line 2)"));
	remove_file(p);
	/* only unknown labels, or nothing */
	p = file_with("a.png -\n");
	ck_assert_int_eq(cxr_refstd_load(&r, p, NULL), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "no image labelled 0 or 1 (1 labelled '-')"));
	remove_file(p);
	p = file_with("");
	ck_assert_int_eq(cxr_refstd_load(&r, p, NULL), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "empty (no labels)"));
	remove_file(p);
}
END_TEST

/* Scores of six images with a sex column; the labels are ignored. */
static void scores_of(cxr_scores *s, const char *tsv)
{
	FILE *f = text(tsv);
	const char *groups[] = {"sex"};
	cxr_scores_opt o = {.want_image = 1, .no_label = 1, .group_cols = groups, .ngroup = 1};
	ck_assert_int_eq(cxr_scores_read(s, f, "s.tsv", &o), 0);
	fclose(f);
}

static const char *SCORES = "image\tscore\tlabel\tsex\n"
			    "f.png\t0.9\t-\tM\n"
			    "a.png\t0.1\t1\tF\n"
			    "x.png\t0.5\t0\tX\n" /* the only X: not in the reference */
			    "c.png\t0.7\t0\tM\n"
			    "b.png\t0.3\t-\tF\n"
			    "y.png\t0.2\t1\tF\n";

START_TEST(test_join)
{
	cxr_scores s;
	scores_of(&s, SCORES);
	ck_assert_uint_eq(s.n, 6); /* no_label: every row, "-" too */
	ck_assert_int_eq(s.skipped, 0);
	char *p = file_with("q.png 1\nc.png 1\na.png 0\nb.png 1\nf.png 0\nr.png 0\ny.png -\n");
	cxr_refstd r;
	ck_assert_int_eq(cxr_refstd_load(&r, p, NULL), 0);
	cxr_refstd_join j;
	ck_assert_int_eq(cxr_refstd_join_scores(&s, &r, &j), 0);
	ck_assert_uint_eq(j.scores, 6);
	ck_assert_uint_eq(j.labels, 6);
	ck_assert_uint_eq(j.matched, 4);
	ck_assert_uint_eq(j.scores_unmatched, 2); /* x.png, y.png (labelled '-') */
	ck_assert_uint_eq(j.labels_unmatched, 2); /* q.png, r.png */
	ck_assert_str_eq(j.first_score, "x.png");
	ck_assert_str_eq(j.first_label, "q.png"); /* the first by line, not by name */
	/* the scores file's order, the reference's labels */
	const char *img[] = {"f.png", "a.png", "c.png", "b.png"};
	double sc[] = {0.9, 0.1, 0.7, 0.3};
	int lab[] = {0, 0, 1, 1};
	long line[] = {2, 3, 5, 6};
	ck_assert_uint_eq(s.n, 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(s.image[i], img[i]);
		ck_assert_double_eq(s.score[i], sc[i]);
		ck_assert_int_eq(s.label[i], lab[i]);
		ck_assert_int_eq(s.line[i], line[i]);
	}
	/* the sex column holds M and F only now: X went with x.png */
	cxr_column *c = &s.group[0];
	ck_assert_int_eq(c->nvalue, 2);
	ck_assert_str_eq(c->value[c->id[0]], "M");
	ck_assert_str_eq(c->value[c->id[1]], "F");
	ck_assert_str_eq(c->value[c->id[2]], "M");
	ck_assert_str_eq(c->value[c->id[3]], "F");
	ck_assert_int_eq(cxr_scores_need_both(&s), 0);
	char msg[512];
	cxr_refstd_describe(msg, sizeof msg, &s, &r, &j);
	ck_assert_str_eq(strstr(msg, "/ref: "), "/ref: 6 labels, s.tsv: 6 scores; 4 matched, 2 scores "
			 "without a label (e.g. x.png), 2 labels without a score (e.g. q.png) (1 "
			 "images labelled '-' left out)");
	cxr_scores_free(&s);
	cxr_refstd_free(&r);
	remove_file(p);
}
END_TEST

START_TEST(test_join_whole)
{
	cxr_scores s;
	scores_of(&s, SCORES);
	char *p = file_with("image\tlabel\nx.png\t1\ny.png\t0\nf.png\t1\na.png\t0\nb.png\t1\nc.png\t0\n");
	cxr_refstd r;
	ck_assert_int_eq(cxr_refstd_load(&r, p, NULL), 0);
	cxr_refstd_join j;
	ck_assert_int_eq(cxr_refstd_join_scores(&s, &r, &j), 0);
	ck_assert_uint_eq(j.matched, 6);
	ck_assert_uint_eq(j.scores_unmatched + j.labels_unmatched, 0);
	char msg[512];
	cxr_refstd_describe(msg, sizeof msg, &s, &r, &j);
	ck_assert_str_eq(strstr(msg, "/ref: "), "/ref: 6 labels, s.tsv: 6 scores; 6 matched, every "
			 "score labelled, every label scored");
	ck_assert_int_eq(s.group[0].nvalue, 3);
	ck_assert_int_eq(s.label[2], 1); /* x.png */
	cxr_scores_free(&s);
	cxr_refstd_free(&r);
	remove_file(p);
}
END_TEST

START_TEST(test_join_errors)
{
	cxr_scores s;
	scores_of(&s, "image\tscore\tsex\na.png\t0.1\tF\nb.png\t0.2\tM\na.png\t0.3\tF\n");
	char *p = file_with("a.png 1\nb.png 0\n");
	cxr_refstd r;
	ck_assert_int_eq(cxr_refstd_load(&r, p, NULL), 0);
	cxr_refstd_join j;
	ck_assert_int_eq(cxr_refstd_join_scores(&s, &r, &j), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "s.tsv: line 4: image a.png already on line 2"));
	ck_assert_uint_eq(s.n, 3); /* unchanged */
	cxr_scores_free(&s);
	/* names that differ by a folder match nothing: say so */
	scores_of(&s, "image\tscore\tsex\nimages/a.png\t0.1\tF\nimages/b.png\t0.2\tM\n");
	ck_assert_int_eq(cxr_refstd_join_scores(&s, &r, &j), -1);
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "no scored image has a label"));
	ck_assert_ptr_nonnull(strstr(cxr_errmsg(), "e.g. images/a.png, the reference e.g. a.png"));
	ck_assert_uint_eq(s.n, 2);
	cxr_scores_free(&s);
	cxr_refstd_free(&r);
	remove_file(p);
}
END_TEST

START_TEST(test_keep)
{
	cxr_scores s;
	scores_of(&s, SCORES);
	unsigned char keep[6] = {0, 0, 0, 0, 0, 0};
	cxr_scores_keep(&s, keep);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_int_eq(s.group[0].nvalue, 0);
	ck_assert_int_eq(cxr_scores_need_both(&s), -1);
	cxr_scores_free(&s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("refstd");
	TCase *tc = tcase_create("refstd");
	tcase_add_test(tc, test_list_lines);
	tcase_add_test(tc, test_list_errors);
	tcase_add_test(tc, test_reference_forms);
	tcase_add_test(tc, test_join);
	tcase_add_test(tc, test_join_whole);
	tcase_add_test(tc, test_join_errors);
	tcase_add_test(tc, test_keep);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return test_run_suite(suite()); }
