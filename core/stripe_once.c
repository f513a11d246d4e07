/*
 * stripe_once.c - creating a Stripe object exactly once despite unknown
 * outcomes (docs/architecture.md), and finding an object by Tally's metadata
 *
 * Owns no table.
 *
 * tly_stripe_create_once() is what the first attempt and the janitor both
 * call.  With key "<key_base>:g<generation>":
 *   2xx                 -> the object (first execution or Stripe's replay);
 *   4xx                 -> Stripe refused: a definite failure;
 *   no reply / timeout  -> call again with the SAME key: if the first
 *                          request is still running Stripe answers 409 and
 *                          the transport backs off; once it is done Stripe
 *                          replays its result.  So a request that never
 *                          reached Stripe runs once, and one that did is
 *                          never run twice.  Still no answer after a few
 *                          rounds -> TLY_UNKNOWN, for the janitor;
 *   5xx                 -> Stripe stored an error under this key and will
 *                          replay it for 24 h, but an object may exist
 *                          anyway: look it up (by stored id or metadata);
 *                          found -> it; not found -> persist generation+1
 *                          (bump) *before* using it, and call with it.
 *
 * tly_stripe_find_child() is the exact look-up of the finishers
 * (effect.c): it pages through a list filtered by the parent object
 * (a PaymentIntent's refunds, a transfer group's transfers, a transfer's
 * reversals) and compares metadata[tally_id] client-side.  List reads
 * are consistent, and such a list holds only the parent's objects,
 * however busy the account.
 *
 * tly_stripe_find_since() is the look-up of objects no parent filters
 * (a Connect account): the list of those made since Tally began making
 * it, read to its end.  No look-up is ever a bounded scan of an
 * account-wide list: Stripe forgets an idempotency key after 24 hours,
 * and a busy account hides the object past any page limit.
 *
 * tly_stripe_transfer_is() checks a transfer found or made is the one
 * Tally meant; tly_stripe_transfer_reversals() reads a transfer's
 * reversals (those it embeds when it embeds them all, else the list).
 *
 * tly_stripe_each() is the one way Tally pages through a list (the
 * look-ups above, the refunds and disputes of a charge).
 *
 * API:	tly_stripe_create_once(), tly_stripe_find_child(),
 *	tly_stripe_find_since(), tly_stripe_transfer_is(),
 *	tly_stripe_transfer_reversals(), tly_stripe_each().
 */
#include <stdio.h>
#include <string.h>

#include "stripe.h"
#include "tly_str.h"

#define ONCE_ROUNDS	4
#define CHILD_PAGES	1000	/* 100 000 objects of one parent */

/*
 * tly_stripe_create_once - create the object described by 'o' (see the
 * top of the file); '*out' is it on TLY_OK.
 */
int
tly_stripe_create_once(tly_stripe *s, tly_pool *pool, tly_stripe_once *o,
    const tly_jv **out, tly_stripe_resp *resp, tly_err *err)
{
	tly_stripe_req rq;
	tly_form f;
	char key[256];
	int round, rc;

	*out = NULL;
	for (round = 0; round < ONCE_ROUNDS; round++) {
		snprintf(key, sizeof(key), "%s:g%d", o->key_base,
		    o->generation);
		tly_form_init(&f);
		rc = o->params(o, &f);
		if (rc == TLY_OK) {
			rq = (tly_stripe_req){ "POST", o->path, &f, key,
			    o->account };
			rc = tly_stripe_fetch(s, pool, &rq, o->object, out,
			    resp, err);
		}
		tly_form_free(&f);
		if (rc != TLY_UNKNOWN)
			return rc;		/* done, or refused for good */
		if (resp->status < 500)
			continue;		/* no answer: same key again */
		rc = o->lookup(o, s, pool, out, err);
		if (rc == TLY_OK)
			return TLY_OK;
		if (rc != TLY_NOTFOUND)
			return TLY_UNKNOWN;
		tly_err_clear(err);
		rc = o->bump(o, o->generation + 1, err);
		if (rc != TLY_OK)
			return rc;
		o->generation++;
	}
	tly_err_set(err, TLY_EK_UPSTREAM, "stripe_outcome_unknown",
	    "The payment provider did not confirm the request; it will be "
	    "checked and finished.");
	return TLY_UNKNOWN;
}

