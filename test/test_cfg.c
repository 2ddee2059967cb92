/* SPDX-License-Identifier: ISC */
/*
 * Tests for the cfg stage: good files with every value and default checked,
 * one bad file per kind of problem with its exact "file:line: key: problem"
 * message, the shipped configs in etc/, the lookups and the secrecy check.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "cfg.h"
#include "tap.h"
#include "../src/cfg/cfg_priv.h"

#define TEST_AUTH_TOKEN	"test-auth-token-4f9a"

/*
 * A valid config with three values filled in: listen.smtp, public_url and
 * the one route's address.
 */
static const char minimal_fmt[] =
	"listen = { smtp = \"%s\"; http = \"127.0.0.1:8025\"; };\n"
	"public_url = \"%s\";\n"
	"store = \"/tmp/critgate-test.db\";\n"
	"routes = ( { address = \"%s\"; severity = \"high\"; } );\n"
	"team = ( { name = \"ana\"; full_name = \"Ana Silva\";\n"
	"    phone = \"+15550100001\"; email = \"ana@example.com\"; } );\n"
	"twilio = { account_sid = \"AC00000000000000000000000000000000\";\n"
	"    auth_token = \"" TEST_AUTH_TOKEN "\";\n"
	"    from = \"+15550100000\"; };\n";

static struct cfg *
load(const char *path, GPtrArray *errors)
{
	struct cfg	*cfg;
	guint		 i;

	cfg = cfg_load(path, errors);
	for (i = 0; i < errors->len; i++)
		printf("# %s\n", (const char *)errors->pdata[i]);
	return cfg;
}

/* Writes text to a new temporary file and returns its path. */
static char *
write_temp(const char *text)
{
	char	*path;
	int	 fd;

	path = g_build_filename(g_get_tmp_dir(), "test-cfg-XXXXXX", NULL);
	fd = mkstemp(path);
	if (fd == -1) {
		printf("# mkstemp %s: %s\n", path, g_strerror(errno));
		abort();
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		printf("# write %s: %s\n", path, g_strerror(errno));
		abort();
	}
	close(fd);
	return path;
}

/* Tells whether the minimal config with these three values loads. */
static bool
minimal_loads(const char *listen, const char *url, const char *address)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;
	char		*text, *path;
	bool		 loaded;

	text = g_strdup_printf(minimal_fmt, listen, url, address);
	path = write_temp(text);
	cfg = cfg_load(path, errors);
	loaded = cfg != NULL;
	cfg_free(cfg);
	unlink(path);
	g_free(path);
	g_free(text);
	g_ptr_array_free(errors, TRUE);
	return loaded;
}

/* Checks that data/cfg/<name>.conf is rejected with exactly one message. */
static void
check_rejected(const char *name, const char *want)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;
	char		*path;

	path = g_strdup_printf("data/cfg/%s.conf", name);
	cfg = load(path, errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len > 0)
		CHECK_STR(errors->pdata[0], want);
	cfg_free(cfg);
	g_free(path);
	g_ptr_array_free(errors, TRUE);
}

