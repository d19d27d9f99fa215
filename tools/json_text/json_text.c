#include "json_text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s[0..n) (Unicode 15, table 3-7), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;  /* the second byte's range */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; ++i)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void json_print_string(FILE *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', out);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
		} else if (c == '\n') {
			fputs("\\n", out);
		} else if (c == '\t') {
			fputs("\\t", out);
		} else if (c == '\r') {
			fputs("\\r", out);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
		} else if (c >= 0x80) {
			size_t len = utf8_len(s + i, n - i);
			if (!len) {
				fputs("\\ufffd", out);
				++i;
				continue;
			}
			fwrite(s + i, 1, len, out);
			i += len;
			continue;
		} else {
			fputc(c, out);
		}
		++i;
	}
	fputc('"', out);
}

/* The whole file in a malloc'd buffer; NULL (errno set) when unreadable. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		len += fread(buf + len, 1, cap - len, f);
		if (len < cap)
			break;
		char *grown = realloc(buf, cap *= 2);
		if (!grown)
			free(buf);
		buf = grown;
	}
	int failed = buf && ferror(f);
	int saved = errno;
	if (f != stdin)
		fclose(f);
	if (failed) {
		free(buf);
		errno = saved ? saved : EIO;
		return NULL;
	}
	*n = len;
	return buf;
}

int json_string_of_file(const char *path, FILE *out)
{
	size_t n;
	char *text = slurp(path, &n);
	if (!text) {
		fprintf(stderr, "hostfacts: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	json_print_string(out, text, n);
	fputc('\n', out);
	free(text);
	return 0;
}

int json_lines_of_file(const char *path, FILE *out)
{
	size_t n;
	char *text = slurp(path, &n);
	if (!text) {
		fprintf(stderr, "hostfacts: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	fputc('[', out);
	for (size_t at = 0, count = 0; at < n; ++count) {
		const char *nl = memchr(text + at, '\n', n - at);
		size_t len = nl ? (size_t)(nl - (text + at)) : n - at;
		fputs(count ? ",\n  " : "\n  ", out);
		json_print_string(out, text + at, len);
		at += len + 1;
	}
	fputs(n ? "\n]\n" : "]\n", out);
	free(text);
	return 0;
}

/* RFC 8259 recognizer: each function advances p->at past one production or fails. */
struct scan {
	const unsigned char *s;
	size_t n, at;
	int depth;
};

enum { MAX_DEPTH = 512 };

static void ws(struct scan *p)
{
	while (p->at < p->n && (p->s[p->at] == ' ' || p->s[p->at] == '\t' || p->s[p->at] == '\n' || p->s[p->at] == '\r'))
		++p->at;
}

static int peek(const struct scan *p) { return p->at < p->n ? p->s[p->at] : -1; }

static int literal(struct scan *p, const char *word)
{
	size_t len = strlen(word);
	if (p->n - p->at < len || memcmp(p->s + p->at, word, len) != 0)
		return 0;
	p->at += len;
	return 1;
}

static int digits(struct scan *p)
{
	size_t start = p->at;
	while (p->at < p->n && p->s[p->at] >= '0' && p->s[p->at] <= '9')
		++p->at;
	return p->at > start;
}

static int number(struct scan *p)
{
	if (peek(p) == '-')
		++p->at;
	if (peek(p) == '0')
		++p->at;
	else if (!digits(p))
		return 0;
	if (peek(p) == '.') {
		++p->at;
		if (!digits(p))
			return 0;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		++p->at;
		if (peek(p) == '+' || peek(p) == '-')
			++p->at;
		if (!digits(p))
			return 0;
	}
	return 1;
}

static int string(struct scan *p)
{
	if (peek(p) != '"')
		return 0;
	++p->at;
	while (p->at < p->n) {
		unsigned char c = p->s[p->at];
		if (c == '"') {
			++p->at;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			++p->at;
			int e = peek(p);
			if (e == 'u') {
				for (int i = 1; i <= 4; ++i)
					if (p->at + i >= p->n || !p->s[p->at + i] ||
					    !strchr("0123456789abcdefABCDEF", p->s[p->at + i]))
						return 0;
				p->at += 5;
			} else if (e > 0 && strchr("\"\\/bfnrt", e)) {
				++p->at;
			} else {
				return 0;
			}
			continue;
		}
		size_t len = utf8_len(p->s + p->at, p->n - p->at);
		if (!len)
			return 0;
		p->at += len;
	}
	return 0;
}

static int value(struct scan *p);

static int members(struct scan *p, int close, int keyed)
{
	++p->at;
	if (++p->depth > MAX_DEPTH)
		return 0;
	ws(p);
	if (peek(p) == close) {
		++p->at;
		--p->depth;
		return 1;
	}
	for (;;) {
		if (keyed) {
			if (!string(p))
				return 0;
			ws(p);
			if (peek(p) != ':')
				return 0;
			++p->at;
		}
		if (!value(p))
			return 0;
		if (peek(p) == ',') {
			++p->at;
			ws(p);
			continue;
		}
		if (peek(p) != close)
			return 0;
		++p->at;
		--p->depth;
		return 1;
	}
}

/* One value with the whitespace around it. */
static int value(struct scan *p)
{
	ws(p);
	int ok;
	switch (peek(p)) {
	case '{': ok = members(p, '}', 1); break;
	case '[': ok = members(p, ']', 0); break;
	case '"': ok = string(p); break;
	case 't': ok = literal(p, "true"); break;
	case 'f': ok = literal(p, "false"); break;
	case 'n': ok = literal(p, "null"); break;
	default: ok = number(p); break;
	}
	if (ok)
		ws(p);
	return ok;
}

int json_validate(const char *text, size_t n, size_t *where)
{
	struct scan p = { .s = (const unsigned char *)text, .n = n, .at = 0, .depth = 0 };
	int ok = value(&p) && p.at == n;
	*where = p.at;
	return ok ? 0 : 1;
}

int json_validate_file(const char *path)
{
	size_t n, where;
	char *text = slurp(path, &n);
	if (!text) {
		fprintf(stderr, "hostfacts: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	int rc = json_validate(text, n, &where);
	if (rc)
		fprintf(stderr, "hostfacts: %s: not one JSON value (problem at byte %zu of %zu)\n", path, where, n);
	free(text);
	return rc;
}
