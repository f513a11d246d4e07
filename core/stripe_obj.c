/*
 * stripe_obj.c - the Stripe objects Tally reads, from parsed JSON
 *
 * Owns no table.
 *
 * Only the fields Tally uses are read; everything else in Stripe's
 * objects is ignored, so new fields never break parsing.  Pointers in the
 * structs point into the parsed JSON (the caller's arena).  A field that
 * may be an id or an expanded object (latest_charge, balance_transaction)
 * yields the id either way, plus the object when it was expanded.  Each
 * parser checks "object" and "id" and fails on anything else.
 *
 * API:	tly_st_*_parse(), tly_st_metadata().
 */
#include <string.h>

#include "stripe.h"

static int64_t
i64(const tly_jv *o, const char *k)
{
	int64_t v = 0;

	(void)tly_json_i64(o, k, &v);
	return v;
}

static int
flag(const tly_jv *o, const char *k)
{
	int v = 0;

	(void)tly_json_bool(o, k, &v);
	return v;
}

/* is - 'o' is a JSON object of Stripe type 'type' with an id */
static int
is(const tly_jv *o, const char *type)
{
	const char *t;

	if (o == NULL || o->type != TLY_JOBJ)
		return 0;
	t = tly_json_str(o, "object");
	return t && strcmp(t, type) == 0 && tly_json_str(o, "id") != NULL;
}

/* id_or_object - the id of field 'k', whether an id or expanded */
static const char *
id_or_object(const tly_jv *o, const char *k, const tly_jv **expanded)
{
	const tly_jv *v = tly_json_get(o, k);

	if (expanded)
		*expanded = NULL;
	if (v == NULL)
		return NULL;
	if (v->type == TLY_JSTR)
		return v->s;
	if (v->type == TLY_JOBJ) {
		if (expanded)
			*expanded = v;
		return tly_json_str(v, "id");
	}
	return NULL;
}

/* tly_st_metadata - metadata['key'] as a string, or NULL */
const char *
tly_st_metadata(const tly_jv *md, const char *key)
{
	const tly_jv *v = tly_json_get(md, key);

	return v && v->type == TLY_JSTR ? v->s : NULL;
}

int
tly_st_pi_parse(const tly_jv *o, tly_st_pi *p)
{
	memset(p, 0, sizeof(*p));
	if (!is(o, "payment_intent"))
		return TLY_ERR;
	p->id = tly_json_str(o, "id");
	p->status = tly_json_str(o, "status");
	p->currency = tly_json_str(o, "currency");
	p->client_secret = tly_json_str(o, "client_secret");
	p->latest_charge = id_or_object(o, "latest_charge", &p->charge);
	p->cancellation_reason = tly_json_str(o, "cancellation_reason");
	p->capture_method = tly_json_str(o, "capture_method");
	p->transfer_group = tly_json_str(o, "transfer_group");
	p->error_type = tly_json_str(o, "last_payment_error.type");
	p->error_code = tly_json_str(o, "last_payment_error.code");
	p->error_decline_code =
	    tly_json_str(o, "last_payment_error.decline_code");
	p->error_message = tly_json_str(o, "last_payment_error.message");
	p->amount_cent = i64(o, "amount");
	p->amount_received_cent = i64(o, "amount_received");
	p->created = i64(o, "created");
	p->metadata = tly_json_get(o, "metadata");
	return p->status && p->currency ? TLY_OK : TLY_ERR;
}

int
tly_st_charge_parse(const tly_jv *o, tly_st_charge *c)
{
	memset(c, 0, sizeof(*c));
	if (!is(o, "charge"))
		return TLY_ERR;
	c->id = tly_json_str(o, "id");
	c->payment_intent = id_or_object(o, "payment_intent", NULL);
	c->status = tly_json_str(o, "status");
	c->currency = tly_json_str(o, "currency");
	c->balance_transaction = id_or_object(o, "balance_transaction",
	    &c->balance_txn);
	c->dispute = id_or_object(o, "dispute", NULL);
	c->transfer_group = tly_json_str(o, "transfer_group");
	c->amount_cent = i64(o, "amount");
	c->amount_captured_cent = i64(o, "amount_captured");
	c->amount_refunded_cent = i64(o, "amount_refunded");
	c->refunded = flag(o, "refunded");
	c->captured = flag(o, "captured");
	c->paid = flag(o, "paid");
	c->disputed = flag(o, "disputed");
	c->metadata = tly_json_get(o, "metadata");
	return TLY_OK;
}

int
tly_st_refund_parse(const tly_jv *o, tly_st_refund *r)
{
	memset(r, 0, sizeof(*r));
	if (!is(o, "refund"))
		return TLY_ERR;
	r->id = tly_json_str(o, "id");
	r->charge = id_or_object(o, "charge", NULL);
	r->payment_intent = id_or_object(o, "payment_intent", NULL);
	r->status = tly_json_str(o, "status");
	r->currency = tly_json_str(o, "currency");
	r->reason = tly_json_str(o, "reason");
	r->failure_reason = tly_json_str(o, "failure_reason");
	r->balance_transaction = id_or_object(o, "balance_transaction", NULL);
	r->amount_cent = i64(o, "amount");
	r->created = i64(o, "created");
	r->metadata = tly_json_get(o, "metadata");
	return TLY_OK;
}

