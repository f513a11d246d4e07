/*
 * tly_ini.h - the syntax of tally.conf
 *
 *	# comment
 *	[section]            or   [section.name]
 *	key = value          (to the end of the line or to a '#' that
 *	                      follows white space; trimmed)
 *
 * Section names are listed too, so a section without keys still exists.
 * This layer knows only syntax;
 * core/config.c gives the keys meaning.
 * Every entry records whether it was read, so that a misspelt key is
 * reported instead of silently ignored.
 */
#ifndef TLY_INI_H
#define TLY_INI_H

#include <stddef.h>

typedef struct tly_ini_ent {
	char	*section;
	char	*key;
	char	*value;
	int	 line;
	int	 used;
} tly_ini_ent;

typedef struct tly_ini {
	tly_ini_ent	*v;
	size_t		 n;
	size_t		 cap;
	char		**sections;	/* every [section], in order */
	size_t		 nsections;
	char		 path[256];
} tly_ini;

int		 tly_ini_load(tly_ini *, const char *, char *, size_t);
int		 tly_ini_parse(tly_ini *, const char *, size_t, char *, size_t);
const char	*tly_ini_get(tly_ini *, const char *, const char *);
const tly_ini_ent *tly_ini_unused(const tly_ini *);
void		 tly_ini_free(tly_ini *);

#endif
