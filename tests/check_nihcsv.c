/* nihcsv: the three real layouts of NIH's label file (v2020, 2017 with a
 * trailing empty column, Kaggle's CRLF sample with "058Y" ages), and every
 * kind of malformed row, each an error naming the line. */
#include <math.h>
#include <string.h>

#include "base/cli.h"
#include "data/nihcsv.h"
#include "testutil.h"

/* Reads all rows of text (flags as for cxr_nihcsv_open) into rows[] (up
 * to max, may be NULL). Returns the number of rows, or -1 if opening
 * failed or -(2 + rows) if a row failed; cxr_errmsg() then says why. */
typedef struct result {
	long n, skipped, warnings;
	int failed;  /* 0 ok, 1 open failed, 2 a row failed */
	char err[1024];
} result;

static result read_text(const char *text, int flags, cxr_sample *rows, int max)
{
	result res = {0};
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	ck_assert_ptr_nonnull(f);
	cxr_nihcsv *r = cxr_nihcsv_open(f, "x.csv", flags | CXR_NIHCSV_QUIET);
	if (!r) {
		res.failed = 1;
		snprintf(res.err, sizeof res.err, "%s", cxr_errmsg());
		fclose(f);
		return res;
	}
	cxr_sample m;
	cxr_sample_init(&m);
	int rc;
	while ((rc = cxr_nihcsv_next(r, &m)) == 1) {
		if (rows && res.n < max)
			cxr_sample_copy(&rows[res.n], &m);
		res.n++;
	}
	if (rc < 0) {
		res.failed = 2;
		snprintf(res.err, sizeof res.err, "%s", cxr_errmsg());
	}
	res.skipped = cxr_nihcsv_nskipped(r);
	res.warnings = cxr_nihcsv_nwarnings(r);
	cxr_sample_free(&m);
	cxr_nihcsv_close(r);
	fclose(f);
	return res;
}

static void free_rows(cxr_sample *rows, int n)
{
	for (int i = 0; i < n; i++)
		cxr_sample_free(&rows[i]);
}

#define HDR "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age," \
	    "Patient Gender,View Position,OriginalImage[Width,Height]," \
	    "OriginalImagePixelSpacing[x,y]\n"
#define ROW(img, find, fu, pid, age, sex) \
	img "," find "," fu "," pid "," age "," sex ",PA,2500,2048,0.143,0.143\n"

/* Expects a row error whose message contains each of the strings. */
static void expect_error(const char *text, const char *want1, const char *want2)
{
	result r = read_text(text, 0, NULL, 0);
	ck_assert_int_eq(r.failed, 2);
	ck_assert_msg(strstr(r.err, want1), "'%s' lacks '%s'", r.err, want1);
	if (want2)
		ck_assert_msg(strstr(r.err, want2), "'%s' lacks '%s'", r.err, want2);
	/* --skip-bad reads past it */
	result s = read_text(text, CXR_NIHCSV_SKIP_BAD, NULL, 0);
	ck_assert_int_eq(s.failed, 0);
	ck_assert_int_eq(s.skipped, 1);
	ck_assert_int_ge(s.n, r.n);
}

