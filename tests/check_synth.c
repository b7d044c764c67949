/* check_synth — the synthetic data generator: plan distributions, names,
 * determinism, and that the class signal is in the lesions, not in the
 * image's overall brightness. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"
#include "data/synth.h"
#include "testutil.h"

START_TEST(plan_shape)
{
	cxr_synth_plan p;
	ck_assert_int_eq(cxr_synth_plan_make(&p, 20000, 0, 1), 0);
	ck_assert_int_eq(p.n, 20000);
	long ab = 0, ap = 0, male = 0, single = 0, young = 0, old = 0, per = 0, maxper = 0;
	for (long i = 0; i < p.n; i++) {
		const cxr_synth_row *r = &p.rows[i];
		if (i == 0 || r->patient != p.rows[i - 1].patient) {
			/* patients numbered 1, 2, ... in order, follow-ups from 0 */
			ck_assert_int_eq(r->patient, i ? p.rows[i - 1].patient + 1 : 1);
			ck_assert_int_eq(r->followup, 0);
			single += i + 1 == p.n || p.rows[i + 1].patient != r->patient;
			per = 0;
		} else {
			ck_assert_int_eq(r->followup, p.rows[i - 1].followup + 1);
			ck_assert_int_eq(r->sex, p.rows[i - 1].sex);
			ck_assert_int_ge(r->age, p.rows[i - 1].age);
		}
		if (++per > maxper)
			maxper = per;
		ck_assert(r->age >= 1 && r->age <= 95);
		ck_assert(r->sex == 'M' || r->sex == 'F');
		ab += r->findings != 0;
		ap += r->ap;
		male += r->sex == 'M';
		young += r->age < 20;
		old += r->age > 80;
	}
	ck_assert_int_eq(p.rows[p.n - 1].patient, p.npatients);
	/* NIH: 3.6 images a patient, 46% abnormal, 40% AP, 56% male, most
	 * ages 20-80 */
	double ipp = (double)p.n / p.npatients;
	ck_assert_msg(ipp > 3 && ipp < 4.5, "images per patient %g", ipp);
	ck_assert_msg(single > p.npatients * 0.4, "single-image patients %ld", single);
	ck_assert_int_le(maxper, 20);
	ck_assert_msg(ab > 0.42 * p.n && ab < 0.50 * p.n, "abnormal %ld", ab);
	ck_assert_msg(ap > 0.33 * p.n && ap < 0.46 * p.n, "AP %ld", ap);
	ck_assert_msg(male > 0.52 * p.n && male < 0.60 * p.n, "male %ld", male);
	ck_assert_msg(young + old < 0.15 * p.n, "outside 20-80: %ld", young + old);
	cxr_synth_plan_free(&p);
}
END_TEST

START_TEST(plan_patients)
{
	cxr_synth_plan p;
	ck_assert_int_eq(cxr_synth_plan_make(&p, 1200, 400, 5), 0);
	ck_assert_int_eq(p.n, 1200);
	ck_assert_int_eq(p.npatients, 400);
	ck_assert_int_eq(p.rows[1199].patient, 400);
	cxr_synth_plan_free(&p);
	/* one patient, every image; as many patients as images */
	ck_assert_int_eq(cxr_synth_plan_make(&p, 50, 1, 5), 0);
	ck_assert_int_eq(p.rows[49].patient, 1);
	ck_assert_int_eq(p.rows[49].followup, 49);
	cxr_synth_plan_free(&p);
	ck_assert_int_eq(cxr_synth_plan_make(&p, 50, 50, 5), 0);
	ck_assert_int_eq(p.rows[49].patient, 50);
	cxr_synth_plan_free(&p);
	ck_assert_int_eq(cxr_synth_plan_make(&p, 10, 11, 5), -1);
	ck_assert_int_eq(cxr_synth_plan_make(&p, 0, 0, 5), 0);
	ck_assert_int_eq(p.n, 0);
	cxr_synth_plan_free(&p);
}
END_TEST

START_TEST(plan_deterministic)
{
	cxr_synth_plan a, b, c;
	ck_assert_int_eq(cxr_synth_plan_make(&a, 3000, 0, 42), 0);
	ck_assert_int_eq(cxr_synth_plan_make(&b, 3000, 0, 42), 0);
	ck_assert_int_eq(cxr_synth_plan_make(&c, 3000, 0, 43), 0);
	ck_assert_int_eq(a.npatients, b.npatients);
	ck_assert_mem_eq(a.rows, b.rows, a.n * sizeof *a.rows);
	ck_assert(a.npatients != c.npatients || memcmp(a.rows, c.rows, a.n * sizeof *a.rows));
	cxr_synth_plan_free(&a);
	cxr_synth_plan_free(&b);
	cxr_synth_plan_free(&c);
}
END_TEST

START_TEST(names)
{
	char buf[256];
	cxr_synth_row r = {.patient = 42, .followup = 3};
	cxr_synth_image_name(&r, buf);
	ck_assert_str_eq(buf, "00000042_003.png");
	cxr_synth_findings_str(0, buf);
	ck_assert_str_eq(buf, "No Finding");
	cxr_synth_findings_str(1u << 4 | 1u << 1, buf);
	ck_assert_str_eq(buf, "Cardiomegaly|Effusion");
	cxr_synth_findings_str((1u << CXR_SYNTH_NFINDINGS) - 1, buf);
	ck_assert_str_eq(buf, "Atelectasis|Cardiomegaly|Consolidation|Edema|Effusion|"
		"Emphysema|Fibrosis|Hernia|Infiltration|Mass|Nodule|Pleural_Thickening|"
		"Pneumonia|Pneumothorax");
	cxr_synth_subdir(0, 10000, buf);
	ck_assert_str_eq(buf, "images_001/images");
	cxr_synth_subdir(10000, 10000, buf);
	ck_assert_str_eq(buf, "images_002/images");
	cxr_synth_subdir(112119, 10000, buf);
	ck_assert_str_eq(buf, "images_012/images");
}
END_TEST

