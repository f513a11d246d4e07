/*
 * check.c - the ledger's invariants (see check.h and docs/ledger.md)
 *
 * Owns no table: it only reads.
 *
 * Each entry of tly_checks[] is one invariant and one query for the rows
 * that break it.  The queries group by payment, refund, checkout or row
 * so that a report names the object and both sides of the comparison.
 * What they check, in docs/ledger.md's words:
 *
 *   payment_balance      Σ shares of a payment = amount − refunded −
 *                        disputed (every other kind sums to zero)
 *   split_sum            the split rows of a payment = its amount
 *   fee_adjustment_zero  the fee adjustments of a payment sum to 0
 *   refund_rows          the rows of a booked refund = − its amount; an
 *                        unbooked refund has none
 *   refund_row_cause     a refund (or refund_failed) row names a refund
 *                        of its payment
 *   refunded_total       payments.refunded_cent = Σ booked refunds not
 *                        reversed = − Σ refund and refund_failed rows
 *   refund_failed_rows   the refund_failed rows of a refund = its amount
 *                        when it was reversed, none otherwise
 *   refund_booked_state  a booked refund has succeeded (or failed later
 *                        and was reversed)
 *   refund_unbooked      no refund Stripe says succeeded is left unbooked
 *                        past the grace period (REFUND_GRACE, 10 minutes
 *                        after it became succeeded: the refunds job
 *                        retries a failed booking every few seconds)
 *   checkout_payment     a completed checkout has exactly one payment
 *   payment_checkout     a checkout's payment has its checkout, completed,
 *                        with the same PaymentIntent
 *   stock_nonnegative    no product's stock below zero
 *   reservation_released a closed checkout whose PaymentIntent is settled
 *                        (canceled, or none) holds no stock
 *   share_account_kind   a row's account has the kind its role needs
 *   share_fee_bearer     fee rows (STRIPE_FEE_KEPT, the bearer's side of a
 *                        fee adjustment) are on the payment's fee bearer
 *   outbox_sent_at       an email is sent exactly when it has sent_at
 *   dispute_total        payments.disputed_cent = Σ its disputes'
 *                        withdrawn amounts = − Σ its dispute rows (the
 *                        DISPUTE_FEE pair aside, which sums to zero)
 *   payout_amount        a payout that is not failed = Σ the rows it
 *                        claims (the transfer_reversal rows of its own
 *                        reversals aside); a failed one claims none
 *   payout_row_state     pending rows have no payout; a claimed row is in
 *                        a payout being transferred, a paid row in a paid
 *                        payout
 *   payout_row_owner     a payout's rows are its payee's, in its currency
 *   payout_payee         payouts go only to talent, agent, ambassador and
 *                        host partner accounts; a paid one has a transfer
 *   payout_reversed      payouts.reversed_cent = − the payee's
 *                        transfer_reversal rows of its reversals on that
 *                        payout (so, with the next check, Σ its
 *                        reversals that stand); each reversal's rows sum
 *                        to zero
 *   transfer_reversal_rows  each reversal of a payout has its pair (and
 *                        its inverse pair once failed): its rows on the
 *                        payout = − its amount while it stands, 0 once
 *                        failed; a reversed one has Stripe's id; a
 *                        reversal of an advance has no rows
 *
 *   advance_balance      each advance: 0 <= offset, 0 <= reversed,
 *                        offset + reversed <= granted, offset = − its
 *                        ADVANCE_OFFSET rows on the payee = its rows on
 *                        the platform (kinds advance_offset, advance_fee,
 *                        advance_return and advance_reversal), reversed =
 *                        Σ the reversals of its transfer; not transferred
 *                        -> offset 0 and reversed 0
 *   advance_row_owner    an ADVANCE_OFFSET row names an advance, is on
 *                        its payee or the platform, in its currency
 *   advance_payment      in each payment, each advance's offset on the
 *                        payee: 0 <= N <= O (N what is still offset, O
 *                        its advance_offset and advance_fee rows), and
 *                        the payee's O together <= its earning there
 *                        (split and fee_adjustment rows, at least 0)
 *
 * A share row is in at most one payout by construction (one payout_id
 * column).
 *
 * API:	tly_checks[], tly_check_find(), tly_check_run().
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "tly_buf.h"

#define OPEN_STATUSES \
	"('open', 'requires_action', 'processing', 'payment_failed')"

/* how long a refund may stay succeeded and unbooked (docs/ledger.md) */
#define REFUND_GRACE	"10 MINUTE"