START_TEST(test_full_v2020)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "gzip -dc < '%s'", test_data("nih/Data_Entry_2017_v2020.csv.gz"));
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	cxr_nihcsv *r = cxr_nihcsv_open(f, "Data_Entry_2017_v2020.csv", 0);
	ck_assert_ptr_nonnull(r);
	cxr_sample m;
	cxr_sample_init(&m);
	long n = 0, normal = 0, male = 0, pa = 0;
	double amin = 1e9, amax = -1;
	while (cxr_nihcsv_next(r, &m) == 1) {
		if (n == 0) { /* 00000001_000.png,Cardiomegaly,0,1,57,M,PA,... */
			ck_assert_str_eq(m.image, "00000001_000.png");
			ck_assert_str_eq(m.findings, "Cardiomegaly");
			ck_assert_int_eq(m.label, 1);
			ck_assert_str_eq(m.patient, "1");
			ck_assert_int_eq(m.followup, 0);
			ck_assert_double_eq(m.age, 57);
			ck_assert_int_eq(m.sex, CXR_SEX_M);
			ck_assert_str_eq(m.view, "PA");
		}
		n++;
		normal += m.label == 0;
		ck_assert_int_eq(m.label == 0, !strcmp(m.findings, "No Finding"));
		male += m.sex == CXR_SEX_M;
		pa += !strcmp(m.view, "PA");
		ck_assert(!isnan(m.age));
		amin = fmin(amin, m.age);
		amax = fmax(amax, m.age);
	}
	ck_assert_int_eq(n, 112120);
	ck_assert_int_eq(cxr_nihcsv_nrows(r), 112120);
	ck_assert_int_eq(normal, 60361);
	ck_assert_int_eq(cxr_nihcsv_nwarnings(r), 0);
	ck_assert_int_eq(cxr_nihcsv_lineno(r), 112121);
	ck_assert_double_eq(amin, 0);
	ck_assert_double_eq(amax, 95);
	ck_assert(male > 0 && male < n && pa > 0 && pa < n);
	cxr_sample_free(&m);
	cxr_nihcsv_close(r);
	ck_assert_int_eq(pclose(f), 0);
}
END_TEST

START_TEST(test_kaggle_sample)
{
	/* CRLF lines, "058Y" ages, one "013M", one "001D", one "411Y". */
	FILE *f = fopen(test_data("nih/sample_labels_excerpt.csv"), "r");
	ck_assert_ptr_nonnull(f);
	cxr_nihcsv *r = cxr_nihcsv_open(f, "sample.csv", CXR_NIHCSV_QUIET);
	ck_assert_ptr_nonnull(r);
	cxr_sample m;
	cxr_sample_init(&m);
	long n = 0, unknown_age = 0;
	while (cxr_nihcsv_next(r, &m) == 1) {
		n++;
		ck_assert(!strchr(m.view, '\r'));
		if (n == 1) { /* 00000013_005.png,...,5,13,060Y,M,AP */
			ck_assert_str_eq(m.image, "00000013_005.png");
			ck_assert_int_eq(m.followup, 5);
			ck_assert_str_eq(m.patient, "13");
			ck_assert_double_eq(m.age, 60);
			ck_assert_str_eq(m.view, "AP");
		}
		if (!strcmp(m.image, "00019045_003.png"))
			ck_assert_double_eq_tol(m.age, 13.0 / 12, 1e-12);
		if (!strcmp(m.image, "00024680_000.png"))
			ck_assert_double_eq_tol(m.age, 1 / 365.25, 1e-12);
		if (!strcmp(m.image, "00020900_002.png")) {
			ck_assert(isnan(m.age)); /* 411Y */
			ck_assert_int_eq(cxr_nihcsv_lineno(r), 303);
		}
		unknown_age += isnan(m.age);
	}
	ck_assert_int_eq(n, 303);
	ck_assert_int_eq(unknown_age, 1);
	ck_assert_int_eq(cxr_nihcsv_nwarnings(r), 1);
	cxr_sample_free(&m);
	cxr_nihcsv_close(r);
	fclose(f);
}
END_TEST

START_TEST(test_2017_trailing_column)
{
	FILE *f = fopen(test_data("nih/data_entry_2017_excerpt.csv"), "r");
	ck_assert_ptr_nonnull(f);
	cxr_nihcsv *r = cxr_nihcsv_open(f, "2017.csv", 0);
	ck_assert_ptr_nonnull(r);
	cxr_sample m;
	cxr_sample_init(&m);
	long n = 0;
	while (cxr_nihcsv_next(r, &m) == 1)
		n++;
	ck_assert_int_eq(n, 20);
	ck_assert_str_eq(m.image, "00000005_006.png");
	cxr_sample_free(&m);
	cxr_nihcsv_close(r);
	fclose(f);

	/* a row may leave out the empty trailing field, but not add one */
	const char *hdr = "Image Index,Finding Labels,Patient ID,X,\n";
	char buf[512];
	snprintf(buf, sizeof buf, "%sa.png,No Finding,1,x,\nb.png,Mass,2,y\n", hdr);
	result res = read_text(buf, 0, NULL, 0);
	ck_assert_int_eq(res.failed, 0);
	ck_assert_int_eq(res.n, 2);
	snprintf(buf, sizeof buf, "%sa.png,No Finding,1,x,,\n", hdr);
	expect_error(buf, "x.csv: line 2: 6 fields, the header has 5", "4 without");
}
END_TEST

