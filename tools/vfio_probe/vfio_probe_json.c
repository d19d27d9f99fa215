#include "vfio_probe_json.h"

#include <errno.h>
#include <string.h>

#include "json_text.h"

static void pj_newline(struct pj *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; ++i)
		fputs("  ", j->f);
}

static void pj_key(struct pj *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = 0;
	pj_newline(j);
	if (key)
		fprintf(j->f, "\"%s\": ", key);
}

static void pj_open(struct pj *j, const char *key, char c)
{
	pj_key(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < PJ_MAX_DEPTH)
		++j->depth;
	j->first[j->depth] = 1;
}

static void pj_shut(struct pj *j, char c)
{
	const int empty = j->first[j->depth];
	if (j->depth > 0)
		--j->depth;
	if (!empty)
		pj_newline(j);
	fputc(c, j->f);
}

void pj_begin(struct pj *j, FILE *f)
{
	j->f = f;
	j->depth = 1;
	fputc('{', f);
	j->first[1] = 1;
}

void pj_end(struct pj *j)
{
	j->depth = 0;
	fputs("\n}\n", j->f);
	fflush(j->f);
}

void pj_object(struct pj *j, const char *key) { pj_open(j, key, '{'); }
void pj_array(struct pj *j, const char *key) { pj_open(j, key, '['); }
void pj_close_object(struct pj *j) { pj_shut(j, '}'); }
void pj_close_array(struct pj *j) { pj_shut(j, ']'); }

void pj_int(struct pj *j, const char *key, long long v)
{
	pj_key(j, key);
	fprintf(j->f, "%lld", v);
}

void pj_hex(struct pj *j, const char *key, unsigned long long v)
{
	pj_key(j, key);
	fprintf(j->f, "\"0x%llx\"", v);
}

void pj_bool(struct pj *j, const char *key, int v)
{
	pj_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

void pj_str(struct pj *j, const char *key, const char *s)
{
	pj_key(j, key);
	json_print_string(j->f, s, strlen(s));  /* escapes, and keeps the output UTF-8 */
}

const char *pj_errno_name(int err)
{
	switch (err) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return "E?";
	}
}

void pj_result(struct pj *j, const char *key, long long rc)
{
	if (rc >= 0) {
		pj_int(j, key, rc);
		return;
	}
	pj_key(j, key);
	if (pj_errno_name((int)-rc)[1] == '?')
		fprintf(j->f, "\"errno %lld\"", -rc);
	else
		fprintf(j->f, "\"%s\"", pj_errno_name((int)-rc));
}