/* what a paged look-up reads and looks for */
typedef struct finder {
	const char	*object, *key, *value;	/* metadata[key] = value */
	const tly_jv	*found;
} finder;

/* match - 'fd''s object: found, the listing stops */
static int
match(void *arg, const tly_jv *e, int *stop, tly_err *err)
{
	finder *fd = arg;
	const char *t, *v;

	(void)err;
	t = tly_json_str(e, "object");
	v = tly_st_metadata(tly_json_get(e, "metadata"), fd->key);
	if (t && strcmp(t, fd->object) == 0 && v &&
	    strcmp(v, fd->value) == 0) {
		fd->found = e;
		*stop = 1;
	}
	return TLY_OK;
}

/*
 * tly_stripe_each - page through list 'l' (100 a page, newest first),
 * 'fn' called on each object; it stops the listing by setting '*stop',
 * or by returning a failure, which is returned.  TLY_OK when the list
 * ended or 'fn' stopped it, TLY_TOO_LARGE when there is still more after
 * l->pages pages, or a failure.
 */
int
tly_stripe_each(tly_stripe *s, tly_pool *pool, const tly_stripe_list *l,
    tly_stripe_each_fn fn, void *arg, tly_err *err)
{
	const char *after = NULL;
	tly_stripe_resp resp;
	tly_stripe_req rq;
	tly_st_list list;
	const tly_jv *e;
	int page, rc, stop = 0;
	tly_form f;

	for (page = 0; page < l->pages; page++) {
		tly_form_init(&f);
		if (l->filter)
			tly_form_str(&f, l->filter, l->value);
		if (l->since >= 0)
			tly_form_i64(&f, "created[gte]", l->since);
		tly_form_i64(&f, "limit", 100);
		tly_form_str(&f, "starting_after", after);
		rq = (tly_stripe_req){ "GET", l->path, &f, NULL, NULL };
		rc = tly_stripe_call(s, pool, &rq, &resp, err);
		tly_form_free(&f);
		if (rc)
			return rc;
		if (tly_st_list_parse(resp.json, &list) != TLY_OK)
			return tly_err_set(err, TLY_EK_UPSTREAM,
			    "stripe_bad_reply", "Unexpected list reply.");
		for (e = list.data->child; e; e = e->next) {
			rc = fn(arg, e, &stop, err);
			if (rc || stop)
				return rc;
			after = tly_json_str(e, "id");
		}
		if (!list.has_more || after == NULL)
			return TLY_OK;
	}
	return TLY_TOO_LARGE;
}

/*
 * find - the object of list 'l' whose metadata[fd->key] is fd->value.
 * TLY_OK with '*out', TLY_NOTFOUND (the list ended), TLY_TOO_LARGE
 * (still more after l->pages pages), or a failure.
 */
static int
find(tly_stripe *s, tly_pool *pool, const tly_stripe_list *l, finder *fd,
    const tly_jv **out, tly_err *err)
{
	int rc;

	*out = NULL;
	fd->found = NULL;
	rc = tly_stripe_each(s, pool, l, match, fd, err);
	if (rc)
		return rc;
	*out = fd->found;
	return fd->found ? TLY_OK : TLY_NOTFOUND;
}

/*
 * tly_stripe_find_since - the object of list 'path' (of type 'object')
 * created at or after 'since' whose metadata[tally_id] is 'id', reading
 * the list to its end: for objects no parent filters (a Connect
 * account), 'since' being when Tally began making it.  TLY_OK with
 * '*out', TLY_NOTFOUND, or a failure.
 */