START_TEST(test_values)
{
	const char *text =
		"\xEF\xBB\xBFimage index,FINDING LABELS,Patient ID,Patient Sex,Patient Age,Follow-up #\r\n"
		"a.png,No Finding,00000003,F,058Y,000\r\n"
		"b.png,No_Finding,3,m,6M,1\r\n"
		"c.png,Effusion|Mass,12,X,130,2\r\n"
		"d.png,,12,-,-5,3\r\n"
		"e.png,Hernia,12,,,4\r\n"
		"\"f.png\",\"Mass\",12,\"F\",\"abc\",5\r\n";
	cxr_sample rows[8];
	for (int i = 0; i < 8; i++)
		cxr_sample_init(&rows[i]);
	result r = read_text(text, 0, rows, 8);
	ck_assert_int_eq(r.failed, 0);
	ck_assert_int_eq(r.n, 6);
	ck_assert_int_eq(r.warnings, 5); /* X, 130, empty findings, -5, abc */
	ck_assert_str_eq(rows[0].image, "a.png");
	ck_assert_str_eq(rows[0].patient, "3");
	ck_assert_int_eq(rows[0].label, 0);
	ck_assert_int_eq(rows[0].sex, CXR_SEX_F);
	ck_assert_double_eq(rows[0].age, 58);
	ck_assert_int_eq(rows[0].followup, 0);
	ck_assert_str_eq(rows[0].view, ""); /* no View Position column */
	ck_assert_int_eq(rows[1].label, 0);
	ck_assert_int_eq(rows[1].sex, CXR_SEX_M);
	ck_assert_double_eq(rows[1].age, 0.5);
	ck_assert_int_eq(rows[2].label, 1);
	ck_assert_str_eq(rows[2].findings, "Effusion|Mass");
	ck_assert_int_eq(rows[2].sex, CXR_SEX_UNKNOWN);
	ck_assert(isnan(rows[2].age));
	ck_assert_int_eq(rows[3].label, CXR_LABEL_UNKNOWN);
	ck_assert(isnan(rows[3].age));
	ck_assert_int_eq(rows[3].sex, CXR_SEX_UNKNOWN);
	ck_assert(isnan(rows[4].age));
	ck_assert_str_eq(rows[5].image, "f.png");
	ck_assert_int_eq(rows[5].sex, CXR_SEX_F);
	ck_assert(isnan(rows[5].age));
	free_rows(rows, 8);
}
END_TEST

START_TEST(test_line_numbers)
{
	/* blank lines and a quoted field over two lines keep the count right */
	const char *text =
		"Image Index,Finding Labels,Patient ID,Note\n"
		"a.png,Mass,1,\"two\nlines\"\n"
		"\n"
		"b.png,Mass,2,x\n"
		"\r\n"
		"c.png,Mass,3\n";
	result r = read_text(text, 0, NULL, 0);
	ck_assert_int_eq(r.failed, 2);
	ck_assert_int_eq(r.n, 2);
	ck_assert_str_eq(r.err, "x.csv: line 7: 3 fields, the header has 4");
}
END_TEST

