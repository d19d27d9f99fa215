/* JSON text from C for the host-side tools (hostfacts, vfio_probe): strings from arbitrary bytes,
 * and a well-formedness check (RFC 8259), so that tools/hostval/collect.sh can embed command output
 * and other programs' JSON in the host report without a JSON tool on the host. */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* `s[0..n)` as a JSON string literal: quotes, backslashes and control characters escaped, bytes
 * that are not UTF-8 replaced by U+FFFD, so the output is valid JSON whatever the input. */
void json_print_string(FILE *out, const char *s, size_t n);

/* The whole of `path` ("-": standard input) as one JSON string and a newline; 0, or 1 with a
 * message when the file cannot be read. */
int json_string_of_file(const char *path, FILE *out);

/* The lines of `path` ("-": standard input) as one JSON array of strings (without their newlines;
 * a last line without a newline counts), and a newline; 0, or 1 when the file cannot be read. */
int json_lines_of_file(const char *path, FILE *out);

/* 0 when `text[0..n)` is exactly one JSON value (whitespace around it allowed), else 1 with
 * `*where` set to the byte offset of the first problem. */
int json_validate(const char *text, size_t n, size_t *where);

/* json_validate on the whole of `path` ("-": standard input); 0 valid, 1 invalid or unreadable
 * (a message on standard error says which, and where). */
int json_validate_file(const char *path);
