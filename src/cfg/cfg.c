/* SPDX-License-Identifier: ISC */
/*
 * The cfg stage: reads the config file with libconfig, walks every group and
 * list element against the key table cfg_keys[] (type, bounds, default,
 * secret or not), and fills one struct cfg.  All problems are collected as
 * "file:line: key: problem", list elements named as in "team[1].phone".  A
 * missing key points at its enclosing group, or is "file: key: ..." at the
 * top level.  Only this file calls libconfig.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "cfg.h"
#include "cfg_priv.h"
#include "rota.h"

#define STRING(p, fl, fmt, def, off)					\
	{ .path = (p), .type = CFG_KEY_STRING, .flags = (fl),		\
	  .format = (fmt), .def_string = (def), .offset = (off) }
#define NUMBER(p, t, lo, hi, def, sc, off)				\
	{ .path = (p), .type = (t), .min = (lo), .max = (hi),		\
	  .def_number = (def), .scale = (sc), .offset = (off) }
#define GROUP(p, fl)							\
	{ .path = (p), .type = CFG_KEY_GROUP, .flags = (fl) }
#define LIST(p, elem, ptr, count)					\
	{ .path = (p), .type = CFG_KEY_LIST, .flags = CFG_KEY_REQUIRED,	\
	  .offset = offsetof(struct cfg, ptr),				\
	  .count_offset = offsetof(struct cfg, count),			\
	  .elem_size = sizeof(elem), .min_elems = 1 }
/* An optional list, in struct cfg or (ELIST) in a list element. */
#define OPTLIST(p, elem, ptr, count)					\
	{ .path = (p), .type = CFG_KEY_LIST,				\
	  .offset = offsetof(struct cfg, ptr),				\
	  .count_offset = offsetof(struct cfg, count),			\
	  .elem_size = sizeof(elem) }
#define ELIST(p, fl, parent, elem, ptr, count, least)			\
	{ .path = (p), .type = CFG_KEY_LIST, .flags = (fl),		\
	  .offset = offsetof(parent, ptr),				\
	  .count_offset = offsetof(parent, count),			\
	  .elem_size = sizeof(elem), .min_elems = (least) }
#define STRINGS(p, fmt, off)						\
	{ .path = (p), .type = CFG_KEY_STRINGS, .format = (fmt),	\
	  .offset = (off) }
#define CFG(field)	offsetof(struct cfg, field)
#define ROT(field)	offsetof(struct cfg_rotation, field)
#define OVR(field)	offsetof(struct cfg_override, field)
#define POL(field)	offsetof(struct cfg_policy, field)
#define STEP(field)	offsetof(struct cfg_step, field)
#define SEV(s, field)	offsetof(struct cfg, severities[s].field)
#define REQ		CFG_KEY_REQUIRED
#define RESTART		CFG_KEY_RESTART
#define MS_PER_S	1000
#define MS_PER_MIN	60000
#define MS_PER_DAY	86400000

/* The keys of one severity's group, severities.NAME. */
#define SEVERITY_KEYS(name, sev)					\
	GROUP("severities." name, 0),					\
	STRING("severities." name ".policy", 0, CFG_FORMAT_NAME, NULL,	\
	    SEV(sev, policy)),						\
	NUMBER("severities." name ".ack_minutes", CFG_KEY_FLOAT, 0, 10080, 0,\
	    MS_PER_MIN, SEV(sev, ack_ms)),				\
	STRINGS("severities." name ".breach_targets", CFG_FORMAT_TARGET,	\
	    SEV(sev, breach_targets)),					\
	{ .path = "severities." name ".breach_at_percent",		\
	  .type = CFG_KEY_INTS, .min = 1, .max = 1000,			\
	  .offset = SEV(sev, breach_percents),				\
	  .count_offset = SEV(sev, n_breach_percents) }

static const char	*default_hostname(void);

static const char *const default_providers[] = { "twilio", NULL };


