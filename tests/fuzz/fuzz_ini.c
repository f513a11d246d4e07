/*
 * fuzz_ini.c - core/util/tly_ini.c: the syntax of tally.conf
 *
 * The input is a configuration file.  A parse either fails with a reason
 * or gives entries whose every section, key and value can be looked up
 * again by tly_ini_get (first-come per section and key, as duplicates are
 * refused), and no key holds '=' or a line break, no value a line
 * break; tly_ini_unused walks what was not read.
 */
#include <string.h>

#include "fuzz.h"
#include "tly_err.h"
#include "tly_ini.h"

/* LLVMFuzzerTestOneInput - parse, look every entry up, free */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tly_ini ini;
	char why[256];
	const char *v;
	size_t i;

	memset(&ini, 0, sizeof(ini));
	why[0] = '\0';
	if (tly_ini_parse(&ini, (const char *)data, size, why,
	    sizeof(why)) != TLY_OK) {
		FUZZ_CHECK(why[0] != '\0');
		tly_ini_free(&ini);
		return 0;
	}
	for (i = 0; i < ini.n; i++) {
		FUZZ_CHECK(strchr(ini.v[i].key, '=') == NULL);
		FUZZ_CHECK(strchr(ini.v[i].key, '\n') == NULL);
		FUZZ_CHECK(strchr(ini.v[i].value, '\n') == NULL);
		if (i % 2)
			continue;	/* half stay unused */
		v = tly_ini_get(&ini, ini.v[i].section, ini.v[i].key);
		FUZZ_CHECK(v != NULL && strcmp(v, ini.v[i].value) == 0);
	}
	(void)tly_ini_unused(&ini);
	(void)tly_ini_get(&ini, "tally", "no_such_key");
	tly_ini_free(&ini);
	return 0;
}
