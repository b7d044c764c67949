/* sample — see sample.h. */
#include "data/sample.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"

void cxr_sample_init(cxr_sample *m)
{
	memset(m, 0, sizeof *m);
	m->label = CXR_LABEL_UNKNOWN;
	m->followup = -1;
	m->age = NAN;
	m->sex = CXR_SEX_UNKNOWN;
}

void cxr_sample_free(cxr_sample *m)
{
	free(m->image);
	free(m->findings);
	free(m->patient);
	free(m->view);
	cxr_sample_init(m);
}

static char *dup_or_null(const char *s) { return s ? cxr_xstrdup(s) : NULL; }

void cxr_sample_copy(cxr_sample *dst, const cxr_sample *src)
{
	*dst = *src;
	dst->image = dup_or_null(src->image);
	dst->findings = dup_or_null(src->findings);
	dst->patient = dup_or_null(src->patient);
	dst->view = dup_or_null(src->view);
}

const char *cxr_label_str(int label)
{
	return label == 0 ? "0" : label == 1 ? "1" : "-";
}

void cxr_age_str(double age, char buf[32])
{
	if (isnan(age))
		strcpy(buf, "-");
	else
		snprintf(buf, 32, "%.10g", age);
}

const char *cxr_sex_str(int sex)
{
	return sex == CXR_SEX_M ? "M" : sex == CXR_SEX_F ? "F" : "-";
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

void cxr_sample_print(FILE *f, const cxr_sample *m)
{
	char age[32];
	cxr_age_str(m->age, age);
	fprintf(f, "%s\t%s\t%s\t%s\t", or_dash(m->image), cxr_label_str(m->label),
		or_dash(m->findings), or_dash(m->patient));
	if (m->followup >= 0)
		fprintf(f, "%d", m->followup);
	else
		fputc('-', f);
	fprintf(f, "\t%s\t%s\t%s", age, cxr_sex_str(m->sex), or_dash(m->view));
}

int cxr_label_parse(const char *s, int *label)
{
	if (!strcmp(s, "0") || !strcmp(s, "1")) {
		*label = s[0] - '0';
		return 0;
	}
	if (!strcmp(s, "-") || !*s) {
		*label = CXR_LABEL_UNKNOWN;
		return 0;
	}
	return -1;
}

/* NIH writes ages as "58" (v2020) or "058Y" (2017, Kaggle); a few use
 * months or days. Fractions of a year keep infants' ages meaningful. */
int cxr_age_parse(const char *s, double *age)
{
	if (!strcmp(s, "-") || !*s) {
		*age = NAN;
		return 0;
	}
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !isfinite(v))
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 0:
	case 'Y':
		break;
	case 'M':
		v /= 12;
		break;
	case 'W':
		v = v * 7 / 365.25;
		break;
	case 'D':
		v /= 365.25;
		break;
	default:
		return -1;
	}
	if (*end && end[1])
		return -1;
	*age = v;
	return 0;
}

int cxr_sex_parse(const char *s, int *sex)
{
	if (!strcmp(s, "M") || !strcmp(s, "m")) {
		*sex = CXR_SEX_M;
		return 0;
	}
	if (!strcmp(s, "F") || !strcmp(s, "f")) {
		*sex = CXR_SEX_F;
		return 0;
	}
	if (!strcmp(s, "-") || !*s) {
		*sex = CXR_SEX_UNKNOWN;
		return 0;
	}
	return -1;
}