const struct cfg_key cfg_keys[] = {
	GROUP("listen", REQ | RESTART),
	STRING("listen.smtp", REQ | RESTART, CFG_FORMAT_HOSTPORT, NULL,
	    CFG(listen_smtp)),
	STRING("listen.http", REQ | RESTART, CFG_FORMAT_HOSTPORT, NULL,
	    CFG(listen_http)),
	STRING("listen.lmtp", RESTART, CFG_FORMAT_LISTEN, NULL,
	    CFG(listen_lmtp)),
	STRING("public_url", REQ, CFG_FORMAT_URL, NULL, CFG(public_url)),
	STRING("store", REQ | RESTART, CFG_FORMAT_TEXT, NULL, CFG(store_path)),
	{ .path = "hostname", .type = CFG_KEY_STRING,
	  .format = CFG_FORMAT_HOSTNAME, .def_fn = default_hostname,
	  .offset = CFG(hostname) },
	NUMBER("max_message_bytes", CFG_KEY_INT, 1024, 1073741824, 26214400,
	    1, CFG(max_message_bytes)),
	NUMBER("shutdown_timeout_s", CFG_KEY_INT, 1, 300, 10, MS_PER_S,
	    CFG(shutdown_timeout_ms)),

	GROUP("limits", 0),
	NUMBER("limits.connections", CFG_KEY_INT, 1, 100000, 200, 1,
	    CFG(max_connections)),
	NUMBER("limits.connections_per_client", CFG_KEY_INT, 1, 100000, 20, 1,
	    CFG(max_connections_per_client)),
	NUMBER("limits.recipients", CFG_KEY_INT, 1, 1000, 50, 1,
	    CFG(max_recipients)),
	NUMBER("limits.idle_seconds", CFG_KEY_INT, 1, 3600, 300, MS_PER_S,
	    CFG(smtp_idle_timeout_ms)),
	NUMBER("limits.session_seconds", CFG_KEY_INT, 1, 86400, 1800,
	    MS_PER_S, CFG(smtp_session_timeout_ms)),
	NUMBER("limits.errors_per_session", CFG_KEY_INT, 1, 1000, 10, 1,
	    CFG(max_errors_per_session)),
	NUMBER("limits.line_bytes", CFG_KEY_INT, 998, 16777216, 65536, 1,
	    CFG(max_text_line)),

	GROUP("tls", 0),
	STRING("tls.cert_file", 0, CFG_FORMAT_TEXT, NULL, CFG(tls_cert_file)),
	STRING("tls.key_file", 0, CFG_FORMAT_TEXT, NULL, CFG(tls_key_file)),
	{ .path = "tls.require", .type = CFG_KEY_BOOL,
	  .offset = CFG(tls_require) },

	LIST("routes", struct cfg_route, routes, n_routes),
	STRING("routes[].address", REQ | CFG_KEY_UNIQUE, CFG_FORMAT_EMAIL,
	    NULL, offsetof(struct cfg_route, address)),
	{ .path = "routes[].severity", .type = CFG_KEY_SEVERITY,
	  .flags = REQ, .offset = offsetof(struct cfg_route, severity) },

	GROUP("sla", 0),
	NUMBER("sla.critical_ack_minutes", CFG_KEY_INT, 1, 10080, 30,
	    MS_PER_MIN, CFG(ack_deadline_ms[CFG_SEVERITY_CRITICAL])),
	NUMBER("sla.high_ack_minutes", CFG_KEY_INT, 1, 10080, 720,
	    MS_PER_MIN, CFG(ack_deadline_ms[CFG_SEVERITY_HIGH])),
	NUMBER("sla.fix_days", CFG_KEY_INT, 1, 365, 5, MS_PER_DAY,
	    CFG(fix_due_ms)),

	GROUP("escalation", 0),
	NUMBER("escalation.repeat_minutes", CFG_KEY_FLOAT, 0.01, 1440, 5,
	    MS_PER_MIN, CFG(repeat_ms)),
	NUMBER("escalation.resend_unknown_seconds", CFG_KEY_INT, 0, 3600, 60,
	    MS_PER_S, CFG(resend_unknown_ms)),

	LIST("team", struct cfg_member, team, n_team),
	STRING("team[].name", REQ | CFG_KEY_UNIQUE, CFG_FORMAT_NAME, NULL,
	    offsetof(struct cfg_member, name)),
	STRING("team[].full_name", REQ, CFG_FORMAT_TEXT, NULL,
	    offsetof(struct cfg_member, full_name)),
	STRING("team[].phone", CFG_KEY_UNIQUE, CFG_FORMAT_E164, NULL,
	    offsetof(struct cfg_member, phone)),
	STRING("team[].email", REQ, CFG_FORMAT_EMAIL, NULL,
	    offsetof(struct cfg_member, email)),

	GROUP("twilio", REQ),
	STRING("twilio.api_base", 0, CFG_FORMAT_URL, "https://api.twilio.com",
	    CFG(twilio.api_base)),
	STRING("twilio.account_sid", REQ, CFG_FORMAT_SID, NULL,
	    CFG(twilio.account_sid)),
	STRING("twilio.auth_token", REQ | CFG_KEY_SECRET, CFG_FORMAT_TOKEN,
	    NULL, CFG(twilio.auth_token)),
	STRING("twilio.from", REQ, CFG_FORMAT_E164, NULL, CFG(twilio.from)),
	NUMBER("twilio.timeout_s", CFG_KEY_INT, 1, 120, 10, MS_PER_S,
	    CFG(twilio.timeout_ms)),

	GROUP("page_limits", 0),
	STRING("page_limits.voice", 0, CFG_FORMAT_RATE, "4/15m",
	    CFG(page_limit_voice.spec)),
	STRING("page_limits.sms", 0, CFG_FORMAT_RATE, "6/15m",
	    CFG(page_limit_sms.spec)),
	NUMBER("page_limits.bundle_seconds", CFG_KEY_INT, 0, 3600, 0,
	    MS_PER_S, CFG(bundle_ms)),

	OPTLIST("rotations", struct cfg_rotation, rotations, n_rotations),
	STRING("rotations[].name", REQ | CFG_KEY_UNIQUE, CFG_FORMAT_NAME,
	    NULL, ROT(name)),
	STRING("rotations[].time_zone", REQ, CFG_FORMAT_ZONE, NULL,
	    ROT(time_zone)),
	NUMBER("rotations[].shift_hours", CFG_KEY_INT, 1, 8760, 168, 1,
	    ROT(shift_hours)),
	STRING("rotations[].start", REQ, CFG_FORMAT_TEXT, NULL, ROT(start)),
	STRINGS("rotations[].members", CFG_FORMAT_NAME, ROT(members)),
	ELIST("rotations[].overrides", 0, struct cfg_rotation,
	    struct cfg_override, overrides, n_overrides, 0),
	STRING("rotations[].overrides[].member", REQ, CFG_FORMAT_NAME, NULL,
	    OVR(member)),
	STRING("rotations[].overrides[].from", REQ, CFG_FORMAT_TEXT, NULL,
	    OVR(from)),
	STRING("rotations[].overrides[].until", REQ, CFG_FORMAT_TEXT, NULL,
	    OVR(until)),

	OPTLIST("policies", struct cfg_policy, policies, n_policies),
	STRING("policies[].name", REQ | CFG_KEY_UNIQUE, CFG_FORMAT_NAME, NULL,
	    POL(name)),
	ELIST("policies[].steps", REQ, struct cfg_policy, struct cfg_step,
	    steps, n_steps, 1),
	STRINGS("policies[].steps[].targets", CFG_FORMAT_TARGET,
	    STEP(targets)),
	STRINGS("policies[].steps[].channels", CFG_FORMAT_CHANNEL,
	    STEP(channels)),
	NUMBER("policies[].steps[].delay_minutes", CFG_KEY_FLOAT, 0, 1440, 5,
	    MS_PER_MIN, STEP(delay_ms)),
	NUMBER("policies[].repeat", CFG_KEY_INT, 1, 1000, 1, 1, POL(repeat)),
	{ .path = "policies[].multi_ack", .type = CFG_KEY_BOOL,
	  .offset = POL(multi_ack) },

	GROUP("providers", 0),
	{ .path = "providers.order", .type = CFG_KEY_STRINGS,
	  .format = CFG_FORMAT_PROVIDER, .def_strings = default_providers,
	  .offset = CFG(provider_order) },
	NUMBER("providers.cool_down_seconds", CFG_KEY_INT, 1, 3600, 60,
	    MS_PER_S, CFG(circuit_cool_ms)),
	GROUP("providers.vonage", 0),
	STRING("providers.vonage.api_base", 0, CFG_FORMAT_URL,
	    "https://rest.nexmo.com", CFG(vonage.api_base)),
	STRING("providers.vonage.voice_api_base", 0, CFG_FORMAT_URL,
	    "https://api.nexmo.com", CFG(vonage.voice_api_base)),
	STRING("providers.vonage.application_id", 0, CFG_FORMAT_TEXT, NULL,
	    CFG(vonage.application_id)),
	STRING("providers.vonage.private_key_file", 0, CFG_FORMAT_TEXT, NULL,
	    CFG(vonage.private_key_file)),
	STRING("providers.vonage.api_key", 0, CFG_FORMAT_TEXT, NULL,
	    CFG(vonage.api_key)),
	STRING("providers.vonage.api_secret", CFG_KEY_SECRET, CFG_FORMAT_TEXT,
	    NULL, CFG(vonage.api_secret)),
	STRING("providers.vonage.signature_secret", CFG_KEY_SECRET,
	    CFG_FORMAT_TEXT, NULL, CFG(vonage.signature_secret)),
	STRING("providers.vonage.signature_method", 0, CFG_FORMAT_SIG_METHOD,
	    "md5hash", CFG(vonage.signature_method)),
	STRING("providers.vonage.from", 0, CFG_FORMAT_E164, NULL,
	    CFG(vonage.from)),
	NUMBER("providers.vonage.timeout_s", CFG_KEY_INT, 1, 120, 10,
	    MS_PER_S, CFG(vonage.timeout_ms)),

	GROUP("severities", 0),
	SEVERITY_KEYS("critical", CFG_SEVERITY_CRITICAL),
	SEVERITY_KEYS("high", CFG_SEVERITY_HIGH),

	GROUP("dedup", 0),
	NUMBER("dedup.window_minutes", CFG_KEY_INT, 0, 10080, 60, MS_PER_MIN,
	    CFG(dedup_window_ms)),
	NUMBER("dedup.storm_minutes", CFG_KEY_INT, 0, 1440, 0, MS_PER_MIN,
	    CFG(storm_window_ms)),

	GROUP("mail", 0),
	{ .path = "mail.domain", .type = CFG_KEY_STRING,
	  .format = CFG_FORMAT_HOSTNAME, .def_fn = default_hostname,
	  .offset = CFG(mail_domain) },
	STRING("mail.from", 0, CFG_FORMAT_EMAIL, NULL, CFG(mail_from)),
	STRING("mail.token_key_file", 0, CFG_FORMAT_TEXT, NULL,
	    CFG(token_key_file)),
	STRING("mail.relay", CFG_KEY_EMPTY_UNSET, CFG_FORMAT_RELAY, NULL,
	    CFG(mail.relay)),
	STRING("mail.relay_user", CFG_KEY_EMPTY_UNSET, CFG_FORMAT_TEXT, NULL,
	    CFG(mail.relay_user)),
	STRING("mail.relay_password_file", CFG_KEY_EMPTY_UNSET,
	    CFG_FORMAT_TEXT, NULL, CFG(mail.relay_password_file)),
	STRING("mail.trusted_authserv_id", CFG_KEY_EMPTY_UNSET,
	    CFG_FORMAT_HOSTNAME, NULL, CFG(mail.authserv_id)),
	{ .path = "mail.trusted_relays", .type = CFG_KEY_STRINGS,
	  .format = CFG_FORMAT_IP, .offset = CFG(mail.trusted_relays) },
	{ .path = "mail.ack_words", .type = CFG_KEY_STRINGS,
	  .format = CFG_FORMAT_WORDS, .offset = CFG(mail.ack_words) },
	NUMBER("mail.confirmations_per_reporter_per_hour", CFG_KEY_INT, 0,
	    1000, 5, 1, CFG(mail.confirmations_per_hour)),
	STRING("mail.templates", CFG_KEY_EMPTY_UNSET, CFG_FORMAT_TEXT, NULL,
	    CFG(mail.templates)),
	NUMBER("mail.timeout_s", CFG_KEY_INT, 1, 600, 60, MS_PER_S,
	    CFG(mail.timeout_ms)),

	GROUP("imap", 0),
	STRING("imap.host", 0, CFG_FORMAT_HOSTNAME, NULL, CFG(imap.host)),
	NUMBER("imap.port", CFG_KEY_INT, 1, 65535, 993, 1, CFG(imap.port)),
	STRING("imap.security", 0, CFG_FORMAT_SECURITY, "tls",
	    CFG(imap.security)),
	STRING("imap.ca_file", 0, CFG_FORMAT_TEXT, NULL, CFG(imap.ca_file)),
	STRING("imap.user", 0, CFG_FORMAT_TEXT, NULL, CFG(imap.user)),
	STRING("imap.password_file", 0, CFG_FORMAT_TEXT, NULL,
	    CFG(imap.password_file)),
	STRING("imap.mailbox", 0, CFG_FORMAT_TEXT, "INBOX", CFG(imap.mailbox)),
	STRING("imap.after_commit", 0, CFG_FORMAT_AFTER_COMMIT, "seen",
	    CFG(imap.after_commit)),
	NUMBER("imap.poll_seconds", CFG_KEY_INT, 1, 86400, 60, MS_PER_S,
	    CFG(imap.poll_ms)),
};

const size_t	cfg_n_keys = G_N_ELEMENTS(cfg_keys);

/* The state of cfg_load() while it walks one file. */
struct loader {
	const char	*path;
	GPtrArray	*errors;
	size_t		 n_errors;
	char		**lines;	/* for source_integer() */
	/* The list whose element is being read, for CFG_KEY_UNIQUE. */
	const char	*list_shown;
	char		*list_first;
	size_t		 list_elem_size;
	size_t		 list_index;
};

typedef void	(*load_fn)(struct loader *, const struct cfg_key *,
		    const config_setting_t *, const char *, char *);

static void	load_group(struct loader *, const config_setting_t *,
		    const char *, const char *, char *);

static const char *
default_hostname(void)
{
	return g_get_host_name();
}

/*
 * Syntax checks for string values.
 */

static bool
is_any(const char *s)
{
	(void)s;
	return true;
}

/* Dot-separated labels of letters, digits and inner "-" (RFC 1123 2.1). */
static bool
is_domain(const char *s, size_t len)
{
	size_t	i, label = 0;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!g_ascii_isalnum(s[i]) && s[i] != '-')
			return false;
		if (s[i] == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

static bool
is_hostname(const char *s)
{
	return is_domain(s, strlen(s));
}

static bool
is_port(const char *s)
{
	size_t	len = strlen(s);

	if (len == 0 || len > 5 || strspn(s, "0123456789") != len)
		return false;
	return atoi(s) <= 65535;
}

/* "host:port", "1.2.3.4:port" or "[IPv6 address]:port"; port 0 picks one. */
static bool
is_hostport(const char *s)
{
	const char	*end, *colon;
	size_t		 len;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return false;
		len = end - (s + 1);
		if (len < 2 || memchr(s + 1, ':', len) == NULL ||
		    strspn(s + 1, "0123456789abcdefABCDEF:.") != len)
			return false;
		return is_port(end + 2);
	}
	colon = strrchr(s, ':');
	if (colon == NULL)
		return false;
	return is_domain(s, colon - s) && is_port(colon + 1);
}

