/* synth — a synthetic data set in the NIH ChestX-ray14 layout, for the
 * demo and the tests: a label file with NIH's header and columns, and
 * chest-X-ray-like 8-bit gray PNGs in images_NNN/images/ folders.
 *
 * The abnormal class carries a learnable but not trivial signal: each
 * finding draws a lesion of its kind (a nodule or mass, a patchy opacity,
 * an effusion, an enlarged heart, ...) of random size, place and
 * conspicuity, some faint, while brightness and contrast are jittered per
 * image far more than any lesion moves the image mean, so that mean
 * brightness alone does not separate the classes.
 *
 * Everything is a function of the seed: the plan (the label rows) is drawn
 * in order from it, and each picture from (seed, patient, follow-up), so
 * the bytes written do not depend on the number of threads. */
#ifndef CXR_SYNTH_H
#define CXR_SYNTH_H
#include <stdint.h>
#include <stdio.h>

#define CXR_NIH_CSV_NAME "Data_Entry_2017_v2020.csv"
#define CXR_NIH_CSV_HEADER "Image Index,Finding Labels,Follow-up #,Patient ID," \
	"Patient Age,Patient Gender,View Position,OriginalImage[Width,Height]," \
	"OriginalImagePixelSpacing[x,y]"

/* NIH's 14 finding names, in alphabetical order (the order NIH joins them
 * with '|'); bit i of cxr_synth_row.findings is name i. */
enum { CXR_SYNTH_NFINDINGS = 14 };
extern const char *const cxr_synth_finding_names[CXR_SYNTH_NFINDINGS];

typedef struct cxr_synth_row {
	long patient;      /* 1, 2, ... */
	int followup;      /* 0, 1, ... within the patient */
	int age;           /* years, 1..95 */
	char sex;          /* 'M' or 'F' */
	char ap;           /* view: 1 AP, 0 PA */
	uint16_t findings; /* bit set of findings; 0 is "No Finding" */
	int orig;          /* index into the table of NIH original sizes */
} cxr_synth_row;

typedef struct cxr_synth_plan {
	uint64_t seed;
	long n;            /* images */
	long npatients;
	cxr_synth_row *rows; /* (n), in Image Index order */
} cxr_synth_plan;

/* Draws the label rows of nimages images from npatients patients (0: as
 * many as NIH's images-per-patient distribution gives, about one patient
 * for 3.7 images). Each patient has 1 to about 20 images. -1 with
 * cxr_errmsg() set if npatients > nimages or memory runs out. */
int cxr_synth_plan_make(cxr_synth_plan *p, long nimages, long npatients, uint64_t seed);
void cxr_synth_plan_free(cxr_synth_plan *p);

/* "00000042_003.png" (buf of at least 32 bytes). */
void cxr_synth_image_name(const cxr_synth_row *r, char *buf);
/* "Effusion|Mass" or "No Finding" (buf of at least 256 bytes). */
void cxr_synth_findings_str(unsigned findings, char *buf);
/* The sub-folder of image i, "images_001/images" (buf of >= 64 bytes). */
void cxr_synth_subdir(long i, long per_dir, char *buf);
/* The label file: NIH's header and one row per image, LF line ends. -1 on
 * a write error (name is for the message). */
int cxr_synth_write_csv(FILE *f, const char *name, const cxr_synth_plan *p);

/* Renders the picture of row r: size x size pixels, row-major. Thread-safe;
 * allocates only small scratch. */
void cxr_synth_render(uint8_t *px /* (size,size) */, int size, uint64_t seed,
	const cxr_synth_row *r);

typedef struct cxr_synth_opts {
	int size;      /* pixels, square */
	long per_dir;  /* images per images_NNN folder */
	int jobs;      /* threads */
	int level;     /* zlib level of the PNGs */
	int quiet;     /* no progress */
} cxr_synth_opts;

/* Writes every image of p under dir (dir itself must exist; the folders
 * are made). Each PNG is written to a temporary name and renamed, so a
 * file of an image's name is always whole. Stops early, leaving no
 * temporary file, when cxr_stop_signal is set (the tool then exits
 * 128+N). 0 on success, -1 with cxr_errmsg() set on an error. */
int cxr_synth_write_images(const char *dir, const cxr_synth_plan *p,
	const cxr_synth_opts *o);

#endif
