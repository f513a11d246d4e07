/*
 * principal.c - the names of the kinds of caller (see principal.h)
 *
 * Owns no table.  Below both auth.c, which makes principals, and
 * audit.c, which records them: neither depends on the other for this.
 *
 * API:	tly_principal_kind_name().
 */
#include "principal.h"

/* tly_principal_kind_name - "buyer", "server", "admin", "stripe" */
const char *
tly_principal_kind_name(int k)
{
	switch (k) {
	case TLY_PK_BUYER:	return "buyer";
	case TLY_PK_SERVER:	return "server";
	case TLY_PK_ADMIN:	return "admin";
	case TLY_PK_STRIPE:	return "stripe";
	case TLY_PK_OPERATOR:	return "operator";
	default:		return "public";
	}
}