static bool
is_url(const char *s)
{
	const char	*host;
	size_t		 i;

	if (g_str_has_prefix(s, "http://"))
		host = s + strlen("http://");
	else if (g_str_has_prefix(s, "https://"))
		host = s + strlen("https://");
	else
		return false;
	if (host[0] == '\0' || strchr("/?#:", host[0]) != NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

/* local@domain, the local part being a dot-atom (RFC 5322 3.2.3). */
static bool
is_email(const char *s)
{
	static const char	 atext[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.";
	const char		*at = strchr(s, '@');
	size_t			 local;

	if (at == NULL || strchr(at + 1, '@') != NULL || strlen(s) > 254)
		return false;
	local = at - s;
	if (local == 0 || local > 64 || strspn(s, atext) != local)
		return false;
	if (s[0] == '.' || at[-1] == '.')
		return false;
	if (g_strstr_len(s, local, "..") != NULL)
		return false;
	return is_domain(at + 1, strlen(at + 1));
}

/* smtp://host[:port] or smtps://host[:port], nothing after. */
static bool
is_relay(const char *s)
{
	const char	*rest;

	if (g_str_has_prefix(s, "smtp://"))
		rest = s + strlen("smtp://");
	else if (g_str_has_prefix(s, "smtps://"))
		rest = s + strlen("smtps://");
	else
		return false;
	if (strchr(rest, '/') != NULL)
		return false;
	if (strchr(rest, ':') == NULL)
		return is_domain(rest, strlen(rest));
	return is_hostport(rest);
}

static bool
is_ip(const char *s)
{
	unsigned char	addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, addr) == 1 ||
	    inet_pton(AF_INET6, s, addr) == 1;
}

/* Words someone types: printable UTF-8, no control characters. */
static bool
is_words(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

static void
utf8_lowercase(char *s)
{
	char	*down;

	if (!g_utf8_validate(s, -1, NULL))
		return;
	down = g_utf8_strdown(s, -1);
	/* Folding may change the length; keep the original then. */
	if (strlen(down) == strlen(s))
		memcpy(s, down, strlen(s));
	g_free(down);
}

static bool is_name(const char *s);

/* "team", "rotation:NAME" or a member's name; cross_check() resolves. */
static bool
is_target(const char *s)
{
	if (strcmp(s, "team") == 0)
		return true;
	if (g_str_has_prefix(s, "rotation:"))
		return s[9] != '\0' && is_name(s + 9);
	return is_name(s);
}

static bool
is_provider(const char *s)
{
	return strcmp(s, "twilio") == 0 || strcmp(s, "vonage") == 0;
}

static bool
is_sig_method(const char *s)
{
	static const char *const methods[] = {
		"md5hash", "md5", "sha1", "sha256", "sha512", NULL
	};

	return g_strv_contains(methods, s);
}

/*
 * A zone name of the system's zoneinfo ("Europe/Berlin", "UTC"), whose file
 * starts as zoneinfo files do.  No path, no POSIX TZ string: GLib would read
 * any file it is given.
 */
static bool
is_zone(const char *s)
{
	const char	*dir = g_getenv("TZDIR");
	char		*path, magic[4];
	gchar		**parts;
	bool		 is_ok = true;
	size_t		 i;
	FILE		*f;

	parts = g_strsplit(s, "/", -1);
	for (i = 0; parts[i] != NULL && is_ok; i++)
		is_ok = parts[i][0] != '\0' && parts[i][0] != '.' &&
		    strspn(parts[i], "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-") ==
		    strlen(parts[i]);
	g_strfreev(parts);
	if (!is_ok)
		return false;
	path = g_build_filename(dir != NULL ? dir : "/usr/share/zoneinfo", s,
	    NULL);
	f = g_file_test(path, G_FILE_TEST_IS_REGULAR) ? fopen(path, "rb") :
	    NULL;
	is_ok = f != NULL && fread(magic, 1, 4, f) == 4 &&
	    memcmp(magic, "TZif", 4) == 0;
	if (f != NULL)
		fclose(f);
	g_free(path);
	return is_ok;
}

static bool
is_channel(const char *s)
{
	return strcmp(s, "voice") == 0 || strcmp(s, "sms") == 0 ||
	    strcmp(s, "email") == 0;
}

static bool
is_name(const char *s)
{
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") ==
	    strlen(s);
}

static bool
is_listen(const char *s)
{
	if (g_str_has_prefix(s, "unix:"))
		return s[5] == '/' && s[6] != '\0';
	return is_hostport(s);
}

static bool
is_security(const char *s)
{
	return strcmp(s, "tls") == 0 || strcmp(s, "starttls") == 0 ||
	    strcmp(s, "none") == 0;
}

static bool
is_after_commit(const char *s)
{
	return strcmp(s, "seen") == 0 ||
	    (g_str_has_prefix(s, "move:") && s[5] != '\0');
}

static bool
is_rate(const char *s)
{
	int64_t	count, window_ms;

	return cfg_rate_parse(s, &count, &window_ms) == 0;
}

/* A token as providers issue them: 16 or more printable characters,
 * no whitespace (a pasted newline or space would fail every request). */
static bool
is_token(const char *s)
{
	size_t	len = strlen(s), i;

	if (len < 16)
		return false;
	for (i = 0; i < len; i++)
		if (!g_ascii_isgraph(s[i]))
			return false;
	return true;
}

static bool
is_sid(const char *s)
{
	return strlen(s) == 34 && g_str_has_prefix(s, "AC") &&
	    strspn(s + 2, "0123456789abcdefABCDEF") == 32;
}

static bool
is_e164(const char *s)
{
	return cfg_is_e164(s);
}

static void
strip_trailing_slashes(char *s)
{
	size_t	len = strlen(s);

	while (len > 0 && s[len - 1] == '/')
		s[--len] = '\0';
}

static void
lowercase(char *s)
{
	for (; *s != '\0'; s++)
		*s = g_ascii_tolower(*s);
}

struct format {
	bool		 (*is_valid)(const char *);
	void		 (*normalize)(char *);
	/* Messages read "\"x\" is not <noun> (expected <hint>)". */
	const char	*noun;
	const char	*hint;
};

/* The start of the example config's placeholder secrets. */
#define CFG_PLACEHOLDER_PREFIX	"replace-with-"

static const struct format formats[CFG_FORMAT_COUNT] = {
	[CFG_FORMAT_TEXT] = { is_any, NULL, "text", "a non-empty string" },
	[CFG_FORMAT_HOSTPORT] = { is_hostport, NULL, "a listen address",
	    "host:port or [IPv6 address]:port, port 0 to 65535" },
	[CFG_FORMAT_HOSTNAME] = { is_hostname, NULL, "a host name",
	    "letters, digits and \"-\" in labels separated by \".\"" },
	[CFG_FORMAT_URL] = { is_url, strip_trailing_slashes,
	    "an http or https URL",
	    "\"http://\" or \"https://\", then a host" },
	[CFG_FORMAT_EMAIL] = { is_email, lowercase, "a mail address",
	    "local@domain" },
	[CFG_FORMAT_E164] = { is_e164, NULL, "an E.164 number",
	    "\"+\" and 8 to 15 digits" },
	[CFG_FORMAT_NAME] = { is_name, NULL, "a valid name",
	    "lowercase letters, digits, \".\", \"_\" and \"-\"" },
	[CFG_FORMAT_SID] = { is_sid, NULL, "a Twilio account SID",
	    "\"AC\" and 32 hexadecimal digits" },
	[CFG_FORMAT_TOKEN] = { is_token, NULL, "a provider token",
	    "16 or more characters without spaces" },
	[CFG_FORMAT_LISTEN] = { is_listen, NULL, "a listen address",
	    "host:port, [IPv6 address]:port or unix:/path" },
	[CFG_FORMAT_SECURITY] = { is_security, NULL, "a security mode",
	    "\"tls\", \"starttls\" or \"none\"" },
	[CFG_FORMAT_AFTER_COMMIT] = { is_after_commit, NULL,
	    "an action after commit", "\"seen\" or \"move:FOLDER\"" },
	[CFG_FORMAT_RATE] = { is_rate, NULL, "a page limit",
	    "N/W and a unit, such as \"3/15m\": 1 to 1000 requests in "
	    "1s to 168h, unit s, m or h" },
	[CFG_FORMAT_RELAY] = { is_relay, NULL, "a relay URL",
	    "\"smtp://host[:port]\" or \"smtps://host[:port]\"" },
	[CFG_FORMAT_IP] = { is_ip, NULL, "an IP address",
	    "an IPv4 or IPv6 address such as \"192.0.2.25\"" },
	[CFG_FORMAT_WORDS] = { is_words, utf8_lowercase, "a word list entry",
	    "text without control characters" },
	[CFG_FORMAT_TARGET] = { is_target, NULL, "a page target",
	    "\"team\", \"rotation:NAME\" or a team member's name" },
	[CFG_FORMAT_CHANNEL] = { is_channel, NULL, "a channel",
	    "\"voice\", \"sms\" or \"email\"" },
	[CFG_FORMAT_ZONE] = { is_zone, NULL, "a known time zone",
	    "a name of the system's zoneinfo, such as \"Europe/Berlin\" or "
	    "\"UTC\"" },
	[CFG_FORMAT_PROVIDER] = { is_provider, NULL, "a provider",
	    "\"twilio\" or \"vonage\"" },
	[CFG_FORMAT_SIG_METHOD] = { is_sig_method, NULL,
	    "a signature method",
	    "\"md5hash\", \"md5\", \"sha1\", \"sha256\" or \"sha512\"" },
};

/*
 * Reporting.
 */

static void G_GNUC_PRINTF(4, 5)
report(struct loader *ld, const config_setting_t *where, const char *key,
    const char *fmt, ...)
{
	va_list		 ap;
	char		*problem;
	const char	*file = ld->path;
	unsigned int	 line = 0;

	if (where != NULL) {
		line = config_setting_source_line(where);
		if (config_setting_source_file(where) != NULL)
			file = config_setting_source_file(where);
	}
	va_start(ap, fmt);
	problem = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	ld->n_errors++;
	if (ld->errors == NULL)
		goto out;
	if (line > 0)
		g_ptr_array_add(ld->errors, g_strdup_printf("%s:%u: %s: %s",
		    file, line, key, problem));
	else
		g_ptr_array_add(ld->errors, g_strdup_printf("%s: %s: %s",
		    file, key, problem));
out:
	g_free(problem);
}

static const char *const found_names[] = {
	[CONFIG_TYPE_NONE] = "nothing",
	[CONFIG_TYPE_GROUP] = "a group { ... }",
	[CONFIG_TYPE_INT] = "an integer",
	[CONFIG_TYPE_INT64] = "an integer",
	[CONFIG_TYPE_FLOAT] = "a float",
	[CONFIG_TYPE_STRING] = "a string",
	[CONFIG_TYPE_BOOL] = "a boolean",
	[CONFIG_TYPE_ARRAY] = "an array [ ... ]",
	[CONFIG_TYPE_LIST] = "a list ( ... )",
};

static const char *const expected_names[CFG_KEY_TYPE_COUNT] = {
	[CFG_KEY_GROUP] = "a group { ... }",
	[CFG_KEY_LIST] = "a list ( ... ) of groups",
	[CFG_KEY_STRING] = "a string",
	[CFG_KEY_SEVERITY] = "a string",
	[CFG_KEY_INT] = "an integer",
	[CFG_KEY_FLOAT] = "a number",
	[CFG_KEY_BOOL] = "true or false",
	[CFG_KEY_STRINGS] = "an array [ ... ] of strings",
	[CFG_KEY_INTS] = "an array [ ... ] of integers",
};

/* The setting's value as written, or NULL for groups, lists and arrays. */
static char *
value_text(const config_setting_t *s)
{
	char	*escaped, *text;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return g_strdup_printf("%lld", config_setting_get_int64(s));
	case CONFIG_TYPE_FLOAT:
		/* "%g" prints 10.0 as "10", which would read as an integer. */
		text = g_strdup_printf("%g", config_setting_get_float(s));
		if (strpbrk(text, ".eEin") == NULL) {
			escaped = text;
			text = g_strconcat(escaped, ".0", NULL);
			g_free(escaped);
		}
		return text;
	case CONFIG_TYPE_BOOL:
		return g_strdup(config_setting_get_bool(s) ? "true" : "false");
	case CONFIG_TYPE_STRING:
		escaped = g_strescape(config_setting_get_string(s), NULL);
		text = g_strdup_printf("\"%s\"", escaped);
		g_free(escaped);
		return text;
	default:
		return NULL;
	}
}

static void
report_type(struct loader *ld, const config_setting_t *s, const char *key,
    const char *expected, bool is_secret)
{
	const char	*found = found_names[config_setting_type(s)];
	char		*value = is_secret ? NULL : value_text(s);

	if (value != NULL)
		report(ld, s, key, "%s is %s, expected %s", value, found,
		    expected);
	else
		report(ld, s, key, "found %s, expected %s", found, expected);
	g_free(value);
}

static const int accepted_types[CFG_KEY_TYPE_COUNT] = {
	[CFG_KEY_GROUP] = 1 << CONFIG_TYPE_GROUP,
	[CFG_KEY_LIST] = 1 << CONFIG_TYPE_LIST,
	[CFG_KEY_STRING] = 1 << CONFIG_TYPE_STRING,
	[CFG_KEY_SEVERITY] = 1 << CONFIG_TYPE_STRING,
	[CFG_KEY_INT] = 1 << CONFIG_TYPE_INT | 1 << CONFIG_TYPE_INT64,
	[CFG_KEY_FLOAT] = 1 << CONFIG_TYPE_INT | 1 << CONFIG_TYPE_INT64 |
	    1 << CONFIG_TYPE_FLOAT,
	[CFG_KEY_BOOL] = 1 << CONFIG_TYPE_BOOL,
	[CFG_KEY_STRINGS] = 1 << CONFIG_TYPE_ARRAY,
	[CFG_KEY_INTS] = 1 << CONFIG_TYPE_ARRAY,
};

static int
check_type(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key)
{
	if ((accepted_types[k->type] & 1 << config_setting_type(s)) != 0)
		return 0;
	report_type(ld, s, key, expected_names[k->type],
	    (k->flags & CFG_KEY_SECRET) != 0);
	return -1;
}

/*
 * Returns the integer as written in the file.  libconfig 1.5 stores a
 * decimal integer without the "L" suffix in an int and wraps it silently
 * when it does not fit (5000000000 reads as 705032704), so the source line
 * is parsed again.  A line may hold the same name twice ("{ delay = 5; },
 * { delay = 7; }"): the value taken is the first that wraps to parsed.
 * Returns parsed when the line cannot be matched.
 */
static long long
source_integer(struct loader *ld, const config_setting_t *s, long long parsed)
{
	const char	*name = config_setting_name(s), *p, *line;
	unsigned int	 n = config_setting_source_line(s);
	size_t		 len;
	char		*end;
	long long	 v;

	if (config_setting_type(s) != CONFIG_TYPE_INT || name == NULL ||
	    ld->lines == NULL || n == 0 || n > g_strv_length(ld->lines))
		return parsed;
	line = ld->lines[n - 1];
	len = strlen(name);
	for (p = strstr(line, name); p != NULL; p = strstr(p + 1, name)) {
		if (p > line && (g_ascii_isalnum(p[-1]) || p[-1] == '_'))
			continue;
		p += len;
		p += strspn(p, " \t");
		if (*p != '=' && *p != ':')
			continue;
		p++;
		p += strspn(p, " \t");
		if (g_ascii_strncasecmp(p + (*p == '-'), "0x", 2) == 0)
			return parsed;
		errno = 0;
		v = g_ascii_strtoll(p, &end, 10);
		if (end == p || (errno != 0 && errno != ERANGE))
			continue;
		if ((long long)(int32_t)(uint32_t)(unsigned long long)v ==
		    parsed || v == parsed)
			return v;
	}
	return parsed;
}

/*
 * Loaders, one per key type, for a key present in the file.
 */

static bool
is_duplicate(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, const char *value)
{
	const char	*other;
	size_t		 i;

	if ((k->flags & CFG_KEY_UNIQUE) == 0 || ld->list_first == NULL)
		return false;
	for (i = 0; i < ld->list_index; i++) {
		other = *(char **)(ld->list_first + i * ld->list_elem_size +
		    k->offset);
		if (other == NULL || strcmp(other, value) != 0)
			continue;
		report(ld, s, key, "\"%s\" is already used by %s[%zu]", value,
		    ld->list_shown, i);
		return true;
	}
	return false;
}

static void
report_format(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key)
{
	const struct format	*f = &formats[k->format];
	char			*value;

	/* An account SID mistyped is often the auth token pasted into the
	 * wrong field, so its value is never shown either. */
	if ((k->flags & CFG_KEY_SECRET) != 0 || k->format == CFG_FORMAT_SID) {
		report(ld, s, key, "value is not %s (expected %s)", f->noun,
		    f->hint);
		return;
	}
	value = value_text(s);
	report(ld, s, key, "%s is not %s (expected %s)", value, f->noun,
	    f->hint);
	g_free(value);
}

static void
load_string(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, char *base)
{
	const struct format	*f = &formats[k->format];
	const char		*value;
	char			*copy;

	if (check_type(ld, k, s, key) == -1)
		return;
	value = config_setting_get_string(s);
	if (value[0] == '\0' && (k->flags & CFG_KEY_EMPTY_UNSET) != 0)
		return;
	if (value[0] == '\0') {
		report(ld, s, key, "is empty (expected %s)", f->hint);
		return;
	}
	/* The example config's secrets, left as they are, would fail every
	 * request to the provider. */
	if (g_str_has_prefix(value, CFG_PLACEHOLDER_PREFIX)) {
		report(ld, s, key, "is still the example config's placeholder "
		    "(expected your own value)");
		return;
	}
	if (!f->is_valid(value)) {
		report_format(ld, k, s, key);
		return;
	}

	copy = g_strdup(value);
	if (f->normalize != NULL)
		f->normalize(copy);
	if (is_duplicate(ld, k, s, key, copy)) {
		g_free(copy);
		return;
	}
	*(char **)(base + k->offset) = copy;
}

static void
load_severity(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, char *base)
{
	enum cfg_severity	 severity;
	char			*value;

	if (check_type(ld, k, s, key) == -1)
		return;
	if (cfg_severity_parse(config_setting_get_string(s), &severity) == 0) {
		*(enum cfg_severity *)(base + k->offset) = severity;
		return;
	}
	value = value_text(s);
	report(ld, s, key, "%s is not a severity (expected \"critical\" or "
	    "\"high\")", value);
	g_free(value);
}

static void
load_int(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, char *base)
{
	long long	v;

	if (check_type(ld, k, s, key) == -1)
		return;
	v = source_integer(ld, s, config_setting_get_int64(s));
	if (v < k->min || v > k->max) {
		report(ld, s, key,
		    "%lld is out of range (expected %.0f to %.0f)", v, k->min,
		    k->max);
		return;
	}
	*(int64_t *)(base + k->offset) = v * k->scale;
}

/* Rounds to the nearest integer; the table keeps every number >= 0. */
static int64_t
round_scaled(double v, int64_t scale)
{
	return (int64_t)(v * scale + 0.5);
}

static void
load_float(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, char *base)
{
	double	v;

	if (check_type(ld, k, s, key) == -1)
		return;
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else
		v = source_integer(ld, s, config_setting_get_int64(s));
	if (!(v >= k->min && v <= k->max)) {
		report(ld, s, key, "%g is out of range (expected %g to %g)", v,
		    k->min, k->max);
		return;
	}
	*(int64_t *)(base + k->offset) = round_scaled(v, k->scale);
}

static void
load_bool(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, char *base)
{
	if (check_type(ld, k, s, key) == -1)
		return;
	*(bool *)(base + k->offset) = config_setting_get_bool(s) != 0;
}

/* An array of strings, each checked against the key's format. */
static void
load_strings(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, char *base)
{
	const struct format	*f = &formats[k->format];
	const config_setting_t	*elem;
	GPtrArray		*values;
	char			*elem_key, *copy;
	int			 i, n;

	if (check_type(ld, k, s, key) == -1)
		return;
	values = g_ptr_array_new();
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		elem = config_setting_get_elem(s, i);
		elem_key = g_strdup_printf("%s[%d]", key, i);
		if (config_setting_type(elem) != CONFIG_TYPE_STRING)
			report_type(ld, elem, elem_key, "a string", false);
		else if (config_setting_get_string(elem)[0] == '\0')
			report(ld, elem, elem_key, "is empty (expected %s)",
			    f->hint);
		else if (!f->is_valid(config_setting_get_string(elem)))
			report_format(ld, k, elem, elem_key);
		else {
			copy = g_strdup(config_setting_get_string(elem));
			if (f->normalize != NULL)
				f->normalize(copy);
			g_ptr_array_add(values, copy);
		}
		g_free(elem_key);
	}
	g_ptr_array_add(values, NULL);
	*(char ***)(base + k->offset) = (char **)g_ptr_array_free(values,
	    FALSE);
}

/* An array of integers within the key's bounds, kept in ascending order. */
static void
load_ints(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, char *base)
{
	const config_setting_t	*elem;
	int64_t			*values;
	char			*elem_key;
	long long		 v;
	size_t			 i, n, kept = 0;

	if (check_type(ld, k, s, key) == -1)
		return;
	n = (size_t)config_setting_length(s);
	values = g_new0(int64_t, n + 1);
	for (i = 0; i < n; i++) {
		elem = config_setting_get_elem(s, (unsigned)i);
		elem_key = g_strdup_printf("%s[%zu]", key, i);
		v = config_setting_get_int64(elem);
		if (config_setting_type(elem) != CONFIG_TYPE_INT &&
		    config_setting_type(elem) != CONFIG_TYPE_INT64)
			report_type(ld, elem, elem_key, "an integer", false);
		else if (v < k->min || v > k->max)
			report(ld, elem, elem_key, "%lld is out of range "
			    "(expected %.0f to %.0f)", v, k->min, k->max);
		else if (kept > 0 && v <= values[kept - 1])
			report(ld, elem, elem_key, "%lld is not above the one "
			    "before (expected ascending values)", v);
		else
			values[kept++] = v;
		g_free(elem_key);
	}
	*(int64_t **)(base + k->offset) = values;
	*(size_t *)(base + k->count_offset) = kept;
}

static void
load_group_key(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, char *base)
{
	if (check_type(ld, k, s, key) == -1)
		return;
	load_group(ld, s, k->path, key, base);
}

static void
load_list(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *s, const char *key, char *base)
{
	struct loader	 saved = *ld;
	const config_setting_t *elem;
	char		*pattern, *elem_key, *elems;
	size_t		 i, n;

	if (check_type(ld, k, s, key) == -1)
		return;
	n = config_setting_length(s);
	if (n < k->min_elems)
		report(ld, s, key, "is empty (expected at least %zu element%s)",
		    k->min_elems, k->min_elems == 1 ? "" : "s");
	elems = n == 0 ? NULL : g_malloc0_n(n, k->elem_size);
	*(char **)(base + k->offset) = elems;
	*(size_t *)(base + k->count_offset) = n;

	pattern = g_strconcat(k->path, "[]", NULL);
	ld->list_shown = key;
	ld->list_first = elems;
	ld->list_elem_size = k->elem_size;
	for (i = 0; i < n; i++) {
		elem = config_setting_get_elem(s, i);
		elem_key = g_strdup_printf("%s[%zu]", key, i);
		ld->list_index = i;
		if (config_setting_type(elem) != CONFIG_TYPE_GROUP)
			report_type(ld, elem, elem_key, "a group { ... }",
			    false);
		else
			load_group(ld, elem, pattern, elem_key,
			    elems + i * k->elem_size);
		g_free(elem_key);
	}
	ld->list_shown = saved.list_shown;
	ld->list_first = saved.list_first;
	ld->list_elem_size = saved.list_elem_size;
	ld->list_index = saved.list_index;
	g_free(pattern);
}

static const load_fn loaders[CFG_KEY_TYPE_COUNT] = {
	[CFG_KEY_GROUP] = load_group_key,
	[CFG_KEY_LIST] = load_list,
	[CFG_KEY_STRING] = load_string,
	[CFG_KEY_SEVERITY] = load_severity,
	[CFG_KEY_INT] = load_int,
	[CFG_KEY_FLOAT] = load_float,
	[CFG_KEY_BOOL] = load_bool,
	[CFG_KEY_STRINGS] = load_strings,
	[CFG_KEY_INTS] = load_ints,
};

/* For a key missing from the file: an error, or its default. */
static void
load_default(struct loader *ld, const struct cfg_key *k,
    const config_setting_t *group, const char *key, char *base)
{
	const char	*def;

	if ((k->flags & CFG_KEY_REQUIRED) != 0) {
		report(ld, group, key, "is missing (required, expected %s)",
		    expected_names[k->type]);
		return;
	}
	if (k->type == CFG_KEY_GROUP) {
		load_group(ld, NULL, k->path, key, base);
	} else if (k->type == CFG_KEY_STRING) {
		/* An optional string without a default stays NULL. */
		def = k->def_string != NULL ? k->def_string :
		    k->def_fn != NULL ? k->def_fn() : NULL;
		*(char **)(base + k->offset) = g_strdup(def);
	} else if (k->type == CFG_KEY_INT || k->type == CFG_KEY_FLOAT) {
		*(int64_t *)(base + k->offset) = round_scaled(k->def_number,
		    k->scale);
	} else if (k->type == CFG_KEY_BOOL) {
		*(bool *)(base + k->offset) = k->def_number != 0;
	} else if (k->type == CFG_KEY_STRINGS) {
		*(char ***)(base + k->offset) = k->def_strings != NULL ?
		    g_strdupv((char **)k->def_strings) : g_new0(char *, 1);
	} else if (k->type == CFG_KEY_INTS) {
		*(int64_t **)(base + k->offset) = g_new0(int64_t, 1);
		*(size_t *)(base + k->count_offset) = 0;
	} else if (k->type == CFG_KEY_LIST) {
		*(char **)(base + k->offset) = NULL;
		*(size_t *)(base + k->count_offset) = 0;
	}
}

/*
 * Returns the last part of the key's path when the key sits directly in
 * the group named by pattern ("" for the top, "team[]" for team elements),
 * else NULL.
 */
static const char *
key_leaf(const struct cfg_key *k, const char *pattern)
{
	size_t		 len = strlen(pattern);
	const char	*leaf = k->path;

	if (len > 0) {
		if (strncmp(k->path, pattern, len) != 0 || k->path[len] != '.')
			return NULL;
		leaf = k->path + len + 1;
	}
	return strchr(leaf, '.') == NULL ? leaf : NULL;
}

static char *
key_join(const char *prefix, const char *leaf)
{
	if (prefix[0] == '\0')
		return g_strdup(leaf);
	return g_strconcat(prefix, ".", leaf, NULL);
}

static void
report_unknown(struct loader *ld, const config_setting_t *s,
    const char *pattern, const char *key)
{
	GString		*known = g_string_new(NULL);
	const char	*leaf;
	size_t		 i;

	for (i = 0; i < cfg_n_keys; i++) {
		leaf = key_leaf(&cfg_keys[i], pattern);
		if (leaf == NULL)
			continue;
		if (known->len > 0)
			g_string_append(known, ", ");
		g_string_append(known, leaf);
	}
	report(ld, s, key, "unknown key (expected one of: %s)", known->str);
	g_string_free(known, TRUE);
}

static void
check_unknown(struct loader *ld, const config_setting_t *group,
    const char *pattern, const char *shown)
{
	const config_setting_t	*member;
	const char		*name, *leaf;
	char			*key;
	size_t			 i, j;
	int			 n = config_setting_length(group);

	for (i = 0; i < (size_t)n; i++) {
		member = config_setting_get_elem(group, i);
		name = config_setting_name(member);
		for (j = 0; j < cfg_n_keys; j++) {
			leaf = key_leaf(&cfg_keys[j], pattern);
			if (leaf != NULL && strcmp(leaf, name) == 0)
				break;
		}
		if (j < cfg_n_keys)
			continue;
		key = key_join(shown, name);
		report_unknown(ld, member, pattern, key);
		g_free(key);
	}
}

/*
 * Loads every key of the group named by pattern into base, shown in
 * messages as shown.  A NULL group stands for an optional group left out.
 */
static void
load_group(struct loader *ld, const config_setting_t *group,
    const char *pattern, const char *shown, char *base)
{
	const struct cfg_key	*k;
	const config_setting_t	*s;
	const char		*leaf;
	char			*key;
	size_t			 i;

	for (i = 0; i < cfg_n_keys; i++) {
		k = &cfg_keys[i];
		leaf = key_leaf(k, pattern);
		if (leaf == NULL)
			continue;
		s = group == NULL ? NULL : config_setting_get_member(group,
		    leaf);
		key = key_join(shown, leaf);
		if (s == NULL)
			load_default(ld, k, group, key, base);
		else
			loaders[k->type](ld, k, s, key, base);
		g_free(key);
	}
	if (group != NULL)
		check_unknown(ld, group, pattern, shown);
}

static void
report_read_error(struct loader *ld, const config_t *lc)
{
	const char	*file = config_error_file(lc), *text;
	int		 fd;

	if (ld->errors == NULL)
		return;
	if (config_error_type(lc) == CONFIG_ERR_PARSE) {
		/* libconfig's text is often just "syntax error". */
		text = config_error_text(lc);
		g_ptr_array_add(ld->errors, g_strdup_printf("%s:%d: %s%s",
		    file != NULL ? file : ld->path, config_error_line(lc),
		    g_str_has_prefix(text, "syntax error") ? "" :
		    "syntax error: ", text));
		return;
	}

	/* libconfig keeps no errno, so open the file again to learn why. */
	fd = open(ld->path, O_RDONLY);
	if (fd == -1) {
		g_ptr_array_add(ld->errors, g_strdup_printf("%s: cannot be "
		    "read: %s", ld->path, g_strerror(errno)));
		return;
	}
	close(fd);
	g_ptr_array_add(ld->errors, g_strdup_printf("%s: cannot be read "
	    "(expected a regular file)", ld->path));
}

/* Wipes secrets from libconfig's copy before config_destroy() frees it. */
static void
wipe_parsed_secrets(const config_t *lc)
{
	const config_setting_t	*s;
	const char		*value;
	size_t			 i;

	for (i = 0; i < cfg_n_keys; i++) {
		if ((cfg_keys[i].flags & CFG_KEY_SECRET) == 0 ||
		    strstr(cfg_keys[i].path, "[]") != NULL)
			continue;
		s = config_lookup(lc, cfg_keys[i].path);
		if (s == NULL || config_setting_type(s) != CONFIG_TYPE_STRING)
			continue;
		value = config_setting_get_string(s);
		explicit_bzero((char *)value, strlen(value));
	}
}

/*
 * Returns the files that @include lines name, as libconfig opens them
 * (relative names from the working directory), NULL-terminated.
 */
static char **
find_includes(char **lines)
{
	GPtrArray	*files = g_ptr_array_new();
	const char	*p, *end;
	size_t		 i;

	for (i = 0; lines != NULL && lines[i] != NULL; i++) {
		p = lines[i] + strspn(lines[i], " \t");
		if (!g_str_has_prefix(p, "@include"))
			continue;
		p = strchr(p, '"');
		end = p != NULL ? strchr(p + 1, '"') : NULL;
		if (end != NULL)
			g_ptr_array_add(files, g_strndup(p + 1,
			    (gsize)(end - p - 1)));
	}
	g_ptr_array_add(files, NULL);
	return (char **)g_ptr_array_free(files, FALSE);
}

/* Splits the file into lines for source_integer(), or returns NULL. */
static char **
read_lines(const char *path)
{
	char	*text, **lines;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return NULL;
	lines = g_strsplit(text, "\n", -1);
	explicit_bzero(text, strlen(text));
	g_free(text);
	return lines;
}

static void
free_lines(char **lines)
{
	size_t	i;

	if (lines == NULL)
		return;
	for (i = 0; lines[i] != NULL; i++)
		explicit_bzero(lines[i], strlen(lines[i]));
	g_strfreev(lines);
}

/*
 * Reads the HMAC key that signs our Message-ID tokens.  The file must be
 * ours, closed to group and others, and hold CFG_TOKEN_KEY_MIN bytes or
 * more: a short or readable key would let others forge acknowledgements.
 */
static void
load_token_key(struct loader *ld, const config_t *lc, struct cfg *cfg)
{
	const config_setting_t	*where;
	char			*problem = NULL, *data = NULL;
	gsize			 len = 0;
	GError			*err = NULL;

	where = config_lookup(lc, "mail.token_key_file");
	if (cfg_check_secrecy(cfg->token_key_file, &problem) == -1) {
		report(ld, where, "mail.token_key_file", "%s", problem);
		g_free(problem);
		return;
	}
	if (!g_file_get_contents(cfg->token_key_file, &data, &len, &err)) {
		report(ld, where, "mail.token_key_file", "cannot be read: %s",
		    err->message);
		g_error_free(err);
		return;
	}
	if (len < CFG_TOKEN_KEY_MIN) {
		report(ld, where, "mail.token_key_file", "%s holds %zu bytes; "
		    "a key needs %d or more random bytes (e.g. head -c 32 "
		    "/dev/urandom > FILE)", cfg->token_key_file, (size_t)len,
		    CFG_TOKEN_KEY_MIN);
		explicit_bzero(data, len);
		g_free(data);
		return;
	}
	cfg->token_key = (uint8_t *)data;
	cfg->token_key_len = len;
}

/* Checks that a file named by key exists and can be read. */
static void
check_readable(struct loader *ld, const config_t *lc, const char *key,
    const char *path)
{
	if (access(path, R_OK) == 0)
		return;
	report(ld, config_lookup(lc, key), key, "%s cannot be read: %s", path,
	    g_strerror(errno));
}

static void
check_tls(struct loader *ld, const config_t *lc, struct cfg *cfg)
{
	const config_setting_t	*tls = config_lookup(lc, "tls");

	if (cfg->tls_require && cfg->tls_cert_file == NULL)
		report(ld, tls, "tls.require", "is true but tls.cert_file is "
		    "not set, so no client could ever send mail");
	if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL))
		report(ld, tls, cfg->tls_cert_file == NULL ? "tls.cert_file" :
		    "tls.key_file", "is missing (tls.cert_file and "
		    "tls.key_file go together)");
	if (cfg->tls_cert_file != NULL)
		check_readable(ld, lc, "tls.cert_file", cfg->tls_cert_file);
	if (cfg->tls_key_file != NULL)
		check_readable(ld, lc, "tls.key_file", cfg->tls_key_file);
}