START_TEST(csv_rows)
{
	cxr_synth_plan p;
	ck_assert_int_eq(cxr_synth_plan_make(&p, 300, 0, 9), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_int_eq(cxr_synth_write_csv(f, "mem", &p), 0);
	fclose(f);
	/* the header, then one LF-ended row of 11 fields per image */
	size_t hl = strlen(CXR_NIH_CSV_HEADER);
	ck_assert(!strncmp(buf, CXR_NIH_CSV_HEADER "\n", hl + 1));
	long lines = 0;
	int commas = 0;
	for (char *s = buf; *s; s++) {
		ck_assert(*s != '\r' && *s != '"');
		if (*s == ',')
			commas++;
		if (*s == '\n') {
			ck_assert_int_eq(commas, 10);
			commas = 0;
			lines++;
		}
	}
	ck_assert_int_eq(lines, 301);
	ck_assert(!strncmp(buf + hl + 1, "00000001_000.png,", 17));
	free(buf);
	cxr_synth_plan_free(&p);
}
END_TEST

START_TEST(render_deterministic)
{
	cxr_synth_row r = {.patient = 7, .followup = 2, .age = 60, .sex = 'F',
		.findings = 1u << 9};
	enum { S = 96 };
	uint8_t a[S * S], b[S * S];
	cxr_synth_render(a, S, 11, &r);
	cxr_synth_render(b, S, 11, &r);
	ck_assert_mem_eq(a, b, sizeof a);
	cxr_synth_render(b, S, 12, &r);
	ck_assert(memcmp(a, b, sizeof a));
	/* a picture, not a flat field: dark background, bright spine */
	int lo = 255, hi = 0;
	for (int i = 0; i < S * S; i++) {
		lo = a[i] < lo ? a[i] : lo;
		hi = a[i] > hi ? a[i] : hi;
	}
	ck_assert_int_lt(lo, 60);
	ck_assert_int_gt(hi, 150);
}
END_TEST

/* The class signal, on small pictures: (1) the mean brightness does not
 * separate the classes (its AUC is near 0.5); (2) nearly every abnormal
 * film differs visibly from the same film without its findings, and a
 * nodule or mass is a bright spot: a local change, not a global one;
 * (3) a normal film is unchanged by the findings machinery. */
START_TEST(class_signal)
{
	enum { N = 800, S = 64 };
	cxr_synth_plan p;
	ck_assert_int_eq(cxr_synth_plan_make(&p, N, 0, 3), 0);
	double *mean = calloc(N, sizeof *mean);
	int *lab = calloc(N, sizeof *lab);
	static uint8_t a[S * S], b[S * S];
	long nab = 0, changed = 0, spots = 0, spots_ok = 0;
	for (long i = 0; i < N; i++) {
		const cxr_synth_row *r = &p.rows[i];
		cxr_synth_render(a, S, p.seed, r);
		double s = 0;
		for (int k = 0; k < S * S; k++)
			s += a[k];
		mean[i] = s / (S * S);
		lab[i] = r->findings != 0;
		cxr_synth_row r0 = *r;
		r0.findings = 0;
		cxr_synth_render(b, S, p.seed, &r0);
		int md = 0, up = 0, wide = 0;
		for (int k = 0; k < S * S; k++) {
			int d = a[k] - b[k];
			md = abs(d) > md ? abs(d) : md;
			up = d > up ? d : up;
			wide += abs(d) >= 5;
		}
		if (!lab[i]) {
			ck_assert_int_eq(md, 0);
			continue;
		}
		nab++;
		changed += md >= 10;
		if (r->findings == 1u << 9 || r->findings == 1u << 10) { /* Mass, Nodule */
			spots++;
			spots_ok += up >= 15 && wide < S * S / 40;
		}
	}
	cxr_auc auc;
	ck_assert_int_eq(cxr_auc_delong(mean, lab, N, &auc), 0);
	ck_assert_msg(fabs(auc.auc - 0.5) < 0.06, "AUC of mean brightness %g", auc.auc);
	ck_assert_msg(nab > 300, "abnormal %ld", nab);
	ck_assert_msg(changed >= 0.97 * nab, "%ld of %ld abnormal films show a lesion", changed, nab);
	ck_assert_msg(spots > 10 && spots_ok >= 0.9 * spots, "%ld of %ld nodule or mass films "
		"show a bright spot", spots_ok, spots);
	free(mean);
	free(lab);
	cxr_synth_plan_free(&p);
}
END_TEST

static Suite *synth_suite(void)
{
	Suite *s = suite_create("synth");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, plan_shape);
	tcase_add_test(tc, plan_patients);
	tcase_add_test(tc, plan_deterministic);
	tcase_add_test(tc, names);
	tcase_add_test(tc, csv_rows);
	tcase_add_test(tc, render_deterministic);
	tcase_add_test(tc, class_signal);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return test_run_suite(synth_suite()); }
