/*
 * ini_test.c - core/util/tly_ini.c
 *
 * The syntax of tally.conf: sections and [section.name], comments with
 * '#' and ';' (and '#' after white space ending a value), whitespace
 * trimming (CRLF too), values holding '=' and '#', every syntax error
 * with its line number (a table), reading marks an entry used,
 * tly_ini_unused finding a misspelt key, and tly_ini_load on a file
 * (missing, too large).
 */
#include "tly_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tly_err.h"
#include "tly_ini.h"

static int
parse(tly_ini *ini, const char *text, char *why, size_t whysz)
{
	memset(ini, 0, sizeof(*ini));
	why[0] = '\0';
	return tly_ini_parse(ini, text, strlen(text), why, whysz);
}

static void
test_syntax(void **state)
{
	static const char text[] =
	    "# a comment\n"
	    "; another comment\n"
	    "\n"
	    "[tally]\n"
	    "log_level = debug\n"
	    "   spaced_key\t=\t  spaced value  \n"
	    "empty =\n"
	    "[ db ]\n"
	    "password = a=b#c;d\n"
	    "  # indented comment\n"
	    "url=http://x/?a=1#frag\n"
	    "[jwt.shop-1]\n"
	    "issuer = https://auth.example.com/\n"
	    "crlf = yes\r\n"
	    "[tally.extra_2]\n"
	    "log_level = warn";			/* no final newline */
	static const struct {
		const char	*sec, *key, *want;
	} rows[] = {
		{ "tally", "log_level", "debug" },
		{ "tally", "spaced_key", "spaced value" },
		{ "tally", "empty", "" },
		{ "db", "password", "a=b#c;d" },
		{ "db", "url", "http://x/?a=1#frag" },
		{ "jwt.shop-1", "issuer", "https://auth.example.com/" },
		{ "jwt.shop-1", "crlf", "yes" },
		{ "tally.extra_2", "log_level", "warn" },
	};
	tly_ini ini;
	char why[200];
	const char *v;
	size_t i;

	(void)state;
	if (parse(&ini, text, why, sizeof(why)) != TLY_OK)
		fail_msg("parse: got error \"%s\", want success", why);
	want_int(ini.n, sizeof(rows) / sizeof(rows[0]));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		v = tly_ini_get(&ini, rows[i].sec, rows[i].key);
		if (v == NULL || strcmp(v, rows[i].want) != 0)
			fail_msg("[%s] %s: got \"%s\", want \"%s\"",
			    rows[i].sec, rows[i].key, v ? v : "(null)",
			    rows[i].want);
	}
	/* line numbers are recorded */
	want_int(ini.v[0].line, 5);
	want_int(ini.v[ini.n - 1].line, 16);
	/* absent keys and sections */
	assert_null(tly_ini_get(&ini, "tally", "nope"));
	assert_null(tly_ini_get(&ini, "nope", "log_level"));
	assert_null(tly_ini_get(&ini, "jwt", "issuer"));
	tly_ini_free(&ini);
}

static void
test_inline_comment(void **state)
{
	static const char text[] =
	    "[a]\n"
	    "spaced = v # a comment\n"
	    "tabbed = v\t# a comment\n"
	    "glued = a#b\n"
	    "url = http://x/#frag\n"
	    "only = # nothing but a comment\n"
	    "first = #x\n"
	    "two = a # b # c\n";
	static const struct {
		const char	*key, *want;
	} rows[] = {
		{ "spaced", "v" },
		{ "tabbed", "v" },
		{ "glued", "a#b" },
		{ "url", "http://x/#frag" },
		{ "only", "" },
		{ "first", "" },
		{ "two", "a" },
	};
	tly_ini ini;
	char why[200];
	const char *v;
	size_t i;

	(void)state;
	if (parse(&ini, text, why, sizeof(why)) != TLY_OK)
		fail_msg("parse: got error \"%s\", want success", why);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		v = tly_ini_get(&ini, "a", rows[i].key);
		if (v == NULL || strcmp(v, rows[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", rows[i].key,
			    v ? v : "(null)", rows[i].want);
	}
	tly_ini_free(&ini);
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*name;
		const char	*text;
		const char	*want;	/* in 'why' */
	} rows[] = {
		{ "key outside section", "# c\nkey = v\n",
		    "line 2: key outside any [section]" },
		{ "no closing bracket", "[a]\nk = v\n[b\n",
		    "line 3: malformed section" },
		{ "text after bracket", "[a] # c\n",
		    "line 1: malformed section" },
		{ "empty section", "\n[]\n", "line 2: bad section name" },
		{ "space in section", "[a b]\n", "line 1: bad section name" },
		{ "bad char in section", "[a/b]\n",
		    "line 1: bad section name" },
		{ "section too long",
		    "[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaa]\n", "line 1: bad section name" },
		{ "no equals", "[a]\njust words\n",
		    "line 2: expected key = value" },
		{ "empty key", "[a]\n= v\n", "line 2: bad key name" },
		{ "space in key", "[a]\nmy key = v\n",
		    "line 2: bad key name" },
		{ "bad char in key", "[a]\nk$ = v\n", "line 2: bad key name" },
		{ "duplicate key", "[a]\nk = 1\n\nk = 2\n",
		    "line 4: 'k' already set in [a] at line 2" },
		{ "duplicate, reopened", "[a]\nk = 1\n[b]\nk = 1\n[a]\nk = 3\n",
		    "line 6: 'k' already set in [a] at line 2" },
	};
	tly_ini ini;
	char why[200];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = parse(&ini, rows[i].text, why, sizeof(why));
		if (rc != TLY_ERR)
			fail_msg("%s: got rc %d, want %d", rows[i].name, rc,
			    TLY_ERR);
		if (strstr(why, rows[i].want) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"", rows[i].name,
			    why, rows[i].want);
		tly_ini_free(&ini);
	}
}