/* A TCP listen address, as check_listen compares them. */
struct listen_addr {
	char	*host;		/* without brackets */
	bool	 is_v6;
	long	 port;
};

/* Splits "host:port" or "[v6]:port" into out.  Returns false for a Unix
 * socket. */
static bool
listen_split(const char *addr, struct listen_addr *out)
{
	const char	*colon = strrchr(addr, ':');

	if (g_str_has_prefix(addr, "unix:") || colon == NULL)
		return false;
	out->is_v6 = addr[0] == '[';
	out->host = out->is_v6 ? g_strndup(addr + 1, (gsize)(colon - addr -
	    2)) : g_strndup(addr, (gsize)(colon - addr));
	out->port = strtol(colon + 1, NULL, 10);
	return true;
}

/* Tells whether host is the wildcard of its family: "0.0.0.0" or "::". */
static bool
listen_is_any(const struct listen_addr *a)
{
	return strcmp(a->host, a->is_v6 ? "::" : "0.0.0.0") == 0;
}

/*
 * Tells whether two listen addresses would take the same port.  IPv6
 * sockets listen for IPv6 only, so "0.0.0.0" and "[::1]" do not clash.
 * Host names are compared as written, not resolved.  Port 0 lets the
 * system pick a free port, which never clashes.
 */
