/* Memory and string functions (include/linux/string.h). */
#ifndef _LINUX_STRING_H
#define _LINUX_STRING_H

#include <linux/types.h>

#ifdef __cplusplus
#include <string.h> /* the C library's declarations (C++ overloads them) */
extern "C" {
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *s, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *h, const char *n);
#endif
/* strscpy: copies at most size - 1 bytes and terminates; -E2BIG when truncated. */
ssize_t strscpy(char *dst, const char *src, size_t size);
/* sysfs_streq: equal, ignoring one trailing newline on either side. */
bool sysfs_streq(const char *a, const char *b);
char *kstrdup(const char *s, gfp_t gfp);
void *kmemdup(const void *src, size_t len, gfp_t gfp);
#ifdef __cplusplus
}
#endif

#endif /* _LINUX_STRING_H */
