/* fuzz_scores — the scores TSV reader (lib/eval/scores_file.h), from a
 * FILE without a descriptor, three ways: with the default options; with
 * the image column and the group columns "age" and "sex" kept, then
 * grouped (cxr_groups_build by value and by buckets of 10) and matched
 * with itself (cxr_scores_match); and with "findings" as the label column. */
#include <math.h>

#include "eval/scores_file.h"
#include "fuzz.h"

static void read_scores(const uint8_t *data, size_t size, const cxr_scores_opt *o)
{
	FILE *f = fuzz_memfile(data, size);
	cxr_scores s;
	if (cxr_scores_read(&s, f, "fuzz.tsv", o) < 0) {
		fuzz_touch_str(cxr_errmsg());
		fclose(f);
		return;
	}
	fclose(f);
	for (size_t i = 0; i < s.n; i++) {
		if (!isfinite(s.score[i]) || (s.label[i] != 0 && s.label[i] != 1))
			abort();
		if (o && o->want_image)
			fuzz_touch_str(s.image[i]);
	}
	fuzz_touch_str(s.model);
	(void)cxr_scores_need_both(&s);
	if (o && o->want_image) {
		size_t *b_of_a = malloc((s.n ? s.n : 1) * sizeof *b_of_a);
		if (cxr_scores_match(&s, &s, b_of_a) == 0)
			for (size_t i = 0; i < s.n; i++)
				if (b_of_a[i] != i)
					abort();
		free(b_of_a);
	}
	for (int g = 0; o && g < o->ngroup; g++)
		for (int w = 0; w < 2; w++) {
			cxr_groups gr;
			if (cxr_groups_build(&gr, &s, g, o->group_cols[g], w ? 10 : 0) < 0) {
				fuzz_touch_str(cxr_errmsg());
				continue;
			}
			for (size_t i = 0; i < gr.n; i++)
				if (gr.id[i] < 0 || gr.id[i] >= gr.ngroups)
					abort();
			for (int k = 0; k < gr.ngroups; k++)
				fuzz_touch_str(gr.names[k]);
			cxr_groups_free(&gr);
		}
	char buf[32];
	for (size_t i = 0; i < s.n && i < 16; i++)
		fuzz_touch_str(cxr_fmt_num(buf, s.score[i]));
	cxr_scores_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *groups[] = {"age", "sex"};
	cxr_scores_opt full = {.want_image = 1, .group_cols = groups, .ngroup = 2};
	cxr_scores_opt findings = {.label_col = "findings"};
	read_scores(data, size, NULL);
	read_scores(data, size, &full);
	read_scores(data, size, &findings);
	return 0;
}
