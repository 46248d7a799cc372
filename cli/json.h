/*
 * json.h - the JSON writer of the uvfs command line (docs/json.md).
 *
 * Every `--json` output is one document, written to a FILE through a
 * struct json: objects and arrays nest, commas are placed by the writer,
 * and strings come out as valid UTF-8 whatever the bytes given: a byte
 * that is not part of a valid UTF-8 sequence (a file name in another
 * encoding) is written as the four characters \xXX -- in JSON text
 * "\\xXX" -- as findmnt and lsblk do, so the document stays valid and
 * the byte can still be told.
 * Numbers are written only from integers, never guessed from text.
 */
#ifndef UVFS_CLI_JSON_H
#define UVFS_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16

/* f: the output; depth, first[]: where the writer is (no allocation). */
struct json {
	FILE *f;
	int depth;
	bool first[JSON_DEPTH_MAX];
};

void json_init(struct json *j, FILE *f);
void json_object_begin(struct json *j);         /* a value: { */
void json_object_end(struct json *j);
void json_array_begin(struct json *j);          /* a value: [ */
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key); /* then one value */
void json_str(struct json *j, const char *s);   /* NULL: null */
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* A key and its value in one call. */
void json_kstr(struct json *j, const char *key, const char *s);
void json_kint(struct json *j, const char *key, int64_t v);
void json_kbool(struct json *j, const char *key, bool v);
/* Ends the document with a newline. */
void json_end(struct json *j);

/* The schema version every document carries as "uvfs_json"
 * (docs/json.md): bumped when a field changes meaning or type. */
#define UVFS_JSON_VERSION 1

#endif
