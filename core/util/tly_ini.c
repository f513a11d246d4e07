/*
 * tly_ini.c - the syntax of tally.conf
 *
 * Owns parsing only: a section header, key = value lines, comments and
 * blank lines.  A duplicated key in one section is an error (which one
 * would win is a classic configuration surprise).  Files larger than
 * 1 MiB are refused.  Errors name the file and line.
 *
 * API:	tly_ini_load(), tly_ini_parse(), tly_ini_get(), tly_ini_unused(),
 *	tly_ini_free().
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tly_buf.h"
#include "tly_err.h"
#include "tly_ini.h"
#include "tly_str.h"

#define INI_MAX_BYTES	(1 << 20)

static char *
trim(char *s)
{
	char *e;

	while (*s && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
ini_add(tly_ini *ini, const char *sec, const char *key, const char *val,
    int line)
{
	tly_ini_ent *e;
	size_t cap;

	if (ini->n == ini->cap) {
		cap = ini->cap ? ini->cap * 2 : 32;
		e = realloc(ini->v, cap * sizeof(*e));
		if (e == NULL)
			return TLY_ERR;
		ini->v = e;
		ini->cap = cap;
	}
	e = &ini->v[ini->n];
	e->section = strdup(sec);
	e->key = strdup(key);
	e->value = strdup(val);
	e->line = line;
	e->used = 0;
	if (!e->section || !e->key || !e->value) {
		free(e->section);
		free(e->key);
		free(e->value);
		return TLY_ERR;
	}
	ini->n++;
	return TLY_OK;
}

static int
valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' &&
		    *s != '-')
			return 0;
	return 1;
}

/*
 * section_seen - record that section 'sec' exists, even without keys
 * ([currency.eur] alone means "accept eur")
 */
static int
section_seen(tly_ini *ini, const char *sec, char *why, size_t whysz)
{
	char **v;
	size_t i;

	for (i = 0; i < ini->nsections; i++)
		if (strcmp(ini->sections[i], sec) == 0)
			return TLY_OK;
	v = realloc(ini->sections, (ini->nsections + 1) * sizeof(*v));
	if (v == NULL)
		goto oom;
	ini->sections = v;
	v[ini->nsections] = strdup(sec);
	if (v[ini->nsections] == NULL)
		goto oom;
	ini->nsections++;
	return TLY_OK;
oom:
	snprintf(why, whysz, "out of memory");
	return TLY_ERR;
}

/* parse_line - one line; 'sec' holds the current section */
static int
parse_line(tly_ini *ini, char *s, char *sec, size_t secsz, int line,
    char *why, size_t whysz)
{
	char *eq, *key, *val, *end;
	size_t i;

	s = trim(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return TLY_OK;
	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != '\0') {
			snprintf(why, whysz, "line %d: malformed section",
			    line);
			return TLY_ERR;
		}
		*end = '\0';
		s = trim(s + 1);
		if (!valid_name(s) || strlen(s) >= secsz) {
			snprintf(why, whysz, "line %d: bad section name", line);
			return TLY_ERR;
		}
		tly_strlcpy(sec, s, secsz);
		return section_seen(ini, sec, why, whysz);
	}
	eq = strchr(s, '=');
	if (eq == NULL) {
		snprintf(why, whysz, "line %d: expected key = value", line);
		return TLY_ERR;
	}
	*eq = '\0';
	key = trim(s);
	val = eq + 1;
	for (end = val; *end; end++)		/* " # comment" ends a value */
		if (*end == '#' && end > val &&
		    (end[-1] == ' ' || end[-1] == '\t')) {
			*end = '\0';
			break;
		}
	val = trim(val);
	if (!valid_name(key)) {
		snprintf(why, whysz, "line %d: bad key name", line);
		return TLY_ERR;
	}
	if (*sec == '\0') {
		snprintf(why, whysz, "line %d: key outside any [section]",
		    line);
		return TLY_ERR;
	}
	for (i = 0; i < ini->n; i++) {
		if (strcmp(ini->v[i].section, sec) == 0 &&
		    strcmp(ini->v[i].key, key) == 0) {
			snprintf(why, whysz, "line %d: '%.40s' already set in"
			    " [%.40s] at line %d", line, key, sec,
			    ini->v[i].line);
			return TLY_ERR;
		}
	}
	if (ini_add(ini, sec, key, val, line) != TLY_OK) {
		snprintf(why, whysz, "out of memory");
		return TLY_ERR;
	}
	return TLY_OK;
}