static bool
listen_overlap(const char *a, const char *b)
{
	struct listen_addr	x = { .host = NULL }, y = { .host = NULL };
	bool			is_same = false;

	if (a != NULL && b != NULL && listen_split(a, &x) &&
	    listen_split(b, &y))
		is_same = x.port == y.port && x.port != 0 &&
		    x.is_v6 == y.is_v6 && (listen_is_any(&x) ||
		    listen_is_any(&y) || g_ascii_strcasecmp(x.host,
		    y.host) == 0);
	g_free(x.host);
	g_free(y.host);
	return is_same;
}

static void
check_listen(struct loader *ld, const config_t *lc, struct cfg *cfg)
{
	if (listen_overlap(cfg->listen_smtp, cfg->listen_http))
		report(ld, config_lookup(lc, "listen.http"), "listen.http",
		    "takes the port of listen.smtp (%s); give each its own",
		    cfg->listen_smtp);
	if (listen_overlap(cfg->listen_smtp, cfg->listen_lmtp))
		report(ld, config_lookup(lc, "listen.lmtp"), "listen.lmtp",
		    "takes the port of listen.smtp (%s); give each its own",
		    cfg->listen_smtp);
	if (listen_overlap(cfg->listen_http, cfg->listen_lmtp))
		report(ld, config_lookup(lc, "listen.lmtp"), "listen.lmtp",
		    "takes the port of listen.http (%s); give each its own",
		    cfg->listen_http);
}