int
tly_stripe_find_since(tly_stripe *s, tly_pool *pool, const char *path,
    const char *object, const char *id, int64_t since, const tly_jv **out,
    tly_err *err)
{
	tly_stripe_list l = { path, NULL, NULL, since, CHILD_PAGES };
	finder fd = { object, "tally_id", id, NULL };
	int rc;

	rc = find(s, pool, &l, &fd, out, err);
	if (rc == TLY_TOO_LARGE)
		return tly_err_set(err, TLY_EK_UPSTREAM,
		    "stripe_list_too_long", "Too many objects at the payment "
		    "provider since then.");
	return rc;
}

/*
 * tly_stripe_find_child - the object of list 'path' (of type 'object')
 * filtered by 'filter' = 'parent' (NULL: 'path' names the parent
 * itself, "/v1/transfers/tr_…/reversals") whose metadata[tally_id] is
 * 'id'.  TLY_OK with '*out', TLY_NOTFOUND, or a failure.
 */
int
tly_stripe_find_child(tly_stripe *s, tly_pool *pool, const char *path,
    const char *filter, const char *parent, const char *object,
    const char *id, const tly_jv **out, tly_err *err)
{
	tly_stripe_list l = { path, filter, parent, -1, CHILD_PAGES };
	finder fd = { object, "tally_id", id, NULL };
	int rc;

	rc = find(s, pool, &l, &fd, out, err);
	if (rc == TLY_TOO_LARGE)
		return tly_err_set(err, TLY_EK_UPSTREAM,
		    "stripe_list_too_long", "Too many objects of one parent "
		    "at the payment provider.");
	return rc;
}

/*
 * tly_stripe_transfer_is - transfer 'obj' moves 'amount_cent' of 'cur' to
 * connected account 'dest' (1), or not (0)
 */
int
tly_stripe_transfer_is(const tly_jv *obj, int64_t amount_cent, const char *cur,
    const char *dest)
{
	tly_st_transfer t;

	return tly_st_transfer_parse(obj, &t) == TLY_OK && t.id != NULL &&
	    t.amount_cent == amount_cent && t.currency != NULL &&
	    strcmp(t.currency, cur) == 0 && t.destination != NULL &&
	    strcmp(t.destination, dest) == 0;
}

/*
 * tly_stripe_transfer_reversals - the reversals of transfer 't' (id
 * 'id'): those it embeds when it embeds them all, else listed; the array
 * in '*arr'.
 */
int
tly_stripe_transfer_reversals(tly_stripe *s, tly_pool *pool, const tly_jv *t,
    const char *id, const tly_jv **arr, tly_err *err)
{
	tly_stripe_resp resp;
	tly_stripe_req rq;
	tly_st_list list;
	const tly_jv *emb;
	const char *path;
	int more = 0, rc;
	tly_form f;

	emb = tly_json_get(t, "reversals");
	if (emb && tly_json_bool(emb, "has_more", &more) == TLY_OK && !more &&
	    tly_json_get(emb, "data")) {
		*arr = tly_json_get(emb, "data");
		return TLY_OK;
	}
	path = tly_stripe_path(pool, "/v1/transfers/", id, "/reversals");
	if (path == NULL)
		return tly_err_internal(err);
	tly_form_init(&f);
	tly_form_i64(&f, "limit", 100);
	rq = (tly_stripe_req){ "GET", path, &f, NULL, NULL };
	rc = tly_stripe_call(s, pool, &rq, &resp, err);
	tly_form_free(&f);
	if (rc == TLY_OK && tly_st_list_parse(resp.json, &list) != TLY_OK)
		rc = tly_err_set(err, TLY_EK_UPSTREAM, "stripe_bad_reply",
		    "Unexpected list reply.");
	if (rc == TLY_OK)
		*arr = list.data;
	return rc;
}