int
tly_st_transfer_parse(const tly_jv *o, tly_st_transfer *t)
{
	memset(t, 0, sizeof(*t));
	if (!is(o, "transfer"))
		return TLY_ERR;
	t->id = tly_json_str(o, "id");
	t->currency = tly_json_str(o, "currency");
	t->destination = id_or_object(o, "destination", NULL);
	t->transfer_group = tly_json_str(o, "transfer_group");
	t->source_transaction = id_or_object(o, "source_transaction", NULL);
	t->amount_cent = i64(o, "amount");
	t->amount_reversed_cent = i64(o, "amount_reversed");
	t->created = i64(o, "created");
	t->reversed = flag(o, "reversed");
	t->metadata = tly_json_get(o, "metadata");
	return TLY_OK;
}

int
tly_st_reversal_parse(const tly_jv *o, tly_st_reversal *r)
{
	memset(r, 0, sizeof(*r));
	if (!is(o, "transfer_reversal"))
		return TLY_ERR;
	r->id = tly_json_str(o, "id");
	r->transfer = id_or_object(o, "transfer", NULL);
	r->currency = tly_json_str(o, "currency");
	r->amount_cent = i64(o, "amount");
	r->metadata = tly_json_get(o, "metadata");
	return TLY_OK;
}

int
tly_st_account_parse(const tly_jv *o, tly_st_account *a)
{
	memset(a, 0, sizeof(*a));
	if (!is(o, "account"))
		return TLY_ERR;
	a->id = tly_json_str(o, "id");
	a->type = tly_json_str(o, "type");
	a->email = tly_json_str(o, "email");
	a->charges_enabled = flag(o, "charges_enabled");
	a->payouts_enabled = flag(o, "payouts_enabled");
	a->details_submitted = flag(o, "details_submitted");
	a->currently_due = tly_json_path(o, "requirements.currently_due");
	a->metadata = tly_json_get(o, "metadata");
	return TLY_OK;
}

int
tly_st_account_link_parse(const tly_jv *o, tly_st_account_link *l)
{
	const char *t;

	memset(l, 0, sizeof(*l));
	t = o ? tly_json_str(o, "object") : NULL;
	if (t == NULL || strcmp(t, "account_link") != 0)
		return TLY_ERR;
	l->url = tly_json_str(o, "url");
	l->expires_at = i64(o, "expires_at");
	return l->url ? TLY_OK : TLY_ERR;
}

int
tly_st_balance_txn_parse(const tly_jv *o, tly_st_balance_txn *b)
{
	memset(b, 0, sizeof(*b));
	if (!is(o, "balance_transaction"))
		return TLY_ERR;
	b->id = tly_json_str(o, "id");
	b->type = tly_json_str(o, "type");
	b->currency = tly_json_str(o, "currency");
	b->source = id_or_object(o, "source", NULL);
	b->status = tly_json_str(o, "status");
	b->reporting_category = tly_json_str(o, "reporting_category");
	b->amount_cent = i64(o, "amount");
	b->fee_cent = i64(o, "fee");
	b->net_cent = i64(o, "net");
	b->available_on = i64(o, "available_on");
	b->created = i64(o, "created");
	b->exchange_rate = tly_json_get(o, "exchange_rate");
	if (b->exchange_rate && b->exchange_rate->type == TLY_JNULL)
		b->exchange_rate = NULL;
	return TLY_OK;
}

int
tly_st_dispute_parse(const tly_jv *o, tly_st_dispute *d)
{
	memset(d, 0, sizeof(*d));
	if (!is(o, "dispute"))
		return TLY_ERR;
	d->id = tly_json_str(o, "id");
	d->charge = id_or_object(o, "charge", NULL);
	d->payment_intent = id_or_object(o, "payment_intent", NULL);
	d->status = tly_json_str(o, "status");
	d->reason = tly_json_str(o, "reason");
	d->currency = tly_json_str(o, "currency");
	d->amount_cent = i64(o, "amount");
	d->balance_transactions = tly_json_get(o, "balance_transactions");
	return TLY_OK;
}

int
tly_st_event_parse(const tly_jv *o, tly_st_event *e)
{
	memset(e, 0, sizeof(*e));
	if (!is(o, "event"))
		return TLY_ERR;
	e->id = tly_json_str(o, "id");
	e->type = tly_json_str(o, "type");
	e->api_version = tly_json_str(o, "api_version");
	e->account = tly_json_str(o, "account");
	e->created = i64(o, "created");
	e->livemode = flag(o, "livemode");
	e->object = tly_json_path(o, "data.object");
	e->previous = tly_json_path(o, "data.previous_attributes");
	return e->type && e->object && e->object->type == TLY_JOBJ ?
	    TLY_OK : TLY_ERR;
}

int
tly_st_list_parse(const tly_jv *o, tly_st_list *l)
{
	const char *t;

	memset(l, 0, sizeof(*l));
	t = o ? tly_json_str(o, "object") : NULL;
	if (t == NULL || (strcmp(t, "list") != 0 &&
	    strcmp(t, "search_result") != 0))
		return TLY_ERR;
	l->data = tly_json_get(o, "data");
	if (l->data == NULL || l->data->type != TLY_JARR)
		return TLY_ERR;
	l->n = l->data->n;
	l->has_more = flag(o, "has_more");
	return TLY_OK;
}