static void
minimal_config_takes_defaults(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load("data/cfg/good-minimal.conf", errors);
	CHECK(cfg != NULL);
	CHECK_INT(errors->len, 0);
	if (cfg == NULL)
		goto out;
	CHECK_STR(cfg->path, "data/cfg/good-minimal.conf");
	CHECK_STR(cfg->listen_smtp, "127.0.0.1:2525");
	CHECK_STR(cfg->listen_http, "127.0.0.1:8025");
	CHECK_STR(cfg->public_url, "https://pager.example.com");
	CHECK_STR(cfg->store_path, "/var/lib/critgate/critgate.db");
	CHECK_STR(cfg->hostname, g_get_host_name());
	CHECK_INT(cfg->max_message_bytes, 26214400);
	CHECK_INT(cfg->smtp_idle_timeout_ms, 300 * 1000);
	CHECK_INT(cfg->smtp_session_timeout_ms, 1800 * 1000);
	CHECK_INT(cfg->max_recipients, 50);
	CHECK_INT(cfg->max_connections, 200);
	CHECK_INT(cfg->max_connections_per_client, 20);
	CHECK_INT(cfg->max_errors_per_session, 10);
	CHECK_INT(cfg->max_text_line, 65536);
	CHECK(cfg->tls_cert_file == NULL);
	CHECK(!cfg->tls_require);
	CHECK(cfg->listen_lmtp == NULL);
	CHECK(cfg->imap.host == NULL);
	CHECK_STR(cfg->imap.mailbox, "INBOX");
	CHECK_INT(cfg->imap.port, 993);
	CHECK_INT(cfg->n_routes, 1);
	CHECK_STR(cfg->routes[0].address, "critical@example.com");
	CHECK_INT(cfg->routes[0].severity, CFG_SEVERITY_CRITICAL);
	CHECK_INT(cfg->ack_deadline_ms[CFG_SEVERITY_CRITICAL], 30 * 60000);
	CHECK_INT(cfg->ack_deadline_ms[CFG_SEVERITY_HIGH], 720 * 60000);
	CHECK_INT(cfg->fix_due_ms, 5 * 86400000LL);
	CHECK_INT(cfg->repeat_ms, 5 * 60000);
	CHECK_INT(cfg->n_team, 1);
	CHECK_STR(cfg->team[0].name, "ana");
	CHECK_STR(cfg->team[0].full_name, "Ana Silva");
	CHECK_STR(cfg->team[0].phone, "+15550100001");
	CHECK_STR(cfg->team[0].email, "ana@example.com");
	CHECK_STR(cfg->twilio.api_base, "https://api.twilio.com");
	CHECK_STR(cfg->twilio.account_sid,
	    "AC00000000000000000000000000000000");
	CHECK_STR(cfg->twilio.auth_token, TEST_AUTH_TOKEN);
	CHECK_STR(cfg->twilio.from, "+15550100000");
	CHECK_INT(cfg->twilio.timeout_ms, 10000);
	CHECK_STR(cfg->page_limit_voice.spec, "4/15m");
	CHECK_INT(cfg->page_limit_voice.count, 4);
	CHECK_INT(cfg->page_limit_voice.window_ms, 15 * 60000);
	CHECK_STR(cfg->page_limit_sms.spec, "6/15m");
	CHECK_INT(cfg->page_limit_sms.count, 6);
	CHECK_INT(cfg->page_limit_sms.window_ms, 15 * 60000);
out:
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
full_config_reads_every_value(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load("data/cfg/good-full.conf", errors);
	CHECK(cfg != NULL);
	if (cfg == NULL)
		goto out;
	CHECK_STR(cfg->listen_smtp, "[::1]:2526");
	CHECK_STR(cfg->listen_http, "0.0.0.0:8080");
	CHECK_STR(cfg->public_url, "https://pager.example.com/critgate");
	CHECK_STR(cfg->store_path, "/srv/critgate/state.db");
	CHECK_STR(cfg->hostname, "mx1.example.com");
	CHECK_INT(cfg->max_message_bytes, 1048576);
	CHECK_INT(cfg->smtp_idle_timeout_ms, 60000);
	CHECK_INT(cfg->smtp_session_timeout_ms, 600000);
	CHECK_INT(cfg->max_recipients, 10);
	CHECK_INT(cfg->max_connections, 50);
	CHECK_STR(cfg->listen_lmtp, "unix:/run/critgate/lmtp");
	CHECK_INT(cfg->max_connections_per_client, 5);
	CHECK_INT(cfg->max_errors_per_session, 3);
	CHECK_INT(cfg->n_routes, 2);
	CHECK_STR(cfg->routes[0].address, "critical@example.com");
	CHECK_INT(cfg->routes[0].severity, CFG_SEVERITY_CRITICAL);
	CHECK_STR(cfg->routes[1].address, "high@example.com");
	CHECK_INT(cfg->routes[1].severity, CFG_SEVERITY_HIGH);
	CHECK_INT(cfg->ack_deadline_ms[CFG_SEVERITY_CRITICAL], 15 * 60000);
	CHECK_INT(cfg->ack_deadline_ms[CFG_SEVERITY_HIGH], 240 * 60000);
	CHECK_INT(cfg->fix_due_ms, 3 * 86400000LL);
	CHECK_INT(cfg->repeat_ms, 3000);
	CHECK_INT(cfg->n_team, 2);
	CHECK_STR(cfg->team[1].name, "joerg.k");
	CHECK_STR(cfg->team[1].full_name, "J\xc3\xb6rg Keller");
	CHECK_STR(cfg->team[1].phone, "+4930901820");
	CHECK_STR(cfg->team[1].email, "joerg@example.org");
	CHECK_STR(cfg->twilio.api_base, "http://127.0.0.1:8099");
	CHECK_STR(cfg->twilio.account_sid,
	    "AC0123456789abcdefABCDEF0123456789");
	CHECK_STR(cfg->twilio.auth_token, TEST_AUTH_TOKEN);
	CHECK_STR(cfg->twilio.from, "+15550100000");
	CHECK_INT(cfg->twilio.timeout_ms, 30000);
out:
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
repeat_minutes_int_converted_to_ms(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load("data/cfg/good-repeat-int.conf", errors);
	CHECK(cfg != NULL);
	if (cfg != NULL)
		CHECK_INT(cfg->repeat_ms, 2 * 60000);
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
unknown_top_key_rejected(void)
{
	check_rejected("bad-unknown-top-key",
	    "data/cfg/bad-unknown-top-key.conf:24: pager: unknown key "
	    "(expected one of: listen, public_url, store, hostname, "
	    "max_message_bytes, shutdown_timeout_s, limits, tls, routes, sla, escalation, team, "
	    "twilio, page_limits, rotations, policies, providers, severities, dedup, mail, imap)");
}

static void
unknown_member_key_rejected(void)
{
	check_rejected("bad-unknown-member-key",
	    "data/cfg/bad-unknown-member-key.conf:17: team[0].pager: unknown "
	    "key (expected one of: name, full_name, phone, email)");
}

static void
int_for_string_rejected(void)
{
	check_rejected("bad-wrong-type",
	    "data/cfg/bad-wrong-type.conf:3: listen.smtp: 2525 is an "
	    "integer, expected a string");
}

static void
whole_float_for_int_rejected(void)
{
	check_rejected("bad-float-for-int",
	    "data/cfg/bad-float-for-int.conf:8: dedup.storm_minutes: 10.0 is a "
	    "float, expected an integer");
}

static void
number_above_max_rejected(void)
{
	check_rejected("bad-out-of-range",
	    "data/cfg/bad-out-of-range.conf:24: limits.recipients: 5000 is "
	    "out of range (expected 1 to 1000)");
}

static void
int_wrapped_by_libconfig_rejected(void)
{
	check_rejected("bad-wrapped-int",
	    "data/cfg/bad-wrapped-int.conf:24: max_message_bytes: 5000000000 "
	    "is out of range (expected 1024 to 1073741824)");
}

static void
phone_not_e164_rejected(void)
{
	check_rejected("bad-e164",
	    "data/cfg/bad-e164.conf:15: team[0].phone: \"555-0100\" is not an "
	    "E.164 number (expected \"+\" and 8 to 15 digits)");
}

static void
listen_same_port_v4_and_v6_loaded(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load("data/cfg/good-listen-v4-v6.conf", errors);
	CHECK(cfg != NULL);
	CHECK_INT(errors->len, 0);
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
listen_same_port_rejected(void)
{
	check_rejected("bad-listen-same-port",
	    "data/cfg/bad-listen-same-port.conf:4: listen.http: takes the "
	    "port of listen.smtp (127.0.0.1:2525); give each its own");
}

static void
page_limit_without_unit_rejected(void)
{
	check_rejected("bad-page-limit",
	    "data/cfg/bad-page-limit.conf:26: page_limits.sms: \"3/15\" is not "
	    "a page limit (expected N/W and a unit, such as \"3/15m\": 1 to "
	    "1000 requests in 1s to 168h, unit s, m or h)");
}

static void
rate_units_parsed(void)
{
	int64_t	count = 0, window_ms = 0;

	CHECK_INT(cfg_rate_parse("3/15m", &count, &window_ms), 0);
	CHECK_INT(count, 3);
	CHECK_INT(window_ms, 15 * 60000);
	CHECK_INT(cfg_rate_parse("1/30s", &count, &window_ms), 0);
	CHECK_INT(count, 1);
	CHECK_INT(window_ms, 30000);
	CHECK_INT(cfg_rate_parse("1000/168h", &count, &window_ms), 0);
	CHECK_INT(count, 1000);
	CHECK_INT(window_ms, INT64_C(168) * 3600000);
}

static void
rate_malformed_rejected(void)
{
	static const char *const bad[] = { "", "3", "3/", "/15m", "3/m",
		"3/15", "3/15d", "0/15m", "1001/15m", "3/0m", "3/169h",
		"-3/15m", "+3/15m", "3/+15m", " 3/15m", "3/15 m", "3//15m",
		"3/15mm", "a/15m", NULL };
	int64_t	count, window_ms;
	size_t	i;

	for (i = 0; bad[i] != NULL; i++) {
		if (cfg_rate_parse(bad[i], &count, &window_ms) != -1)
			printf("# accepted \"%s\"\n", bad[i]);
		CHECK_INT(cfg_rate_parse(bad[i], &count, &window_ms), -1);
	}
	CHECK_INT(cfg_rate_parse(NULL, &count, &window_ms), -1);
}

static void
email_without_at_rejected(void)
{
	check_rejected("bad-email",
	    "data/cfg/bad-email.conf:16: team[0].email: \"ana.example.com\" "
	    "is not a mail address (expected local@domain)");
}

static void
route_address_without_domain_rejected(void)
{
	check_rejected("bad-route-address",
	    "data/cfg/bad-route-address.conf:9: routes[0].address: "
	    "\"critical\" is not a mail address (expected local@domain)");
}

static void
unknown_severity_rejected(void)
{
	check_rejected("bad-severity",
	    "data/cfg/bad-severity.conf:9: routes[0].severity: \"urgent\" is "
	    "not a severity (expected \"critical\" or \"high\")");
}

static void
empty_team_rejected(void)
{
	check_rejected("bad-empty-team",
	    "data/cfg/bad-empty-team.conf:11: team: is empty (expected at "
	    "least 1 element)");
}

static void
missing_top_key_rejected(void)
{
	check_rejected("bad-missing-key",
	    "data/cfg/bad-missing-key.conf: store: is missing (required, "
	    "expected a string)");
}

static void
missing_group_key_points_at_group(void)
{
	check_rejected("bad-missing-group-key",
	    "data/cfg/bad-missing-group-key.conf:19: twilio.from: is missing "
	    "(required, expected a string)");
}

static void
duplicate_phone_rejected(void)
{
	check_rejected("bad-duplicate-phone",
	    "data/cfg/bad-duplicate-phone.conf:21: team[1].phone: "
	    "\"+15550100001\" is already used by team[0]");
}

static void
auth_token_with_blanks_rejected(void)
{
	check_rejected("bad-auth-token",
	    "data/cfg/bad-auth-token.conf:22: twilio.auth_token: value is not "
	    "a provider token (expected 16 or more characters without "
	    "spaces)");
}

static void
short_account_sid_rejected(void)
{
	check_rejected("bad-account-sid",
	    "data/cfg/bad-account-sid.conf:20: twilio.account_sid: value is "
	    "not a Twilio account SID (expected \"AC\" and 32 hexadecimal "
	    "digits)");
}

static void
syntax_error_rejected(void)
{
	check_rejected("bad-syntax",
	    "data/cfg/bad-syntax.conf:7: syntax error");
}

static void
missing_file_rejected(void)
{
	check_rejected("no-such-file",
	    "data/cfg/no-such-file.conf: cannot be read: No such file or "
	    "directory");
}

static void
several_problems_all_reported(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;
	const char	*want[] = {
		"data/cfg/bad-several.conf:24: escalation.repeat_minutes: 0 is "
		    "out of range (expected 0.01 to 1440)",
		"data/cfg/bad-several.conf:15: team[0].phone: \"555-0100\" is "
		    "not an E.164 number (expected \"+\" and 8 to 15 digits)",
		"data/cfg/bad-several.conf:19: twilio.from: is missing "
		    "(required, expected a string)",
		"data/cfg/bad-several.conf:23: pager: unknown key (expected "
		    "one of: listen, public_url, store, hostname, "
		    "max_message_bytes, shutdown_timeout_s, limits, tls, routes, sla, escalation, "
		    "team, twilio, page_limits, rotations, policies, providers, severities, dedup, mail, imap)",
	};
	size_t		 i;

	cfg = load("data/cfg/bad-several.conf", errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, G_N_ELEMENTS(want));
	for (i = 0; i < G_N_ELEMENTS(want) && i < errors->len; i++)
		CHECK_STR(errors->pdata[i], want[i]);
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
secret_of_wrong_type_not_shown(void)
{
	check_rejected("bad-secret-type",
	    "data/cfg/bad-secret-type.conf:21: twilio.auth_token: found an "
	    "integer, expected a string");
}

/* Loads every bad file and looks for the auth token in each message. */
static void
errors_never_contain_auth_token(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	GDir		*dir;
	const char	*name;
	char		*path;
	guint		 i, n_files = 0;

	dir = g_dir_open("data/cfg", 0, NULL);
	CHECK(dir != NULL);
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		if (!g_str_has_prefix(name, "bad-"))
			continue;
		path = g_build_filename("data/cfg", name, NULL);
		cfg_free(cfg_load(path, errors));
		g_free(path);
		n_files++;
	}
	CHECK(n_files >= 15);
	CHECK(errors->len >= n_files);
	for (i = 0; i < errors->len; i++) {
		CHECK(strstr(errors->pdata[i], TEST_AUTH_TOKEN) == NULL);
		CHECK(strstr(errors->pdata[i], "424242") == NULL);
	}
	if (dir != NULL)
		g_dir_close(dir);
	g_ptr_array_free(errors, TRUE);
}

/*
 * The annotated sample, as shipped, names each of its three placeholder
 * secrets.  Once they are filled in, it loads.
 */
static void
sample_config_loads(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;
	GString		*text;
	char		*raw = NULL, *path;
	guint		 i;
	int		 fd;

	cfg = load("../etc/critgate.conf", errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 3);
	for (i = 0; i < errors->len; i++)
		CHECK_CONTAINS(errors->pdata[i], "example config's placeholder");
	cfg_free(cfg);
	g_ptr_array_set_size(errors, 0);

	CHECK(g_file_get_contents("../etc/critgate.conf", &raw, NULL, NULL));
	text = g_string_new(raw != NULL ? raw : "");
	g_string_replace(text, "replace-with-", "filled-in-", 0);
	path = g_build_filename(g_get_tmp_dir(), "critgate-sample-XXXXXX",
	    NULL);
	fd = g_mkstemp(path);
	CHECK(fd != -1);
	close(fd);
	CHECK(g_file_set_contents(path, text->str, -1, NULL));
	cfg = load(path, errors);
	CHECK(cfg != NULL);
	CHECK_INT(errors->len, 0);
	if (cfg != NULL)
		CHECK_STR(cfg->twilio.auth_token, "filled-in-your-auth-token");
	cfg_free(cfg);
	unlink(path);
	g_free(path);
	g_string_free(text, TRUE);
	g_free(raw);
	g_ptr_array_free(errors, TRUE);
}

/* Each key of the table appears as "<name> =" in the annotated sample. */
static void
sample_config_sets_every_key(void)
{
	const char	*leaf, *p;
	char		*text = NULL, *needle;
	size_t		 i;
	bool		 found;

	CHECK(g_file_get_contents("../etc/critgate.conf", &text, NULL, NULL));
	if (text == NULL)
		return;
	for (i = 0; i < cfg_n_keys; i++) {
		leaf = strrchr(cfg_keys[i].path, '.');
		leaf = leaf == NULL ? cfg_keys[i].path : leaf + 1;
		needle = g_strconcat(leaf, " = ", NULL);
		found = false;
		for (p = strstr(text, needle); p != NULL && !found;
		    p = strstr(p + 1, needle))
			found = p == text || strchr(" \t\n", p[-1]) != NULL;
		if (!found)
			printf("# %s is not set in etc/critgate.conf\n",
			    cfg_keys[i].path);
		CHECK(found);
		g_free(needle);
	}
	g_free(text);
}

static void
demo_config_loads(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load("../etc/critgate-demo.conf", errors);
	CHECK(cfg != NULL);
	CHECK_INT(errors->len, 0);
	if (cfg == NULL)
		goto out;
	CHECK_STR(cfg->twilio.api_base, "http://127.0.0.1:8099");
	CHECK_INT(cfg->n_team, 3);
	CHECK_INT(cfg->n_routes, 2);
	CHECK_INT(cfg->repeat_ms, 60000);
out:
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
e164_table_classified(void)
{
	static const struct {
		const char	*number;
		bool		 is_e164;
	} cases[] = {
		{ "+15550100001", true },
		{ "+4930901820", true },
		{ "+12345678", true },
		{ "+123456789012345", true },
		{ "", false },
		{ "+", false },
		{ "15550100001", false },
		{ "+05550100001", false },
		{ "+1234567", false },
		{ "+1234567890123456", false },
		{ "+1555 0100001", false },
		{ "+1555-0100001", false },
		{ "++15550100001", false },
		{ "+1555010000a", false },
	};
	size_t	i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		if (cfg_is_e164(cases[i].number) != cases[i].is_e164)
			printf("# \"%s\" misclassified\n", cases[i].number);
		CHECK(cfg_is_e164(cases[i].number) == cases[i].is_e164);
	}
	CHECK(!cfg_is_e164(NULL));
}

static void
listen_address_table_checked(void)
{
	static const struct {
		const char	*listen;
		bool		 is_valid;
	} cases[] = {
		{ "127.0.0.1:2525", true },
		{ "localhost:65535", true },
		{ "[::1]:0", true },
		{ "[fe80::1]:25", true },
		{ "127.0.0.1", false },
		{ ":2525", false },
		{ "::1:2525", false },
		{ "[::1]2525", false },
		{ "[]:25", false },
		{ "host:65536", false },
		{ "host:port", false },
		{ "a b:25", false },
	};
	size_t	i;
	bool	loaded;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		loaded = minimal_loads(cases[i].listen,
		    "https://pager.example.com", "high@example.com");
		if (loaded != cases[i].is_valid)
			printf("# \"%s\" misclassified\n", cases[i].listen);
		CHECK(loaded == cases[i].is_valid);
	}
}

static void
public_url_table_checked(void)
{
	static const struct {
		const char	*url;
		bool		 is_valid;
	} cases[] = {
		{ "https://pager.example.com", true },
		{ "http://127.0.0.1:8025/", true },
		{ "https://example.com/a/b", true },
		{ "ftp://example.com", false },
		{ "https://", false },
		{ "https:///path", false },
		{ "pager.example.com", false },
		{ "https://exa mple.com", false },
	};
	size_t	i;
	bool	loaded;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		loaded = minimal_loads("127.0.0.1:2525", cases[i].url,
		    "high@example.com");
		if (loaded != cases[i].is_valid)
			printf("# \"%s\" misclassified\n", cases[i].url);
		CHECK(loaded == cases[i].is_valid);
	}
}

static void
route_address_table_checked(void)
{
	static const struct {
		const char	*address;
		bool		 is_valid;
	} cases[] = {
		{ "high@example.com", true },
		{ "first.last+tag@sub.example.com", true },
		{ "ops@localhost", true },
		{ "@example.com", false },
		{ "high@", false },
		{ "a@b@example.com", false },
		{ ".high@example.com", false },
		{ "hi..gh@example.com", false },
		{ "high@-example.com", false },
		{ "high@example..com", false },
		{ "hi gh@example.com", false },
		{ "<high@example.com>", false },
	};
	size_t	i;
	bool	loaded;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		loaded = minimal_loads("127.0.0.1:2525",
		    "https://pager.example.com", cases[i].address);
		if (loaded != cases[i].is_valid)
			printf("# \"%s\" misclassified\n", cases[i].address);
		CHECK(loaded == cases[i].is_valid);
	}
}

static void
route_find_ignores_case(void)
{
	GPtrArray		*errors;
	struct cfg		*cfg;
	const struct cfg_route	*route;

	errors = g_ptr_array_new_with_free_func(g_free);
	cfg = load("data/cfg/good-full.conf", errors);
	CHECK(cfg != NULL);
	if (cfg == NULL)
		goto out;
	route = cfg_route_find(cfg, "CRITICAL@example.com");
	CHECK(route == &cfg->routes[0]);
	route = cfg_route_find(cfg, "High@EXAMPLE.com");
	CHECK(route == &cfg->routes[1]);
	CHECK(cfg_route_find(cfg, "low@example.com") == NULL);
	CHECK(cfg_route_find(cfg, "critical@example.co") == NULL);
out:
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
member_found_by_name_and_phone(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load("data/cfg/good-full.conf", errors);
	CHECK(cfg != NULL);
	if (cfg == NULL)
		goto out;
	CHECK(cfg_member_by_name(cfg, "joerg.k") == &cfg->team[1]);
	CHECK(cfg_member_by_name(cfg, "ana") == &cfg->team[0]);
	CHECK(cfg_member_by_name(cfg, "Ana") == NULL);
	CHECK(cfg_member_by_phone(cfg, "+4930901820") == &cfg->team[1]);
	CHECK(cfg_member_by_phone(cfg, "+15550100000") == NULL);
out:
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
severity_name_and_parse_agree(void)
{
	enum cfg_severity	severity = CFG_SEVERITY_COUNT;

	CHECK_STR(cfg_severity_name(CFG_SEVERITY_CRITICAL), "critical");
	CHECK_STR(cfg_severity_name(CFG_SEVERITY_HIGH), "high");
	CHECK_INT(cfg_severity_parse("critical", &severity), 0);
	CHECK_INT(severity, CFG_SEVERITY_CRITICAL);
	CHECK_INT(cfg_severity_parse("high", &severity), 0);
	CHECK_INT(severity, CFG_SEVERITY_HIGH);
	CHECK_INT(cfg_severity_parse("High", &severity), -1);
	CHECK_INT(cfg_severity_parse("low", &severity), -1);
}

/* Runs cfg_check_secrecy() on a temporary file with the given mode. */
static int
check_secrecy_mode(mode_t mode, char **path, char **problem)
{
	int	rc;

	*path = write_temp("");
	if (chmod(*path, mode) == -1) {
		printf("# chmod %s: %s\n", *path, g_strerror(errno));
		abort();
	}
	rc = cfg_check_secrecy(*path, problem);
	unlink(*path);
	return rc;
}

static void
secrecy_mode_0600_accepted(void)
{
	char	*path, *problem = NULL;

	CHECK_INT(check_secrecy_mode(0600, &path, &problem), 0);
	CHECK(problem == NULL);
	g_free(problem);
	g_free(path);
}

static void
secrecy_mode_0644_rejected(void)
{
	char	*path, *problem = NULL, *want;

	CHECK_INT(check_secrecy_mode(0644, &path, &problem), -1);
	want = g_strdup_printf("%s is readable by group or others (mode "
	    "0644); it holds provider secrets: chmod 600 it", path);
	CHECK_STR(problem, want);
	g_free(want);
	g_free(problem);
	g_free(path);
}

static void
secrecy_mode_0602_rejected(void)
{
	char	*path, *problem = NULL;

	CHECK_INT(check_secrecy_mode(0602, &path, &problem), -1);
	CHECK_CONTAINS(problem, "(mode 0602)");
	g_free(problem);
	g_free(path);
}

static void
secrecy_missing_file_rejected(void)
{
	char	*problem = NULL;

	CHECK_INT(cfg_check_secrecy("data/cfg/no-such-file.conf", &problem),
	    -1);
	CHECK_CONTAINS(problem, "No such file or directory");
	g_free(problem);
}

/*
 * Loads good-minimal.conf with a mail group naming a key file of len bytes
 * and mode; returns the cfg or NULL, with the problems in errors.
 */
static struct cfg *
load_with_key(size_t len, mode_t mode, GPtrArray *errors)
{
	char		*base = NULL, *text, *key_path, *conf_path;
	struct cfg	*cfg;
	guint8		 key[64];
	int		 fd;

	memset(key, 0x5a, sizeof(key));
	key_path = g_build_filename(g_get_tmp_dir(), "critgate-key-XXXXXX",
	    NULL);
	fd = g_mkstemp(key_path);
	CHECK(fd != -1);
	CHECK_INT(write(fd, key, len), (long long)len);
	close(fd);
	chmod(key_path, mode);
	CHECK(g_file_get_contents("data/cfg/good-minimal.conf", &base, NULL,
	    NULL));
	text = g_strdup_printf("%s\nmail = { token_key_file = \"%s\"; };\n",
	    base, key_path);
	conf_path = g_strconcat(key_path, ".conf", NULL);
	CHECK(g_file_set_contents(conf_path, text, -1, NULL));
	cfg = cfg_load(conf_path, errors);
	unlink(conf_path);
	unlink(key_path);
	g_free(conf_path);
	g_free(text);
	g_free(base);
	g_free(key_path);
	return cfg;
}

static void
token_key_read_when_private(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg = load_with_key(32, 0600, errors);

	CHECK(cfg != NULL);
	CHECK_INT(errors->len, 0);
	if (cfg != NULL) {
		CHECK_INT(cfg->token_key_len, 32);
		CHECK_INT(cfg->token_key[0], 0x5a);
		CHECK_INT(cfg->dedup_window_ms, 60 * 60000);
	}
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
token_key_short_rejected(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg = load_with_key(16, 0600, errors);

	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len > 0)
		CHECK_CONTAINS(errors->pdata[0], "holds 16 bytes");
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
token_key_readable_rejected(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg = load_with_key(32, 0644, errors);

	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len > 0)
		CHECK_CONTAINS(errors->pdata[0], "mail.token_key_file: ");
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

/* Loads good-minimal.conf with extra appended; see load_with_key. */
static struct cfg *
load_with_extra(const char *extra, GPtrArray *errors)
{
	char		*base = NULL, *text, *path;
	struct cfg	*cfg;
	int		 fd;

	path = g_build_filename(g_get_tmp_dir(), "critgate-conf-XXXXXX",
	    NULL);
	fd = g_mkstemp(path);
	CHECK(fd != -1);
	close(fd);
	CHECK(g_file_get_contents("data/cfg/good-minimal.conf", &base, NULL,
	    NULL));
	text = g_strdup_printf("%s\n%s\n", base, extra);
	CHECK(g_file_set_contents(path, text, -1, NULL));
	cfg = cfg_load(path, errors);
	unlink(path);
	g_free(text);
	g_free(base);
	g_free(path);
	return cfg;
}

static void
tls_require_without_cert_rejected(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg = load_with_extra("tls = { require = true; };",
			    errors);

	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len > 0)
		CHECK_CONTAINS(errors->pdata[0], "tls.require: is true but "
		    "tls.cert_file is not set");
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
tls_cert_without_key_rejected(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load_with_extra("tls = { cert_file = \"../etc/critgate.conf\";"
	    " };", errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len > 0)
		CHECK_CONTAINS(errors->pdata[0], "tls.key_file: is missing");
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
imap_host_without_user_rejected(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load_with_extra("imap = { host = \"imap.example.com\"; };",
	    errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len > 0)
		CHECK_CONTAINS(errors->pdata[0], "imap.user: is missing");
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
imap_password_read_and_trimmed(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;
	char		*pass_path, *extra;
	int		 fd;

	pass_path = g_build_filename(g_get_tmp_dir(), "critgate-pass-XXXXXX",
	    NULL);
	fd = g_mkstemp(pass_path);
	CHECK_INT(write(fd, "s3cret\n", 7), 7);
	close(fd);
	extra = g_strdup_printf("imap = { host = \"imap.example.com\"; "
	    "user = \"critical@example.com\"; password_file = \"%s\"; "
	    "security = \"starttls\"; after_commit = \"move:Done\"; };",
	    pass_path);
	cfg = load_with_extra(extra, errors);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK_STR(cfg->imap.password, "s3cret");
		CHECK_STR(cfg->imap.security, "starttls");
		CHECK_STR(cfg->imap.after_commit, "move:Done");
	}
	cfg_free(cfg);
	chmod(pass_path, 0644);
	cfg = load_with_extra(extra, errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len > 0)
		CHECK_CONTAINS(errors->pdata[0], "imap.password_file: ");
	unlink(pass_path);
	g_free(extra);
	g_free(pass_path);
	g_ptr_array_free(errors, TRUE);
}

static void
imap_bad_security_rejected(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load_with_extra("imap = { security = \"ssl\"; };", errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len > 0)
		CHECK_CONTAINS(errors->pdata[0], "imap.security: ");
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

/* Loads the extra text and expects one error containing want. */
static void
check_extra_rejected(const char *extra, const char *want)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load_with_extra(extra, errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len > 0)
		CHECK_CONTAINS(errors->pdata[0], want);
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
mail_defaults_send_nothing(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load_with_extra("", errors);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK(cfg->mail.relay == NULL);
		CHECK(cfg->mail.trusted_relays != NULL &&
		    cfg->mail.trusted_relays[0] == NULL);
		CHECK_INT(g_strv_length(cfg->mail.ack_words), 0);
		CHECK_INT(cfg->mail.confirmations_per_hour, 5);
	}
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
mail_lists_read_and_normalised(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load_with_extra("mail = { relay_user = \"\"; "
	    "relay_password_file = \"\"; trusted_authserv_id = "
	    "\"mx1.example.com\"; trusted_relays = [ \"192.0.2.25\", "
	    "\"2001:db8::25\" ]; ack_words = [ \"ACK\", \"Übernehme\" ]; };",
	    errors);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK(cfg->mail.relay_user == NULL);
		CHECK_STR(cfg->mail.authserv_id, "mx1.example.com");
		CHECK_INT(g_strv_length(cfg->mail.trusted_relays), 2);
		CHECK_STR(cfg->mail.trusted_relays[1], "2001:db8::25");
		CHECK_STR(cfg->mail.ack_words[0], "ack");
		CHECK_STR(cfg->mail.ack_words[1], "übernehme");
	}
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
mail_bad_values_rejected(void)
{
	check_extra_rejected("mail = { trusted_relays = [ \"mx1\" ]; };",
	    "mail.trusted_relays[0]: \"mx1\" is not an IP address");
	check_extra_rejected("mail = { trusted_relays = [ 25 ]; };",
	    "mail.trusted_relays[0]: 25 is an integer, expected a string");
	check_extra_rejected("mail = { relay = \"http://mx\"; };",
	    "mail.relay: \"http://mx\" is not a relay URL");
	check_extra_rejected("mail = { relay = \"smtp://127.0.0.1:25\"; };",
	    "mail.from: is missing (required with mail.relay)");
	check_extra_rejected("mail = { relay_user = \"ops\"; };",
	    "mail.relay_password_file: is missing");
	check_extra_rejected("mail = { ack_words = \"ack\"; };",
	    "expected an array [ ... ] of strings");
}

static void
escalation_bad_values_rejected(void)
{
	check_extra_rejected("rotations = ( { name = \"r\"; time_zone = "
	    "\"/etc/passwd\"; start = \"2026-01-05T09:00\"; members = "
	    "[ \"ana\" ]; } );", "rotations[0].time_zone: \"/etc/passwd\" is "
	    "not a known time zone");
	check_extra_rejected("rotations = ( { name = \"r\"; time_zone = "
	    "\"UTC\"; start = \"2026-01-05T09:00\"; members = [ \"team\" ]; "
	    "} );", "rotations[0].members: \"team\" is not a name of team");
	check_extra_rejected("policies = ( { name = \"p\"; steps = ( { "
	    "targets = [ \"team\" ]; channels = [ \"sms\" ]; delay_minutes "
	    "= 5; }, { targets = [ \"team\" ]; channels = [ \"sms\" ]; "
	    "delay_minutes = 0; } ); } );", "delay_minutes of the last step "
	    "is 0");
	check_extra_rejected("severities = { critical = { ack_minutes = 5; }; "
	    "high = { ack_minutes = 20000; }; };",
	    "severities.high.ack_minutes: 20000 is out of range");
}

static void
escalation_same_line_values_kept_apart(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;

	cfg = load_with_extra("severities = { critical = { ack_minutes = 5; "
	    "}; high = { ack_minutes = 90; }; };", errors);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK_INT(cfg->ack_deadline_ms[CFG_SEVERITY_CRITICAL],
		    5 * 60000);
		CHECK_INT(cfg->ack_deadline_ms[CFG_SEVERITY_HIGH], 90 * 60000);
		CHECK(cfg_policy_of(cfg, CFG_SEVERITY_HIGH) != NULL);
	}
	cfg_free(cfg);
	g_ptr_array_free(errors, TRUE);
}

static void
included_file_secrecy_checked(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	struct cfg	*cfg;
	char		*inc, *extra, *problem = NULL;
	int		 fd;

	inc = g_build_filename(g_get_tmp_dir(), "critgate-inc-XXXXXX", NULL);
	fd = g_mkstemp(inc);
	CHECK_INT(write(fd, "dedup = { window_minutes = 5; };\n", 33), 33);
	close(fd);
	extra = g_strdup_printf("@include \"%s\"", inc);
	cfg = load_with_extra(extra, errors);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK_STR(cfg->includes[0], inc);
		/* The main file is gone by now; the include stands in. */
		g_free(cfg->path);
		cfg->path = g_strdup(inc);
		chmod(inc, 0600);
		CHECK_INT(cfg_check_files_secrecy(cfg, &problem), 0);
		chmod(inc, 0644);
		CHECK_INT(cfg_check_files_secrecy(cfg, &problem), -1);
		if (problem != NULL)
			CHECK_CONTAINS(problem, "readable by group or others");
	}
	g_free(problem);
	cfg_free(cfg);
	unlink(inc);
	g_free(extra);
	g_free(inc);
	g_ptr_array_free(errors, TRUE);
}

/* A comment line one byte longer than a config file may be. */
static char *
long_comment(void)
{
	char	*text = g_malloc(CFG_FILE_MAX + 2);

	memset(text, 'x', CFG_FILE_MAX);
	text[0] = '#';
	text[CFG_FILE_MAX] = '\n';
	text[CFG_FILE_MAX + 1] = '\0';
	return text;
}

static void
oversized_file_rejected(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	char		*comment = long_comment();
	struct cfg	*cfg;

	cfg = load_with_extra(comment, errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len == 1)
		CHECK_CONTAINS(errors->pdata[0], "more than the 1048576 a "
		    "config file may have");
	cfg_free(cfg);
	g_free(comment);
	g_ptr_array_free(errors, TRUE);
}

static void
oversized_include_rejected(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	char		*comment = long_comment(), *inc, *extra;
	struct cfg	*cfg;

	inc = g_build_filename(g_get_tmp_dir(), "critgate-inc-XXXXXX", NULL);
	close(g_mkstemp(inc));
	CHECK(g_file_set_contents(inc, comment, -1, NULL));
	extra = g_strdup_printf("@include \"%s\"", inc);
	cfg = load_with_extra(extra, errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len == 1) {
		CHECK_CONTAINS(errors->pdata[0], inc);
		CHECK_CONTAINS(errors->pdata[0], "more than the 1048576");
	}
	cfg_free(cfg);
	unlink(inc);
	g_free(extra);
	g_free(inc);
	g_free(comment);
	g_ptr_array_free(errors, TRUE);
}

/* A file two includes deep is checked for size and secrecy too. */
static void
nested_include_checked(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	char		*comment = long_comment(), *outer, *inner, *extra;
	char		*text, *problem = NULL;
	struct cfg	*cfg;

	outer = g_build_filename(g_get_tmp_dir(), "critgate-inc-XXXXXX",
	    NULL);
	inner = g_build_filename(g_get_tmp_dir(), "critgate-inc-XXXXXX",
	    NULL);
	close(g_mkstemp(outer));
	close(g_mkstemp(inner));
	text = g_strdup_printf("@include \"%s\"\n", inner);
	CHECK(g_file_set_contents(outer, text, -1, NULL));
	CHECK(g_file_set_contents(inner, "dedup = { window_minutes = 5; };\n",
	    -1, NULL));
	chmod(outer, 0600);
	chmod(inner, 0644);
	extra = g_strdup_printf("@include \"%s\"", outer);
	cfg = load_with_extra(extra, errors);
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK(cfg->includes[0] != NULL);
		CHECK(cfg->includes[1] != NULL);
		/* The main file is gone, so the outer include replaces it. */
		g_free(cfg->path);
		cfg->path = g_strdup(outer);
		CHECK_INT(cfg_check_files_secrecy(cfg, &problem), -1);
		if (problem != NULL)
			CHECK_CONTAINS(problem, inner);
	}
	cfg_free(cfg);
	CHECK(g_file_set_contents(inner, comment, -1, NULL));
	cfg = load_with_extra(extra, errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len == 1)
		CHECK_CONTAINS(errors->pdata[0], "more than the 1048576");
	unlink(inner);
	unlink(outer);
	g_free(problem);
	g_free(text);
	g_free(extra);
	g_free(inner);
	g_free(outer);
	g_free(comment);
	g_ptr_array_free(errors, TRUE);
}

/* A FIFO would block the read for ever. */
static void
fifo_config_rejected(void)
{
	GPtrArray	*errors = g_ptr_array_new_with_free_func(g_free);
	char		*dir, *path;
	struct cfg	*cfg;

	dir = g_dir_make_tmp("critgate-fifo-XXXXXX", NULL);
	path = g_build_filename(dir, "critgate.conf", NULL);
	CHECK_INT(mkfifo(path, 0600), 0);
	cfg = cfg_load(path, errors);
	CHECK(cfg == NULL);
	CHECK_INT(errors->len, 1);
	if (errors->len == 1)
		CHECK_CONTAINS(errors->pdata[0], "expected a regular file");
	unlink(path);
	rmdir(dir);
	g_free(path);
	g_free(dir);
	g_ptr_array_free(errors, TRUE);
}

int
main(void)
{
	TAP_RUN(minimal_config_takes_defaults);
	TAP_RUN(full_config_reads_every_value);
	TAP_RUN(repeat_minutes_int_converted_to_ms);
	TAP_RUN(unknown_top_key_rejected);
	TAP_RUN(unknown_member_key_rejected);
	TAP_RUN(int_for_string_rejected);
	TAP_RUN(whole_float_for_int_rejected);
	TAP_RUN(number_above_max_rejected);
	TAP_RUN(int_wrapped_by_libconfig_rejected);
	TAP_RUN(phone_not_e164_rejected);
	TAP_RUN(listen_same_port_rejected);
	TAP_RUN(listen_same_port_v4_and_v6_loaded);
	TAP_RUN(page_limit_without_unit_rejected);
	TAP_RUN(rate_units_parsed);
	TAP_RUN(rate_malformed_rejected);
	TAP_RUN(email_without_at_rejected);
	TAP_RUN(route_address_without_domain_rejected);
	TAP_RUN(unknown_severity_rejected);
	TAP_RUN(empty_team_rejected);
	TAP_RUN(missing_top_key_rejected);
	TAP_RUN(missing_group_key_points_at_group);
	TAP_RUN(duplicate_phone_rejected);
	TAP_RUN(short_account_sid_rejected);
	TAP_RUN(auth_token_with_blanks_rejected);
	TAP_RUN(syntax_error_rejected);
	TAP_RUN(missing_file_rejected);
	TAP_RUN(several_problems_all_reported);
	TAP_RUN(secret_of_wrong_type_not_shown);
	TAP_RUN(errors_never_contain_auth_token);
	TAP_RUN(sample_config_loads);
	TAP_RUN(sample_config_sets_every_key);
	TAP_RUN(demo_config_loads);
	TAP_RUN(e164_table_classified);
	TAP_RUN(listen_address_table_checked);
	TAP_RUN(public_url_table_checked);
	TAP_RUN(route_address_table_checked);
	TAP_RUN(route_find_ignores_case);
	TAP_RUN(member_found_by_name_and_phone);
	TAP_RUN(severity_name_and_parse_agree);
	TAP_RUN(secrecy_mode_0600_accepted);
	TAP_RUN(secrecy_mode_0644_rejected);
	TAP_RUN(secrecy_mode_0602_rejected);
	TAP_RUN(secrecy_missing_file_rejected);
	TAP_RUN(token_key_read_when_private);
	TAP_RUN(token_key_short_rejected);
	TAP_RUN(token_key_readable_rejected);
	TAP_RUN(tls_require_without_cert_rejected);
	TAP_RUN(tls_cert_without_key_rejected);
	TAP_RUN(imap_host_without_user_rejected);
	TAP_RUN(imap_password_read_and_trimmed);
	TAP_RUN(imap_bad_security_rejected);
	TAP_RUN(mail_defaults_send_nothing);
	TAP_RUN(mail_lists_read_and_normalised);
	TAP_RUN(mail_bad_values_rejected);
	TAP_RUN(escalation_bad_values_rejected);
	TAP_RUN(escalation_same_line_values_kept_apart);
	TAP_RUN(included_file_secrecy_checked);
	TAP_RUN(oversized_file_rejected);
	TAP_RUN(oversized_include_rejected);
	TAP_RUN(nested_include_checked);
	TAP_RUN(fifo_config_rejected);
	return tap_done();
}