/*
 * Reads a password from the file named by key into *out; the file must be
 * as private as the config.
 */
static void
read_password(struct loader *ld, const config_t *lc, const char *key,
    const char *path, char **out)
{
	char	*problem = NULL, *data = NULL;
	GError	*err = NULL;

	if (cfg_check_secrecy(path, &problem) == -1) {
		report(ld, config_lookup(lc, key), key, "%s", problem);
		g_free(problem);
		return;
	}
	if (!g_file_get_contents(path, &data, NULL, &err)) {
		report(ld, config_lookup(lc, key), key, "cannot be read: %s",
		    err->message);
		g_error_free(err);
		return;
	}
	/* A final newline is how editors end files, not part of it. */
	g_strchomp(data);
	*out = data;
}

static void
check_imap(struct loader *ld, const config_t *lc, struct cfg *cfg)
{
	const config_setting_t	*imap = config_lookup(lc, "imap");

	/* Without a host the group only documents defaults. */
	if (cfg->imap.host == NULL)
		return;
	if (cfg->imap.user == NULL || cfg->imap.password_file == NULL) {
		report(ld, imap, cfg->imap.user == NULL ? "imap.user" :
		    "imap.password_file", "is missing (required with "
		    "imap.host)");
		return;
	}
	read_password(ld, lc, "imap.password_file", cfg->imap.password_file,
	    &cfg->imap.password);
}

/* The providers in order, each once, and Vonage complete when named. */
static void
check_providers(struct loader *ld, const config_t *lc, struct cfg *cfg)
{
	static const char *const needed[] = {
		"application_id", "private_key_file", "api_key", "api_secret",
		"signature_secret", "from",
	};
	struct cfg_vonage	*v = &cfg->vonage;
	const char		*values[G_N_ELEMENTS(needed)];
	char			*key;
	size_t			 i, j;

	for (i = 0; cfg->provider_order[i] != NULL; i++)
		for (j = 0; j < i; j++)
			if (strcmp(cfg->provider_order[i],
			    cfg->provider_order[j]) == 0)
				report(ld, config_lookup(lc, "providers.order"),
				    "providers.order", "\"%s\" is named twice",
				    cfg->provider_order[i]);
	if (cfg->provider_order[0] == NULL)
		report(ld, config_lookup(lc, "providers.order"),
		    "providers.order", "is empty (expected [ \"twilio\" ] or "
		    "[ \"twilio\", \"vonage\" ])");
	if (!g_strv_contains((const char *const *)cfg->provider_order,
	    "vonage"))
		return;
	values[0] = v->application_id;
	values[1] = v->private_key_file;
	values[2] = v->api_key;
	values[3] = v->api_secret;
	values[4] = v->signature_secret;
	values[5] = v->from;
	for (i = 0; i < G_N_ELEMENTS(needed); i++) {
		if (values[i] != NULL)
			continue;
		key = g_strconcat("providers.vonage.", needed[i], NULL);
		report(ld, config_lookup(lc, "providers"), key, "is missing "
		    "(required with \"vonage\" in providers.order)");
		g_free(key);
	}
	if (v->private_key_file != NULL)
		read_password(ld, lc, "providers.vonage.private_key_file",
		    v->private_key_file, &v->private_key);
}

/* Outbound mail needs our address, signed Message-IDs and its texts. */
static void
check_mail(struct loader *ld, const config_t *lc, struct cfg *cfg)
{
	const config_setting_t	*mail = config_lookup(lc, "mail");
	const char		*missing = NULL;

	if ((cfg->mail.relay_user == NULL) !=
	    (cfg->mail.relay_password_file == NULL))
		report(ld, mail, cfg->mail.relay_user == NULL ?
		    "mail.relay_user" : "mail.relay_password_file",
		    "is missing (mail.relay_user and "
		    "mail.relay_password_file go together)");
	else if (cfg->mail.relay_password_file != NULL)
		read_password(ld, lc, "mail.relay_password_file",
		    cfg->mail.relay_password_file, &cfg->mail.relay_password);
	if (cfg->mail.relay == NULL)
		return;
	if (cfg->mail_from == NULL)
		missing = "mail.from";
	else if (cfg->token_key_file == NULL)
		missing = "mail.token_key_file";
	else if (cfg->mail.templates == NULL)
		missing = "mail.templates";
	if (missing != NULL)
		report(ld, mail, missing, "is missing (required with "
		    "mail.relay)");
}

