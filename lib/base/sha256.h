/* sha256 — FIPS 180-4 SHA-256, the content checksum of model files
 * (man/cxr-model.5) and a digest for anything else that wants one. */
#ifndef CXR_SHA256_H
#define CXR_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct cxr_sha256 {
	uint32_t h[8];
	uint64_t len;        /* bytes hashed so far */
	unsigned char buf[64];
	size_t nbuf;
} cxr_sha256;

void cxr_sha256_init(cxr_sha256 *s);
void cxr_sha256_update(cxr_sha256 *s, const void *data, size_t n);
void cxr_sha256_final(cxr_sha256 *s, unsigned char out[32]);
/* One call: out = SHA-256(data). */
void cxr_sha256_buf(const void *data, size_t n, unsigned char out[32]);
/* 64 lowercase hex digits and a NUL into hex. */
void cxr_sha256_hex(const unsigned char sum[32], char hex[65]);

#endif