/*
 * tly_ini_parse - parse 'len' bytes of 'text' into 'ini' (which must be
 * zeroed or freshly freed); on failure 'why' says what and where.
 */
int
tly_ini_parse(tly_ini *ini, const char *text, size_t len, char *why,
    size_t whysz)
{
	char sec[64] = "", line[1024];
	size_t i, start;
	int lineno = 0;

	for (start = 0; start <= len; start = i + 1) {
		for (i = start; i < len && text[i] != '\n'; i++)
			;
		lineno++;
		if (i - start >= sizeof(line)) {
			snprintf(why, whysz, "line %d: too long", lineno);
			return TLY_ERR;
		}
		memcpy(line, text + start, i - start);
		line[i - start] = '\0';
		if (memchr(text + start, '\0', i - start)) {
			snprintf(why, whysz, "line %d: NUL byte", lineno);
			return TLY_ERR;
		}
		if (parse_line(ini, line, sec, sizeof(sec), lineno, why,
		    whysz) != TLY_OK)
			return TLY_ERR;
	}
	return TLY_OK;
}

/* tly_ini_load - read and parse file 'path' */
int
tly_ini_load(tly_ini *ini, const char *path, char *why, size_t whysz)
{
	tly_buf b;
	FILE *f;
	char chunk[4096];
	size_t n;
	int rc = TLY_OK;
	char sub[200];

	memset(ini, 0, sizeof(*ini));
	tly_strlcpy(ini->path, path, sizeof(ini->path));
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return TLY_ERR;
	}
	tly_buf_init(&b, INI_MAX_BYTES);
	while (rc == TLY_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = tly_buf_add(&b, chunk, n);
	if (ferror(f))
		rc = TLY_ERR;
	fclose(f);
	if (rc != TLY_OK) {
		snprintf(why, whysz, "%s: cannot read (larger than 1 MiB?)",
		    path);
		tly_buf_free(&b);
		return TLY_ERR;
	}
	rc = tly_ini_parse(ini, tly_buf_str(&b), b.len, sub, sizeof(sub));
	tly_buf_free(&b);
	if (rc != TLY_OK) {
		snprintf(why, whysz, "%s: %s", path, sub);
		tly_ini_free(ini);
	}
	return rc;
}

/* tly_ini_get - value of 'key' in 'section', or NULL; marks it read */
const char *
tly_ini_get(tly_ini *ini, const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < ini->n; i++) {
		if (strcmp(ini->v[i].section, section) == 0 &&
		    strcmp(ini->v[i].key, key) == 0) {
			ini->v[i].used = 1;
			return ini->v[i].value;
		}
	}
	return NULL;
}

/* tly_ini_unused - the first entry nobody read (a misspelling), or NULL */
const tly_ini_ent *
tly_ini_unused(const tly_ini *ini)
{
	size_t i;

	for (i = 0; i < ini->n; i++)
		if (!ini->v[i].used)
			return &ini->v[i];
	return NULL;
}

/* tly_ini_free - release everything; 'ini' may be reused */
void
tly_ini_free(tly_ini *ini)
{
	size_t i;

	for (i = 0; i < ini->n; i++) {
		free(ini->v[i].section);
		free(ini->v[i].key);
		free(ini->v[i].value);
	}
	free(ini->v);
	ini->v = NULL;
	ini->n = 0;
	ini->cap = 0;
	for (i = 0; i < ini->nsections; i++)
		free(ini->sections[i]);
	free(ini->sections);
	ini->sections = NULL;
	ini->nsections = 0;
}