/* Turns the page limits, checked by their format, into numbers. */
static void
load_rates(struct cfg *cfg)
{
	(void)cfg_rate_parse(cfg->page_limit_voice.spec,
	    &cfg->page_limit_voice.count, &cfg->page_limit_voice.window_ms);
	(void)cfg_rate_parse(cfg->page_limit_sms.spec,
	    &cfg->page_limit_sms.count, &cfg->page_limit_sms.window_ms);
}

/* Finds the setting shown as "policies[0].steps[1]" in the file. */
static const config_setting_t *
lookup_shown(const config_t *lc, const char *shown)
{
	const config_setting_t	*s;
	char			**parts, *path;

	parts = g_strsplit(shown, "[", -1);
	path = g_strjoinv(".[", parts);
	s = config_lookup(lc, path);
	g_strfreev(parts);
	g_free(path);
	return s;
}

/* Reports a target naming no rotation or member of the team. */
static void
check_targets(struct loader *ld, const config_t *lc, const struct cfg *cfg,
    const char *key, char **targets)
{
	const char	*t;
	size_t		 i;

	for (i = 0; targets != NULL && targets[i] != NULL; i++) {
		t = targets[i];
		if (strcmp(t, "team") == 0)
			continue;
		if (g_str_has_prefix(t, "rotation:") &&
		    cfg_rotation_by_name(cfg, t + 9) != NULL)
			continue;
		if (!g_str_has_prefix(t, "rotation:") &&
		    cfg_member_by_name(cfg, t) != NULL)
			continue;
		report(ld, lookup_shown(lc, key), key, "\"%s\" names no %s "
		    "(expected \"team\", \"rotation:NAME\" of rotations or a "
		    "name of team)", t, g_str_has_prefix(t, "rotation:") ?
		    "rotation" : "team member");
	}
}

/* Reports a rotation member who is not a name of team. */
static void
check_members(struct loader *ld, const config_t *lc, const struct cfg *cfg,
    const char *key, char **members)
{
	size_t	i;

	for (i = 0; members != NULL && members[i] != NULL; i++)
		if (cfg_member_by_name(cfg, members[i]) == NULL)
			report(ld, lookup_shown(lc, key), key, "\"%s\" is not a "
			    "name of team", members[i]);
}

static void
check_policy(struct loader *ld, const config_t *lc, const struct cfg *cfg,
    size_t index)
{
	const struct cfg_policy	*p = &cfg->policies[index];
	char			*key, *field;
	size_t			 i;

	for (i = 0; i < p->n_steps; i++) {
		key = g_strdup_printf("policies[%zu].steps[%zu]", index, i);
		if (p->steps[i].targets[0] == NULL ||
		    p->steps[i].channels[0] == NULL)
			report(ld, lookup_shown(lc, key), key, "needs "
			    "targets and channels (expected e.g. targets = "
			    "[ \"team\" ]; channels = [ \"voice\", \"sms\" ])");
		field = g_strconcat(key, ".targets", NULL);
		check_targets(ld, lc, cfg, field, p->steps[i].targets);
		g_free(field);
		field = g_strconcat(key, ".channels", NULL);
		if (g_strv_contains((const char *const *)p->steps[i].channels,
		    "email") && cfg->mail.relay == NULL)
			report(ld, lookup_shown(lc, field), field, "\"email\" "
			    "needs mail.relay, which is not set");
		g_free(field);
		g_free(key);
	}
	if (p->n_steps > 0 && p->steps[p->n_steps - 1].delay_ms == 0) {
		key = g_strdup_printf("policies[%zu].steps[%zu]", index,
		    p->n_steps - 1);
		report(ld, lookup_shown(lc, key), key, "delay_minutes of the "
		    "last step is 0, so it would repeat without a pause "
		    "(expected more than 0)");
		g_free(key);
	}
}

/* Appends the policy that sla and escalation.repeat_minutes describe,
 * unless the file defines one of that name. */
static void
add_default_policy(struct cfg *cfg)
{
	struct cfg_policy	*p;

	if (cfg_policy_by_name(cfg, CFG_POLICY_DEFAULT) != NULL)
		return;
	cfg->policies = g_renew(struct cfg_policy, cfg->policies,
	    cfg->n_policies + 1);
	p = &cfg->policies[cfg->n_policies++];
	memset(p, 0, sizeof(*p));
	p->name = g_strdup(CFG_POLICY_DEFAULT);
	p->repeat = 1;
	p->n_steps = 1;
	p->steps = g_new0(struct cfg_step, 1);
	p->steps[0].targets = g_strsplit("team", ",", -1);
	p->steps[0].channels = g_strsplit("voice,sms", ",", -1);
	p->steps[0].delay_ms = cfg->repeat_ms;
}

/* Builds the rotation of rot, reporting what rota_new finds wrong. */
static void
build_rotation(struct loader *ld, const config_t *lc, struct cfg_rotation *rot,
    size_t index)
{
	struct rota_override_spec	*ovr;
	struct rota_spec		 spec;
	GPtrArray			*problems;
	char				*path, **parts;
	size_t				 i;

	problems = g_ptr_array_new_with_free_func(g_free);

	ovr = g_new0(struct rota_override_spec, rot->n_overrides + 1);
	for (i = 0; i < rot->n_overrides; i++)
		ovr[i] = (struct rota_override_spec){ rot->overrides[i].member,
		    rot->overrides[i].from, rot->overrides[i].until };
	spec = (struct rota_spec){ rot->name, rot->time_zone,
	    rot->shift_hours, rot->start, (const char *const *)rot->members,
	    g_strv_length(rot->members), ovr, rot->n_overrides };
	path = g_strdup_printf("rotations[%zu]", index);
	rot->rota = rota_new(&spec, path, problems);
	for (i = 0; i < problems->len; i++) {
		/* "rotations[0].start: problem" */
		parts = g_strsplit(g_ptr_array_index(problems, i), ": ", 2);
		report(ld, lookup_shown(lc, parts[0]), parts[0], "%s",
		    parts[1] != NULL ? parts[1] : "");
		g_strfreev(parts);
	}
	g_ptr_array_free(problems, TRUE);
	g_free(path);
	g_free(ovr);
}

/* Rotations, policies and severities refer to each other by name. */
static void
check_escalation(struct loader *ld, const config_t *lc, struct cfg *cfg)
{
	struct cfg_severity_rule	*rule;
	char				*key;
	size_t				 i, j;
	int				 sev;

	for (i = 0; i < cfg->n_rotations; i++) {
		build_rotation(ld, lc, &cfg->rotations[i], i);
		key = g_strdup_printf("rotations[%zu].members", i);
		check_members(ld, lc, cfg, key, cfg->rotations[i].members);
		g_free(key);
		for (j = 0; j < cfg->rotations[i].n_overrides; j++) {
			key = g_strdup_printf("rotations[%zu].overrides[%zu]"
			    ".member", i, j);
			if (cfg_member_by_name(cfg,
			    cfg->rotations[i].overrides[j].member) == NULL)
				report(ld, lookup_shown(lc, key), key, "\"%s\" "
				    "is not a name of team",
				    cfg->rotations[i].overrides[j].member);
			g_free(key);
		}
	}
	for (i = 0; i < cfg->n_policies; i++)
		check_policy(ld, lc, cfg, i);
	add_default_policy(cfg);
	for (sev = 0; sev < CFG_SEVERITY_COUNT; sev++) {
		rule = &cfg->severities[sev];
		key = g_strdup_printf("severities.%s.policy",
		    cfg_severity_name(sev));
		if (rule->policy != NULL &&
		    cfg_policy_by_name(cfg, rule->policy) == NULL)
			report(ld, lookup_shown(lc, key), key, "\"%s\" is not "
			    "a name of policies", rule->policy);
		g_free(key);
		key = g_strdup_printf("severities.%s.breach_targets",
		    cfg_severity_name(sev));
		check_targets(ld, lc, cfg, key, rule->breach_targets);
		if (rule->ack_ms > 0)
			cfg->ack_deadline_ms[sev] = rule->ack_ms;
		g_free(key);
	}
}

/* Checks between keys and of the files the config names. */
static void
cross_check(struct loader *ld, const config_t *lc, struct cfg *cfg)
{
	load_rates(cfg);
	if (cfg->token_key_file != NULL)
		load_token_key(ld, lc, cfg);
	check_listen(ld, lc, cfg);
	check_tls(ld, lc, cfg);
	check_imap(ld, lc, cfg);
	check_mail(ld, lc, cfg);
	check_providers(ld, lc, cfg);
	check_escalation(ld, lc, cfg);
}

/* libconfig reads files included ten deep at most (tried with 1.5). */
#define CFG_INCLUDE_DEPTH	10

/*
 * Tells whether the file at path can be parsed: a regular file of
 * CFG_FILE_MAX bytes at most.  A missing one is left to libconfig, which
 * reports the line that names it.
 */
static bool
file_is_parseable(struct loader *ld, const char *path)
{
	struct stat	st;

	if (stat(path, &st) == -1)
		return true;
	if (!S_ISREG(st.st_mode))
		g_ptr_array_add(ld->errors, g_strdup_printf("%s: cannot be "
		    "read (expected a regular file)", path));
	else if (st.st_size > CFG_FILE_MAX)
		g_ptr_array_add(ld->errors, g_strdup_printf("%s: %jd bytes, "
		    "more than the %d a config file may have", path,
		    (intmax_t)st.st_size, CFG_FILE_MAX));
	else
		return true;
	ld->n_errors++;
	return false;
}

/*
 * Checks the file at path and the files it includes, at any depth, and
 * adds the names of those to files, each once.  Returns whether every one
 * can be parsed.
 */
