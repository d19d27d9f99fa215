/* A small JSON writer for vfio_probe: objects and arrays nested to a fixed depth, two-space
 * indentation, numbers, hex strings ("0x..."), booleans, strings, and call results (a number, or
 * the errno's name as a string). */
#ifndef PCIESIM_VFIO_PROBE_JSON_H
#define PCIESIM_VFIO_PROBE_JSON_H

#include <stdint.h>
#include <stdio.h>

#define PJ_MAX_DEPTH 16

struct pj {
	FILE *f;
	int depth;
	int first[PJ_MAX_DEPTH];
};

void pj_begin(struct pj *j, FILE *f);   /* the top-level object */
void pj_end(struct pj *j);
void pj_object(struct pj *j, const char *key);  /* key NULL inside an array */
void pj_array(struct pj *j, const char *key);
void pj_close_object(struct pj *j);
void pj_close_array(struct pj *j);
void pj_int(struct pj *j, const char *key, long long v);
void pj_hex(struct pj *j, const char *key, unsigned long long v);
void pj_bool(struct pj *j, const char *key, int v);
void pj_str(struct pj *j, const char *key, const char *s);
/* rc >= 0: the number; rc < 0: the name of errno -rc ("EINVAL"). */
void pj_result(struct pj *j, const char *key, long long rc);
const char *pj_errno_name(int err);

#endif /* PCIESIM_VFIO_PROBE_JSON_H */
