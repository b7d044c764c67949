/* sample — one sample's manifest fields, as they travel in manifests, tensor
 * streams and scores files. */
#ifndef CXR_SAMPLE_H
#define CXR_SAMPLE_H
#include <stdio.h>

enum { CXR_LABEL_UNKNOWN = -1 };
enum { CXR_SEX_UNKNOWN = 0, CXR_SEX_M = 'M', CXR_SEX_F = 'F' };

typedef struct cxr_sample {
	char *image;    /* image file name, e.g. "00000003_001.png" */
	int label;      /* 0 "No Finding", 1 any finding, CXR_LABEL_UNKNOWN */
	char *findings; /* the original labels, e.g. "Cardiomegaly|Effusion"; "" unknown */
	char *patient;  /* patient id as text, e.g. "3"; "" unknown */
	int followup;   /* follow-up number, -1 unknown */
	double age;     /* years (months and days as fractions), NaN unknown */
	int sex;        /* CXR_SEX_M, CXR_SEX_F or CXR_SEX_UNKNOWN */
	char *view;     /* "PA", "AP", ...; "" unknown */
} cxr_sample;

/* The manifest's columns, in order, tab-separated (no newline). */
#define CXR_MANIFEST_HEADER "image\tlabel\tfindings\tpatient\tfollowup\tage\tsex\tview"

void cxr_sample_init(cxr_sample *m);            /* all unknown, strings NULL */
void cxr_sample_free(cxr_sample *m);            /* frees strings, then init */
void cxr_sample_copy(cxr_sample *dst, const cxr_sample *src); /* deep copy */

/* Writes the 8 manifest fields of m, tab-separated, no newline; unknown
 * values are "-". Ages print with up to 10 significant digits. */
void cxr_sample_print(FILE *f, const cxr_sample *m);
/* Formats a label / age / sex as in the manifest ("-" when unknown). */
const char *cxr_label_str(int label);
void cxr_age_str(double age, char buf[32]);
const char *cxr_sex_str(int sex);
/* Parses those again: 0 on success, -1 if the text is not valid. */
int cxr_label_parse(const char *s, int *label);
int cxr_age_parse(const char *s, double *age); /* "58", "058Y", "6M", "12D", "-" */
int cxr_sex_parse(const char *s, int *sex);    /* "M", "F", "-", "" */

#endif