START_TEST(test_malformed)
{
	expect_error(HDR ROW("a.png", "Mass", "0", "1", "58", "M")
		     "b.png,Mass,0,1,58,M,PA,2500,2048,0.143\n",
		     "x.csv: line 3: 10 fields, the header has 11", NULL);
	expect_error(HDR ROW("", "Mass", "0", "1", "58", "M"),
		     "x.csv: line 2: empty Image Index", NULL);
	expect_error(HDR ROW("a.png", "Mass", "0", "1", "58", "M")
		     ROW("b.png", "Mass", "0", "p7", "58", "M"),
		     "x.csv: line 3: Patient ID 'p7'", NULL);
	expect_error(HDR ROW("a.png", "Mass", "0", "", "58", "M"),
		     "x.csv: line 2: Patient ID ''", NULL);
	expect_error(HDR ROW("a.png", "Mass", "0", "-1", "58", "M"),
		     "x.csv: line 2: Patient ID '-1'", NULL);
	expect_error(HDR ROW("a.png", "Mass", "0", "99999999999999999999", "58", "M"),
		     "x.csv: line 2: Patient ID", NULL);
	expect_error(HDR ROW("a.png", "Mass", "1.5", "1", "58", "M"),
		     "x.csv: line 2: Follow-up # '1.5'", NULL);
	expect_error(HDR ROW("a.png", "Mass", "0", "1", "58", "M")
		     ROW("b.png", "Mass", "0", "1", "58", "M")
		     ROW("a.png", "Mass", "0", "1", "58", "M"),
		     "x.csv: line 4: image a.png again", "first on line 2");
	expect_error(HDR ROW("a.png", "\"Mass\tEffusion\"", "0", "1", "58", "M"),
		     "x.csv: line 2: tab or line break in Finding Labels", NULL);
	expect_error(HDR ROW("\"a\nb.png\"", "Mass", "0", "1", "58", "M"),
		     "x.csv: line 2: tab or line break in Image Index", NULL);

	/* a duplicate of a skipped row is no duplicate */
	result r = read_text(HDR ROW("a.png", "Mass", "0", "x", "58", "M")
			     ROW("a.png", "Mass", "0", "1", "58", "M"),
			     CXR_NIHCSV_SKIP_BAD, NULL, 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.skipped, 1);
}
END_TEST

START_TEST(test_quoting_errors)
{
	/* fatal even with --skip-bad: the parser cannot tell where rows resume */
	const char *stray = HDR ROW("a.png", "Ma\"ss", "0", "1", "58", "M");
	for (int flags = 0; flags <= CXR_NIHCSV_SKIP_BAD; flags += CXR_NIHCSV_SKIP_BAD) {
		result r = read_text(stray, flags, NULL, 0);
		ck_assert_int_eq(r.failed, 2);
		ck_assert_msg(strstr(r.err, "x.csv: line 2: CSV quoting error"), "%s", r.err);
		r = read_text(HDR ROW("a.png", "Mass", "0", "1", "58", "M")
			      ROW("\"b.png", "Mass", "0", "1", "58", "M")
			      ROW("c.png", "Mass", "0", "1", "58", "M"), flags, NULL, 0);
		ck_assert_int_eq(r.failed, 2);
		ck_assert_int_eq(r.n, 1);
		ck_assert_str_eq(r.err, "x.csv: line 3: quoted field not closed "
			       "before the end of the input");
	}
}
END_TEST

START_TEST(test_header)
{
	result r = read_text("", 0, NULL, 0);
	ck_assert_int_eq(r.failed, 1);
	ck_assert_str_eq(r.err, "x.csv: empty input, no header line");
	r = read_text("\n\n", 0, NULL, 0);
	ck_assert_int_eq(r.failed, 1);
	r = read_text("Image Index,Finding Labels,Patient\na.png,Mass,1\n", 0, NULL, 0);
	ck_assert_int_eq(r.failed, 1);
	ck_assert_str_eq(r.err, "x.csv: line 1: no 'Patient ID' column in the header");
	r = read_text("Image Index,Finding Labels,Patient ID,Patient Sex,Patient Gender\n", 0, NULL, 0);
	ck_assert_int_eq(r.failed, 1);
	ck_assert_msg(strstr(r.err, "two columns named"), "%s", r.err);
	/* header only: no rows, no error */
	r = read_text("Image Index,Finding Labels,Patient ID", 0, NULL, 0);
	ck_assert_int_eq(r.failed, 0);
	ck_assert_int_eq(r.n, 0);
	/* no newline after the last row */
	r = read_text("Image Index,Finding Labels,Patient ID\na.png,Mass,1", 0, NULL, 0);
	ck_assert_int_eq(r.failed, 0);
	ck_assert_int_eq(r.n, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("nihcsv");
	TCase *tc = tcase_create("nihcsv");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_full_v2020);
	tcase_add_test(tc, test_kaggle_sample);
	tcase_add_test(tc, test_2017_trailing_column);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_line_numbers);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_quoting_errors);
	tcase_add_test(tc, test_header);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return test_run_suite(suite()); }
