/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the classify stage: every input is parsed as a raw
 * message and classified against a fake store whose lookups hit or miss by
 * the input's first byte, so that every step is reached.  The input also
 * goes through the token decoder and the subject functions as a string.
 * Built and run by test/fuzz/run_fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "cfg.h"
#include "classify.h"
#include "parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t	fuzz_key[] = "fuzz-key-0123456789abcdef";

static const struct classify_settings settings = {
	.window_ms = 30 * 60 * 1000,
	.domain = "support.example.com",
	.from_addr = "critical@support.example.com",
	.token_key = fuzz_key,
	.token_key_len = sizeof(fuzz_key) - 1,
};

static struct cfg_route routes[] = {
	{ (char *)"critical@support.example.com", CFG_SEVERITY_CRITICAL },
	{ (char *)"high@support.example.com", CFG_SEVERITY_HIGH },
};

static struct cfg_member team[] = {
	{ (char *)"alice.ops", (char *)"Alice Ops", (char *)"+4915100000001",
	  (char *)"alice.ops@example.com" },
};

static struct cfg fuzz_cfg = {
	.routes = routes,
	.n_routes = 2,
	.team = team,
	.n_team = 1,
};

/* Bit i of the selector makes lookup i find something. */
static int64_t
hit(void *ctx, unsigned bit)
{
	unsigned	selector = *(const unsigned *)ctx;

	return (selector >> bit) & 1u ? 1042 : 0;
}

static int64_t
by_message_id(void *ctx, const char *message_id)
{
	(void)message_id;
	return hit(ctx, 0);
}

static int64_t
by_content_hash(void *ctx, const char *hash)
{
	(void)hash;
	return hit(ctx, 1);
}

static int64_t
of_message(void *ctx, int64_t msg_id)
{
	(void)msg_id;
	return hit(ctx, 2);
}

static int64_t
incident_by_id(void *ctx, const char *message_id)
{
	(void)message_id;
	return hit(ctx, 3);
}

static int64_t
by_fingerprint(void *ctx, const char *fingerprint, int64_t since_ms)
{
	(void)fingerprint;
	(void)since_ms;
	return hit(ctx, 4);
}

static int64_t
by_sender(void *ctx, const char *addr, int64_t since_ms)
{
	(void)addr;
	(void)since_ms;
	return hit(ctx, 5);
}

static bool
exists(void *ctx, int64_t incident_id, bool *is_open)
{
	(void)incident_id;
	*is_open = hit(ctx, 7) != 0;
	return hit(ctx, 6) != 0;
}

static const struct classify_lookup lookup = {
	.message_by_message_id = by_message_id,
	.message_by_content_hash = by_content_hash,
	.incident_of_message = of_message,
	.incident_by_message_id = incident_by_id,
	.incident_by_fingerprint = by_fingerprint,
	.incident_by_sender = by_sender,
	.incident_exists = exists,
};

static void
fuzz_strings(const uint8_t *data, size_t size)
{
	struct classify_token	 tok;
	char			*text, *out;
	const char		*word;

	text = g_strndup((const char *)data, size);
	if (classify_token_verify(&settings, text, &tok) == 0)
		classify_token_fini(&tok);
	out = classify_subject_key(text);
	g_free(out);
	(void)classify_subject_incident_tag(text);
	(void)classify_is_ack_text(text, NULL, &word);
	(void)classify_is_resolve_text(text);
	g_free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rcpts[] = { "high@support.example.com",
	    "critical@support.example.com" };
	struct parse_result	 parsed;
	struct classify_result	 result;
	struct classify_input	 in;
	unsigned		 selector = size > 0 ? data[0] : 0;

	parse_init();
	(void)parse_message(data, size, &parsed);
	memset(&in, 0, sizeof(in));
	in.parsed = &parsed;
	/* Every third input comes with a null reverse path. */
	in.mail_from = size % 3 == 0 ? "" : "x@customer.example.net";
	in.rcpts = rcpts;
	in.n_rcpts = 2;
	in.received_ms = INT64_C(1748938442000);
	in.raw = data;
	in.raw_len = size;
	(void)classify_message(&fuzz_cfg, &settings, &in, &lookup, &selector,
	    &result);
	classify_result_fini(&result);
	parse_result_fini(&parsed);
	if (size < 4096)
		fuzz_strings(data, size);
	return 0;
}