const tly_check tly_checks[] = {
	{ "payment_balance",
	    "the shares of each payment sum to its amount less what was "
	    "refunded and disputed",
	    "payment expected actual",
	    "SELECT p.id, p.amount_cent - p.refunded_cent - p.disputed_cent, "
	    "IFNULL(SUM(s.amount_cent), 0) FROM payments p LEFT JOIN shares s "
	    "ON s.payment_id = p.id GROUP BY p.id, p.amount_cent, "
	    "p.refunded_cent, p.disputed_cent HAVING "
	    "IFNULL(SUM(s.amount_cent), 0) <> p.amount_cent - p.refunded_cent "
	    "- p.disputed_cent ORDER BY p.id" },
	{ "split_sum",
	    "the split rows of each payment sum to its amount",
	    "payment expected actual",
	    "SELECT p.id, p.amount_cent, IFNULL(SUM(s.amount_cent), 0) FROM "
	    "payments p LEFT JOIN shares s ON s.payment_id = p.id AND s.kind "
	    "= 'split' GROUP BY p.id, p.amount_cent HAVING "
	    "IFNULL(SUM(s.amount_cent), 0) <> p.amount_cent ORDER BY p.id" },
	{ "fee_adjustment_zero",
	    "the fee adjustment rows of each payment sum to zero",
	    "payment expected actual",
	    "SELECT payment_id, 0, SUM(amount_cent) FROM shares WHERE kind = "
	    "'fee_adjustment' GROUP BY payment_id HAVING SUM(amount_cent) <> 0 "
	    "ORDER BY payment_id" },
	{ "refund_rows",
	    "the rows of each booked refund sum to minus its amount; an "
	    "unbooked refund has none",
	    "refund payment expected actual",
	    "SELECT r.id, r.payment_id, IF(r.booked, -r.amount_cent, 0), "
	    "IFNULL(SUM(s.amount_cent), 0) FROM refunds r LEFT JOIN shares s "
	    "ON s.cause_id = r.id AND s.payment_id = r.payment_id AND s.kind = "
	    "'refund' GROUP BY r.id, r.payment_id, r.booked, r.amount_cent "
	    "HAVING IFNULL(SUM(s.amount_cent), 0) <> IF(r.booked, "
	    "-r.amount_cent, 0) ORDER BY r.id" },
	{ "refund_row_cause",
	    "every refund row belongs to a refund of its payment",
	    "share payment cause",
	    "SELECT s.id, s.payment_id, IFNULL(s.cause_id, 'NULL') FROM "
	    "shares s LEFT JOIN refunds r ON r.id = s.cause_id AND "
	    "r.payment_id = s.payment_id WHERE s.kind IN ('refund', "
	    "'refund_failed') AND r.id IS NULL ORDER BY s.id" },
	{ "refunded_total",
	    "each payment's refunded_cent equals its booked refunds not "
	    "reversed and minus its refund and refund_failed rows",
	    "payment refunded_cent booked_refunds minus_refund_rows",
	    "SELECT id, refunded_cent, booked, minus_rows FROM (SELECT p.id, "
	    "p.refunded_cent, (SELECT IFNULL(SUM(r.amount_cent), 0) FROM "
	    "refunds r WHERE r.payment_id = p.id AND r.booked = 1 AND "
	    "r.reversed = 0) AS booked, (SELECT IFNULL(-SUM(s.amount_cent), 0) "
	    "FROM shares s WHERE s.payment_id = p.id AND s.kind IN ('refund', "
	    "'refund_failed')) AS minus_rows FROM payments p) v WHERE booked "
	    "<> refunded_cent OR minus_rows <> refunded_cent ORDER BY id" },
	{ "refund_failed_rows",
	    "the refund_failed rows of each refund sum to its amount when it "
	    "was reversed, and there are none otherwise",
	    "refund payment expected actual",
	    "SELECT r.id, r.payment_id, IF(r.reversed, r.amount_cent, 0), "
	    "IFNULL(SUM(s.amount_cent), 0) FROM refunds r LEFT JOIN shares s "
	    "ON s.cause_id = r.id AND s.payment_id = r.payment_id AND s.kind = "
	    "'refund_failed' GROUP BY r.id, r.payment_id, r.reversed, "
	    "r.amount_cent HAVING IFNULL(SUM(s.amount_cent), 0) <> "
	    "IF(r.reversed, r.amount_cent, 0) ORDER BY r.id" },
	{ "refund_booked_state",
	    "a booked refund has succeeded, or failed later and was reversed",
	    "refund expected actual",
	    "SELECT id, IF(reversed, 'failed', 'succeeded'), state FROM "
	    "refunds WHERE booked = 1 AND state <> IF(reversed, 'failed', "
	    "'succeeded') ORDER BY id" },
	{ "refund_unbooked",
	    "no refund that succeeded at Stripe is left unbooked past the "
	    "grace period of " REFUND_GRACE "S",
	    "refund payment state booked",
	    "SELECT id, payment_id, state, booked FROM refunds WHERE state = "
	    "'succeeded' AND booked = 0 AND updated_at < NOW(3) - INTERVAL "
	    REFUND_GRACE " ORDER BY id" },
	{ "checkout_payment",
	    "every completed checkout has exactly one payment",
	    "checkout expected actual",
	    "SELECT c.id, 1, COUNT(p.id) FROM checkouts c LEFT JOIN payments "
	    "p ON p.checkout_id = c.id WHERE c.status = 'completed' GROUP BY "
	    "c.id HAVING COUNT(p.id) <> 1 ORDER BY c.id" },
	{ "payment_checkout",
	    "every checkout payment's checkout exists, is completed and has "
	    "the payment's PaymentIntent",
	    "payment checkout status checkout_pi payment_pi",
	    "SELECT p.id, IFNULL(p.checkout_id, 'NULL'), IFNULL(c.status, "
	    "'(missing)'), IFNULL(c.pi_id, 'NULL'), p.pi_id FROM payments p "
	    "LEFT JOIN checkouts c ON c.id = p.checkout_id WHERE p.purpose = "
	    "'checkout' AND (c.id IS NULL OR c.status <> 'completed' OR "
	    "c.pi_id IS NULL OR c.pi_id <> p.pi_id) ORDER BY p.id" },
	{ "stock_nonnegative",
	    "no product's stock is below zero",
	    "product expected actual",
	    "SELECT id, '>= 0', stock FROM products WHERE stock < 0 ORDER BY "
	    "id" },
	{ "reservation_released",
	    "a closed checkout whose PaymentIntent is settled holds no stock",
	    "checkout status pi_state stock_held",
	    "SELECT id, status, pi_state, stock_held FROM checkouts WHERE "
	    "stock_held = 1 AND status NOT IN " OPEN_STATUSES " AND status <> "
	    "'completed' AND pi_state IN ('canceled', 'none') ORDER BY id" },
	{ "share_account_kind",
	    "each share row's account is of the kind its role requires",
	    "share payment role account expected actual",
	    "SELECT s.id, s.payment_id, s.role, s.account_id, k.kinds, "
	    "IFNULL(a.kind, '(missing)') FROM shares s JOIN (SELECT 'TALENT' "
	    "AS role, 'talent' AS kinds UNION ALL SELECT 'AGENT', 'agent' "
	    "UNION ALL SELECT 'AMBASSADOR', 'ambassador' UNION ALL SELECT "
	    "'HOST_PARTNER', 'host_partner' UNION ALL SELECT 'PLATFORM', "
	    "'platform' UNION ALL SELECT 'STRIPE_FEE', 'stripe_fee' UNION ALL "
	    "SELECT 'STRIPE_FEE_KEPT', 'talent,platform' UNION ALL SELECT "
	    "'DISPUTE_FEE', 'talent,platform,stripe_fee' UNION ALL SELECT "
	    "'ADVANCE_OFFSET', 'talent,agent,ambassador,host_partner,platform')"
	    " k ON k.role = "
	    "s.role LEFT JOIN accounts a ON a.id = s.account_id WHERE a.id IS "
	    "NULL OR FIND_IN_SET(a.kind, k.kinds) = 0 ORDER BY s.id" },
	{ "share_fee_bearer",
	    "the fee rows of a payment (STRIPE_FEE_KEPT, the bearer's side of "
	    "a fee adjustment) are on its fee bearer",
	    "share payment role expected actual",
	    "SELECT s.id, s.payment_id, s.role, p.fee_bearer_account_id, "
	    "s.account_id FROM shares s JOIN payments p ON p.id = "
	    "s.payment_id WHERE (s.role = 'STRIPE_FEE_KEPT' OR (s.kind = "
	    "'fee_adjustment' AND s.role <> 'STRIPE_FEE')) AND s.account_id "
	    "<> p.fee_bearer_account_id ORDER BY s.id" },
	{ "outbox_sent_at",
	    "an email is in state sent exactly when it has a sent_at",
	    "message state sent_at",
	    "SELECT id, state, IFNULL(CAST(sent_at AS CHAR), 'NULL') FROM "
	    "outbox WHERE (state = 'sent') <> (sent_at IS NOT NULL) ORDER BY "
	    "id" },
	{ "dispute_total",
	    "each payment's disputed_cent equals what its disputes withdrew "
	    "and minus its dispute rows (the fee pair aside)",
	    "payment disputed_cent withdrawn minus_dispute_rows",
	    "SELECT id, disputed_cent, withdrawn, minus_rows FROM (SELECT "
	    "p.id, p.disputed_cent, (SELECT IFNULL(SUM(d.withdrawn_cent), 0) "
	    "FROM disputes d WHERE d.payment_id = p.id) AS withdrawn, (SELECT "
	    "IFNULL(-SUM(s.amount_cent), 0) FROM shares s WHERE s.payment_id "
	    "= p.id AND s.kind IN ('dispute', 'dispute_reinstated') AND "
	    "s.role <> 'DISPUTE_FEE') AS minus_rows FROM payments p) v WHERE "
	    "withdrawn <> disputed_cent OR minus_rows <> disputed_cent ORDER "
	    "BY id" },
	{ "payout_amount",
	    "each payout that is not failed equals the rows it claims; a "
	    "failed one claims none",
	    "payout state expected actual",
	    "SELECT o.id, o.state, IF(o.state = 'failed', 0, o.amount_cent), "
	    "IFNULL(SUM(s.amount_cent), 0) FROM payouts o LEFT JOIN shares s "
	    "ON s.payout_id = o.id AND NOT (s.kind = 'transfer_reversal' AND "
	    "EXISTS (SELECT 1 FROM transfer_reversals t WHERE t.id = "
	    "s.cause_id AND t.payout_id = o.id)) GROUP BY "
	    "o.id, o.state, o.amount_cent HAVING IFNULL(SUM(s.amount_cent), 0) "
	    "<> IF(o.state = 'failed', 0, o.amount_cent) OR (o.state = "
	    "'failed' AND COUNT(s.id) > 0) ORDER BY o.id" },
	{ "payout_row_state",
	    "pending rows are in no payout; claimed rows are in a payout "
	    "being transferred, paid rows in a paid one",
	    "share status payout payout_state",
	    "SELECT s.id, s.status, IFNULL(s.payout_id, 'NULL'), "
	    "IFNULL(o.state, '(missing)') FROM shares s LEFT JOIN payouts o "
	    "ON o.id = s.payout_id WHERE NOT ((s.status = 'pending' AND "
	    "s.payout_id IS NULL) OR (s.status = 'claimed' AND o.state IN "
	    "('to_transfer', 'unknown')) OR (s.status = 'paid' AND o.state = "
	    "'paid')) ORDER BY s.id" },
	{ "payout_row_owner",
	    "a payout's rows are its payee's, in its currency",
	    "share payout account expected_account currency "
	    "expected_currency",
	    "SELECT s.id, o.id, s.account_id, o.account_id, s.currency, "
	    "o.currency FROM shares s JOIN payouts o ON o.id = s.payout_id "
	    "WHERE s.account_id <> o.account_id OR s.currency <> o.currency "
	    "ORDER BY s.id" },
	{ "payout_payee",
	    "payouts go only to payee accounts, and a paid one has its "
	    "transfer",
	    "payout account kind state transfer",
	    "SELECT o.id, o.account_id, IFNULL(a.kind, '(missing)'), o.state, "
	    "IFNULL(o.stripe_transfer_id, 'NULL') FROM payouts o LEFT JOIN "
	    "accounts a ON a.id = o.account_id WHERE a.kind IS NULL OR a.kind "
	    "NOT IN ('talent', 'agent', 'ambassador', 'host_partner') OR "
	    "(o.state = 'paid' AND o.stripe_transfer_id IS NULL) ORDER BY "
	    "o.id" },
	{ "payout_reversed",
	    "each payout's reversed_cent equals minus the transfer_reversal "
	    "rows of its reversals on it, and those rows sum to zero per "
	    "reversal",
	    "payout reversed_cent minus_rows",
	    "SELECT id, reversed_cent, minus_rows FROM (SELECT o.id, "
	    "o.reversed_cent, (SELECT IFNULL(-SUM(s.amount_cent), 0) FROM "
	    "shares s JOIN transfer_reversals t ON t.id = s.cause_id AND "
	    "t.payout_id = s.payout_id WHERE s.payout_id = o.id AND s.kind = "
	    "'transfer_reversal') AS minus_rows FROM payouts o) v WHERE "
	    "minus_rows <> reversed_cent UNION ALL SELECT cause_id, 0, "
	    "-SUM(amount_cent) FROM shares WHERE kind = 'transfer_reversal' "
	    "GROUP BY cause_id HAVING SUM(amount_cent) <> 0 ORDER BY 1" },
	{ "transfer_reversal_rows",
	    "each reversal of a payout has its pair of rows (and the inverse "
	    "pair once failed): its rows on the payout are minus its amount "
	    "while it stands and zero once failed; a reversed one has "
	    "Stripe's id; a reversal of an advance has no rows",
	    "reversal origin state expected on_payout rows stripe_id",
	    "SELECT t.id, t.origin, t.state, IF(t.state = 'failed' OR "
	    "t.payout_id IS NULL, 0, -t.amount_cent), "
	    "IFNULL(SUM(IF(s.payout_id = t.payout_id, s.amount_cent, 0)), 0), "
	    "COUNT(s.id), IFNULL(t.stripe_reversal_id, 'NULL') FROM "
	    "transfer_reversals t LEFT JOIN shares s ON s.cause_id = t.id AND "
	    "s.kind = 'transfer_reversal' GROUP BY t.id, t.origin, t.state, "
	    "t.amount_cent, t.payout_id, t.stripe_reversal_id HAVING "
	    "IFNULL(SUM(IF(s.payout_id = t.payout_id, s.amount_cent, 0)), 0) "
	    "<> IF(t.state = 'failed' OR t.payout_id IS NULL, 0, "
	    "-t.amount_cent) OR COUNT(s.id) <> IF(t.payout_id IS NULL, 0, "
	    "IF(t.state = 'failed', 4, 2)) OR (t.state = 'reversed' AND "
	    "t.stripe_reversal_id IS NULL) ORDER BY t.id" },
	{ "advance_balance",
	    "each advance has 0 <= offset, 0 <= reversed, offset + reversed "
	    "<= granted, its offset equals minus its ADVANCE_OFFSET rows on "
	    "the payee and its rows on the platform, its reversed amount the "
	    "reversals of its transfer, and only a transferred advance is "
	    "offset or reversed",
	    "advance state granted offset payee_rows platform_rows reversed "
	    "reversals",
	    "SELECT a.id, a.state, a.granted_cent, a.offset_cent, "
	    "IFNULL(-SUM(IF(s.account_id <> 'acc_platform', s.amount_cent, "
	    "0)), 0) AS payee, IFNULL(SUM(IF(s.account_id = 'acc_platform', "
	    "s.amount_cent, 0)), 0) AS platform, a.reversed_cent, (SELECT "
	    "IFNULL(SUM(t.amount_cent), 0) FROM transfer_reversals t WHERE "
	    "t.advance_id = a.id) AS reversals FROM advances a LEFT JOIN "
	    "shares s ON s.cause_id = a.id AND s.role = 'ADVANCE_OFFSET' "
	    "GROUP BY a.id, a.state, a.granted_cent, a.offset_cent, "
	    "a.reversed_cent HAVING "
	    "a.offset_cent < 0 OR a.reversed_cent < 0 OR a.offset_cent + "
	    "a.reversed_cent > a.granted_cent OR payee <> "
	    "a.offset_cent OR platform <> a.offset_cent OR reversals <> "
	    "a.reversed_cent OR (a.state <> 'transferred' AND (a.offset_cent "
	    "<> 0 OR a.reversed_cent <> 0)) ORDER BY a.id" },
	{ "advance_row_owner",
	    "an ADVANCE_OFFSET row names an advance, is of kind "
	    "advance_offset, advance_fee, advance_return or advance_reversal, "
	    "in its currency, on its payee or the platform",
	    "share advance kind account expected_account currency "
	    "expected_currency",
	    "SELECT s.id, IFNULL(s.cause_id, 'NULL'), s.kind, s.account_id, "
	    "IFNULL(a.account_id, '(missing)'), s.currency, "
	    "IFNULL(a.currency, '(missing)') FROM shares s LEFT JOIN advances "
	    "a ON a.id = s.cause_id WHERE s.role = 'ADVANCE_OFFSET' AND (a.id "
	    "IS NULL OR s.kind NOT IN ('advance_offset', 'advance_fee', "
	    "'advance_return', 'advance_reversal') OR s.currency <> "
	    "a.currency OR (s.account_id <> a.account_id AND s.account_id <> "
	    "'acc_platform')) ORDER BY s.id" },
	{ "advance_payment",
	    "in each payment, each advance's offset on the payee is between 0 "
	    "and its base O (advance_offset and advance_fee rows), and the "
	    "payee's O together is at most its earning there",
	    "payment advance account offset base total_base earning",
	    "SELECT payment_id, cause_id, account_id, n, o, total_o, earning "
	    "FROM (SELECT v.payment_id, v.cause_id, v.account_id, v.n, v.o, "
	    "SUM(v.o) OVER (PARTITION BY v.payment_id, v.account_id) AS "
	    "total_o, GREATEST((SELECT IFNULL(SUM(e.amount_cent), 0) FROM "
	    "shares e WHERE e.payment_id = v.payment_id AND e.account_id = "
	    "v.account_id AND e.kind IN ('split', 'fee_adjustment')), 0) AS "
	    "earning FROM (SELECT payment_id, IFNULL(cause_id, 'NULL') AS "
	    "cause_id, account_id, -SUM(amount_cent) AS n, "
	    "-SUM(IF(kind IN ('advance_offset', 'advance_fee'), amount_cent, "
	    "0)) AS o FROM shares WHERE role = 'ADVANCE_OFFSET' AND "
	    "account_id <> 'acc_platform' GROUP BY payment_id, cause_id, "
	    "account_id) v) w WHERE n < 0 OR n > o OR total_o > earning "
	    "ORDER BY payment_id, cause_id" },
	{ NULL, NULL, NULL, NULL }
};