static void
test_limits(void **state)
{
	char text[1200], why[200];
	tly_ini ini;
	size_t n;

	(void)state;
	/* a 1023-byte line is fine, 1024 is too long */
	n = (size_t)snprintf(text, sizeof(text), "[a]\nk = ");
	memset(text + n, 'v', 1023 - 4);
	text[n + 1023 - 4] = '\0';
	want_int(strlen(text) - 4, 1023);
	if (parse(&ini, text, why, sizeof(why)) != TLY_OK)
		fail_msg("1023 bytes: got \"%s\", want success", why);
	want_int(strlen(tly_ini_get(&ini, "a", "k")), 1023 - 4);
	tly_ini_free(&ini);
	text[n + 1023 - 4] = 'v';
	text[n + 1024 - 4] = '\0';
	want_int(parse(&ini, text, why, sizeof(why)), TLY_ERR);
	want_str(why, "line 2: too long");
	tly_ini_free(&ini);

	/* a NUL byte inside the given length */
	memcpy(text, "[a]\nk = v\0w\n", 12);
	memset(&ini, 0, sizeof(ini));
	want_int(tly_ini_parse(&ini, text, 12, why, sizeof(why)), TLY_ERR);
	want_str(why, "line 2: NUL byte");
	tly_ini_free(&ini);

	/* the length, not the NUL, ends the text */
	memset(&ini, 0, sizeof(ini));
	want_int(tly_ini_parse(&ini, "[a]\nk = 1\nj = 2", 9, why,
	    sizeof(why)), TLY_OK);
	want_str(tly_ini_get(&ini, "a", "k"), "1");
	assert_null(tly_ini_get(&ini, "a", "j"));
	tly_ini_free(&ini);

	/* empty text */
	want_int(parse(&ini, "", why, sizeof(why)), TLY_OK);
	want_int(ini.n, 0);
	assert_null(tly_ini_unused(&ini));
	tly_ini_free(&ini);
}

static void
test_used(void **state)
{
	static const char text[] =
	    "[db]\n"
	    "host = h\n"
	    "port = 3306\n"
	    "pasword = typo\n"
	    "user = u\n";
	const tly_ini_ent *u;
	tly_ini ini;
	char why[200];
	int i;

	(void)state;
	want_int(parse(&ini, text, why, sizeof(why)), TLY_OK);
	for (i = 0; i < 4; i++)
		want_int(ini.v[i].used, 0);
	want_str(tly_ini_get(&ini, "db", "host"), "h");
	want_int(ini.v[0].used, 1);
	want_int(ini.v[1].used, 0);
	want_str(tly_ini_get(&ini, "db", "port"), "3306");
	want_str(tly_ini_get(&ini, "db", "user"), "u");
	assert_null(tly_ini_get(&ini, "db", "password"));
	u = tly_ini_unused(&ini);
	assert_non_null(u);
	want_str(u->section, "db");
	want_str(u->key, "pasword");
	want_str(u->value, "typo");
	want_int(u->line, 4);
	want_str(tly_ini_get(&ini, "db", "pasword"), "typo");
	assert_null(tly_ini_unused(&ini));

	/* freed, the struct is reusable */
	tly_ini_free(&ini);
	want_int(ini.n, 0);
	assert_null(ini.v);
	want_int(tly_ini_parse(&ini, text, strlen(text), why, sizeof(why)),
	    TLY_OK);
	want_int(ini.n, 4);
	tly_ini_free(&ini);
}

static void
test_load(void **state)
{
	char path[] = "/tmp/tly_ini_test.XXXXXX", why[300];
	tly_ini ini;
	FILE *f;
	int fd, i;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("[api]\nworkers = 4\n", f);
	fclose(f);
	want_int(tly_ini_load(&ini, path, why, sizeof(why)), TLY_OK);
	want_str(ini.path, path);
	want_str(tly_ini_get(&ini, "api", "workers"), "4");
	tly_ini_free(&ini);

	/* an error names the file and the line */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[api]\nworkers 4\n", f);
	fclose(f);
	want_int(tly_ini_load(&ini, path, why, sizeof(why)), TLY_ERR);
	want_has(why, path);
	want_has(why, "line 2: expected key = value");
	want_int(ini.n, 0);

	/* more than 1 MiB */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[a]\n", f);
	for (i = 0; i < (1 << 20) / 16 + 1; i++)
		fputs("# 14 bytes pad.\n", f);
	fclose(f);
	want_int(tly_ini_load(&ini, path, why, sizeof(why)), TLY_ERR);
	want_has(why, "larger than 1 MiB");
	unlink(path);

	want_int(tly_ini_load(&ini, path, why, sizeof(why)), TLY_ERR);
	want_has(why, path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_inline_comment),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_used),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