static bool
collect_includes(struct loader *ld, const char *path, int depth,
    GPtrArray *files)
{
	char	**lines, **names;
	bool	  is_ok = true;
	size_t	  i;

	if (!file_is_parseable(ld, path))
		return false;
	if (depth == CFG_INCLUDE_DEPTH)
		return true;
	lines = read_lines(path);
	names = find_includes(lines);
	free_lines(lines);
	for (i = 0; names[i] != NULL; i++) {
		if (g_ptr_array_find_with_equal_func(files, names[i],
		    g_str_equal, NULL))
			continue;
		g_ptr_array_add(files, g_strdup(names[i]));
		is_ok = collect_includes(ld, names[i], depth + 1, files) &&
		    is_ok;
	}
	g_strfreev(names);
	return is_ok;
}

struct cfg *
cfg_load(const char *path, GPtrArray *errors)
{
	struct loader	 ld = { .path = path, .errors = errors };
	struct cfg	*cfg = NULL;
	GPtrArray	*includes = g_ptr_array_new_with_free_func(g_free);
	config_t	 lc;

	config_init(&lc);
	if (!collect_includes(&ld, path, 0, includes))
		goto out;
	if (config_read_file(&lc, path) == CONFIG_FALSE) {
		report_read_error(&ld, &lc);
		goto out;
	}

	ld.lines = read_lines(path);
	cfg = g_new0(struct cfg, 1);
	cfg->holds = 1;
	cfg->path = g_strdup(path);
	g_ptr_array_add(includes, NULL);
	cfg->includes = (char **)g_ptr_array_free(includes, FALSE);
	includes = NULL;
	load_group(&ld, config_root_setting(&lc), "", "", (char *)cfg);
	if (ld.n_errors == 0)
		cross_check(&ld, &lc, cfg);
	if (ld.n_errors > 0) {
		cfg_free(cfg);
		cfg = NULL;
	}
out:
	if (includes != NULL)
		g_ptr_array_free(includes, TRUE);
	free_lines(ld.lines);
	wipe_parsed_secrets(&lc);
	config_destroy(&lc);
	return cfg;
}

/* Frees the strings and lists of the group named by pattern in base. */
static void
release_group(const char *pattern, char *base)
{
	const struct cfg_key	*k;
	char			**field, *elems, *elem_pattern;
	size_t			 i, j, n;

	for (i = 0; i < cfg_n_keys; i++) {
		k = &cfg_keys[i];
		if (key_leaf(k, pattern) == NULL)
			continue;
		if (k->type == CFG_KEY_GROUP) {
			release_group(k->path, base);
		} else if (k->type == CFG_KEY_STRING) {
			field = (char **)(base + k->offset);
			if (*field != NULL && (k->flags & CFG_KEY_SECRET) != 0)
				explicit_bzero(*field, strlen(*field));
			g_free(*field);
			*field = NULL;
		} else if (k->type == CFG_KEY_STRINGS) {
			g_strfreev(*(char ***)(base + k->offset));
			*(char ***)(base + k->offset) = NULL;
		} else if (k->type == CFG_KEY_INTS) {
			g_free(*(int64_t **)(base + k->offset));
			*(int64_t **)(base + k->offset) = NULL;
		} else if (k->type == CFG_KEY_LIST) {
			elems = *(char **)(base + k->offset);
			n = *(size_t *)(base + k->count_offset);
			elem_pattern = g_strconcat(k->path, "[]", NULL);
			for (j = 0; j < n; j++)
				release_group(elem_pattern,
				    elems + j * k->elem_size);
			g_free(elem_pattern);
			g_free(elems);
			*(char **)(base + k->offset) = NULL;
			*(size_t *)(base + k->count_offset) = 0;
		}
	}
}

const struct cfg *
cfg_hold(const struct cfg *cfg)
{
	g_atomic_int_inc(&((struct cfg *)cfg)->holds);
	return cfg;
}

void
cfg_release(const struct cfg *cfg)
{
	if (cfg != NULL && g_atomic_int_dec_and_test(&((struct cfg *)cfg)->
	    holds))
		cfg_free((struct cfg *)cfg);
}

void
cfg_free(struct cfg *cfg)
{
	size_t	i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->n_rotations; i++)
		rota_free(cfg->rotations[i].rota);
	release_group("", (char *)cfg);
	if (cfg->token_key != NULL)
		explicit_bzero(cfg->token_key, cfg->token_key_len);
	if (cfg->imap.password != NULL)
		explicit_bzero(cfg->imap.password, strlen(cfg->imap.password));
	g_free(cfg->imap.password);
	if (cfg->mail.relay_password != NULL)
		explicit_bzero(cfg->mail.relay_password,
		    strlen(cfg->mail.relay_password));
	g_free(cfg->mail.relay_password);
	if (cfg->vonage.private_key != NULL)
		explicit_bzero(cfg->vonage.private_key,
		    strlen(cfg->vonage.private_key));
	g_free(cfg->vonage.private_key);
	g_free(cfg->token_key);
	g_strfreev(cfg->includes);
	g_free(cfg->path);
	g_free(cfg);
}

int
cfg_rate_parse(const char *s, int64_t *count, int64_t *window_ms)
{
	static const struct {
		char	unit;
		int64_t	ms;
	} units[] = { { 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 } };
	const char	*slash;
	char		*digits;
	guint64		 n, w;
	size_t		 i, len;
	bool		 is_ok;

	slash = s != NULL ? strchr(s, '/') : NULL;
	len = strlen(s != NULL ? s : "");
	if (slash == NULL || slash == s || len < (size_t)(slash - s) + 3)
		return -1;
	for (i = 0; i < G_N_ELEMENTS(units); i++)
		if (s[len - 1] == units[i].unit)
			break;
	if (i == G_N_ELEMENTS(units))
		return -1;
	digits = g_strndup(s, (size_t)(slash - s));
	is_ok = g_ascii_string_to_unsigned(digits, 10, 1, CFG_RATE_COUNT_MAX,
	    &n, NULL) && g_ascii_isdigit(digits[0]);
	g_free(digits);
	digits = g_strndup(slash + 1, len - (size_t)(slash - s) - 2);
	is_ok = is_ok && g_ascii_isdigit(digits[0]) &&
	    g_ascii_string_to_unsigned(digits, 10, 1, (guint64)
	    (CFG_RATE_WINDOW_MAX_MS / units[i].ms), &w, NULL);
	g_free(digits);
	if (!is_ok)
		return -1;
	*count = (int64_t)n;
	*window_ms = (int64_t)w * units[i].ms;
	return 0;
}

int
cfg_check_secrecy(const char *path, char **problem)
{
	struct stat	st;

	*problem = NULL;
	if (stat(path, &st) == -1) {
		*problem = g_strdup_printf("%s cannot be checked: %s", path,
		    g_strerror(errno));
		return -1;
	}
	if (st.st_uid != getuid()) {
		*problem = g_strdup_printf("%s is owned by uid %u, not by uid "
		    "%u that runs critgate; it holds provider secrets: chown "
		    "it", path, (unsigned int)st.st_uid,
		    (unsigned int)getuid());
		return -1;
	}
	if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
		*problem = g_strdup_printf("%s is readable by group or others "
		    "(mode %04o); it holds provider secrets: chmod 600 it",
		    path, (unsigned int)(st.st_mode & 07777));
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		*problem = g_strdup_printf("%s is open to group or others "
		    "(mode %04o); it holds provider secrets: chmod 600 it",
		    path, (unsigned int)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int
cfg_check_files_secrecy(const struct cfg *cfg, char **problem)
{
	size_t	i;

	if (cfg_check_secrecy(cfg->path, problem) == -1)
		return -1;
	for (i = 0; cfg->includes != NULL && cfg->includes[i] != NULL; i++)
		if (cfg_check_secrecy(cfg->includes[i], problem) == -1)
			return -1;
	return 0;
}

const struct cfg_route *
cfg_route_find(const struct cfg *cfg, const char *address)
{
	size_t	i;

	for (i = 0; i < cfg->n_routes; i++)
		if (g_ascii_strcasecmp(cfg->routes[i].address, address) == 0)
			return &cfg->routes[i];
	return NULL;
}

const struct cfg_member *
cfg_member_by_name(const struct cfg *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->n_team; i++)
		if (strcmp(cfg->team[i].name, name) == 0)
			return &cfg->team[i];
	return NULL;
}

const struct cfg_policy *
cfg_policy_by_name(const struct cfg *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->n_policies; i++)
		if (strcmp(cfg->policies[i].name, name) == 0)
			return &cfg->policies[i];
	return NULL;
}

const struct cfg_policy *
cfg_policy_of(const struct cfg *cfg, enum cfg_severity severity)
{
	const struct cfg_policy	*p = NULL;

	if (cfg->severities[severity].policy != NULL)
		p = cfg_policy_by_name(cfg, cfg->severities[severity].policy);
	return p != NULL ? p : cfg_policy_by_name(cfg, CFG_POLICY_DEFAULT);
}

const struct cfg_rotation *
cfg_rotation_by_name(const struct cfg *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->n_rotations; i++)
		if (strcmp(cfg->rotations[i].name, name) == 0)
			return &cfg->rotations[i];
	return NULL;
}

const struct cfg_member *
cfg_member_by_phone(const struct cfg *cfg, const char *phone)
{
	size_t	i;

	for (i = 0; i < cfg->n_team; i++)
		if (cfg->team[i].phone != NULL &&
		    strcmp(cfg->team[i].phone, phone) == 0)
			return &cfg->team[i];
	return NULL;
}

static const char *const severity_names[CFG_SEVERITY_COUNT] = {
	[CFG_SEVERITY_CRITICAL] = "critical",
	[CFG_SEVERITY_HIGH] = "high",
};

const char *
cfg_severity_name(enum cfg_severity severity)
{
	if ((unsigned int)severity >= CFG_SEVERITY_COUNT)
		return "unknown";
	return severity_names[severity];
}

int
cfg_severity_parse(const char *name, enum cfg_severity *out)
{
	int	i;

	for (i = 0; i < CFG_SEVERITY_COUNT; i++) {
		if (strcmp(name, severity_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

bool
cfg_is_e164(const char *s)
{
	size_t	digits;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	digits = strlen(s + 1);
	return digits >= 8 && digits <= 15 &&
	    strspn(s + 1, "0123456789") == digits;
}