/* tly_check_find - the check named 'name', or NULL */
const tly_check *
tly_check_find(const char *name)
{
	const tly_check *c;

	for (c = tly_checks; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* label - the 'i'th word of 'cols' into 'dst' ("col<i>" past the end) */
static void
label(const char *cols, int i, char *dst, size_t sz)
{
	const char *p = cols, *e;
	int k = i;

	while (k-- > 0 && p) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p == NULL || *p == '\0') {
		snprintf(dst, sz, "col%d", i);
		return;
	}
	e = strchr(p, ' ');
	snprintf(dst, sz, "%.*s", (int)(e ? (size_t)(e - p) : strlen(p)), p);
}

/*
 * tly_check_run - run check 'c': 'fn' gets each violation; their number
 * goes to '*n'.
 */
int
tly_check_run(tly_ctx *ctx, const tly_check *c, tly_check_fn fn, void *arg,
    int64_t *n, tly_err *err)
{
	char name[32];
	const char *v;
	tly_buf line;
	tly_q q;
	int i, rc;

	*n = 0;
	if (tly_q_prep(ctx->db, &q, c->sql, err))
		return q.rc;
	(void)tly_q_exec(&q);
	tly_buf_init(&line, 4096);
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		(*n)++;
		tly_buf_reset(&line);
		for (i = 0; i < tly_q_ncols(&q); i++) {
			label(c->cols, i, name, sizeof(name));
			v = tly_q_col_str(&q, i);
			if (tly_q_col_null(&q, i))
				(void)tly_buf_addf(&line, "%s%s=NULL",
				    i ? " " : "", name);
			else if (v == NULL)
				(void)tly_buf_addf(&line, "%s%s=%lld",
				    i ? " " : "", name,
				    (long long)tly_q_col_i64(&q, i));
			else
				(void)tly_buf_addf(&line, "%s%s=%.200s",
				    i ? " " : "", name, v);
		}
		fn(arg, c, tly_buf_str(&line));
	}
	tly_q_done(&q);
	tly_buf_free(&line);
	return rc;
}
