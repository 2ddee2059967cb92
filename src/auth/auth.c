/* SPDX-License-Identifier: ISC */
/*
 * The auth stage's decision.  Behind a trusted relay, the topmost
 * Authentication-Results header naming the trusted authserv-id decides
 * (RFC 8601 section 5: that relay removed any earlier ones naming it).
 * From any other peer, headers naming that id are forged and never read;
 * critgate then checks SPF and DKIM itself.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <string.h>

#include <glib.h>
#include <libpsl.h>

#include "auth.h"
#include "auth_priv.h"

#define AR_HEADER	"Authentication-Results"
#define DKIM_HEADER	"DKIM-Signature"

/* An address as 16 bytes; IPv4 and v4-mapped IPv6 are both 4 bytes long. */
struct ip_addr {
	uint8_t	bytes[16];
	size_t	len;
};

const char *
auth_addr_domain(const char *addr)
{
	const char	*at;

	if (addr == NULL)
		return NULL;
	at = strrchr(addr, '@');
	if (at == NULL || at[1] == '\0')
		return NULL;
	return at + 1;
}

/* Returns d lowercased without one trailing dot; caller frees. */
static char *
domain_normalise(const char *d)
{
	char	*s = g_ascii_strdown(d, -1);
	size_t	 len = strlen(s);

	if (len > 0 && s[len - 1] == '.')
		s[len - 1] = '\0';
	return s;
}

/*
 * Returns the public suffix list: the newer of the one built into libpsl
 * and the one a package installed (Debian's publicsuffix).
 */
static const psl_ctx_t *
public_suffixes(void)
{
	static gsize		 once;
	static psl_ctx_t	*psl;

	if (g_once_init_enter(&once)) {
		psl = psl_latest(NULL);
		g_once_init_leave(&once, 1);
	}
	return psl;
}

/*
 * Returns the organisational domain of the normalised domain d (RFC 7489
 * section 3.2): its public suffix and one more label, or d itself when d
 * is a public suffix or no list could be loaded.
 */
static const char *
organisational_domain(const char *d)
{
	const psl_ctx_t	*psl = public_suffixes();
	const char	*registrable;

	if (psl == NULL)
		return d;
	registrable = psl_registrable_domain(psl, d);
	return registrable != NULL ? registrable : d;
}

/*
 * Tells whether the normalised domain d is a host name: labels of 1 to 63
 * letters, digits, hyphens or underscores, 253 bytes at most.  The public
 * suffix list would map "evil..example.com" to "example.com".
 */
static bool
domain_is_valid(const char *d)
{
	size_t		 label = 0, len = strlen(d);
	const char	*p;

	if (len == 0 || len > 253)
		return false;
	for (p = d; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (g_ascii_isalnum(*p) || *p == '-' || *p == '_') {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return label > 0;
}

/* Relaxed alignment: a and b share their organisational domain. */
bool
auth_domain_is_aligned(const char *a, const char *b)
{
	char	*na;
	char	*nb;
	bool	 is_aligned = false;

	if (a == NULL || b == NULL)
		return false;
	na = domain_normalise(a);
	nb = domain_normalise(b);
	if (domain_is_valid(na) && domain_is_valid(nb))
		is_aligned = strcmp(organisational_domain(na),
		    organisational_domain(nb)) == 0;
	g_free(na);
	g_free(nb);
	return is_aligned;
}

static bool
ip_addr_parse(const char *s, struct ip_addr *out)
{
	static const uint8_t	mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->len = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, out->bytes) != 1)
		return false;
	out->len = 16;
	if (memcmp(out->bytes, mapped, sizeof(mapped)) == 0) {
		memmove(out->bytes, out->bytes + 12, 4);
		out->len = 4;
	}
	return true;
}

static bool
is_trusted_relay(const struct auth_settings *s, const char *peer)
{
	struct ip_addr	peer_ip;
	struct ip_addr	relay_ip;
	size_t		i;

	if (s->authserv_id == NULL || *s->authserv_id == '\0' ||
	    peer == NULL || !ip_addr_parse(peer, &peer_ip))
		return false;
	for (i = 0; i < s->n_trusted_relays; i++) {
		if (s->trusted_relays[i] == NULL ||
		    !ip_addr_parse(s->trusted_relays[i], &relay_ip))
			continue;
		if (relay_ip.len == peer_ip.len &&
		    memcmp(relay_ip.bytes, peer_ip.bytes, peer_ip.len) == 0)
			return true;
	}
	return false;
}

/* Returns the length of the line at p, up to and including its LF. */
static size_t
line_length(const uint8_t *p, const uint8_t *end)
{
	const uint8_t	*lf = memchr(p, '\n', end - p);

	return lf != NULL ? (size_t)(lf - p) + 1 : (size_t)(end - p);
}

static bool
is_blank_line(const uint8_t *p, size_t len)
{
	return len == 0 || p[0] == '\n' || (p[0] == '\r' && len > 1 &&
	    p[1] == '\n');
}

/* Returns the value after "name:" when line starts that header, or NULL. */
static const uint8_t *
header_value(const uint8_t *line, size_t len, const char *name)
{
	size_t	n = strlen(name);
	size_t	i = n;

	if (len <= n || g_ascii_strncasecmp((const char *)line, name, n) != 0)
		return NULL;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':' ? line + i + 1 : NULL;
}

/*
 * Appends to values, top to bottom, the value of every header called name
 * in raw's header block, with its continuation lines and line breaks kept
 * (auth_results_parse unfolds them).
 */
static void
headers_collect(const uint8_t *raw, size_t len, const char *name,
    GPtrArray *values)
{
	const uint8_t	*p = raw;
	const uint8_t	*end = raw + len;
	const uint8_t	*value;
	GString		*s = NULL;
	size_t		 n;

	for (; p < end && !is_blank_line(p, end - p); p += n) {
		n = line_length(p, end);
		if (s != NULL && (p[0] == ' ' || p[0] == '\t')) {
			g_string_append_len(s, (const char *)p, n);
			continue;
		}
		if (s != NULL)
			g_ptr_array_add(values, g_string_free(s, FALSE));
		s = NULL;
		value = header_value(p, n, name);
		if (value != NULL)
			s = g_string_new_len((const char *)value,
			    n - (value - p));
	}
	if (s != NULL)
		g_ptr_array_add(values, g_string_free(s, FALSE));
}

/* Strips the final line break that each collected value keeps. */
static void
value_chomp(char *value)
{
	size_t	len = strlen(value);

	while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r'))
		value[--len] = '\0';
}

static void
decide(struct auth_result *out, const char *method, char *reason)
{
	out->is_authenticated = method != NULL;
	g_free(out->method);
	out->method = g_strdup(method);
	g_free(out->reason);
	out->reason = reason;
}

/* Returns the domain a property value names: after its '@', or itself. */
static const char *
prop_domain(const char *value)
{
	const char	*domain;

	if (value == NULL || *value == '\0')
		return NULL;
	domain = auth_addr_domain(value);
	if (domain != NULL)
		return domain;
	return strchr(value, '@') == NULL ? value : NULL;
}

/* Returns the domain a spf or dkim result is about, borrowed, or NULL. */
static const char *
method_domain(const struct auth_results_method *m)
{
	const char	*d;

	if (strcmp(m->method, "spf") == 0)
		return prop_domain(auth_results_prop_find(m, "smtp",
		    "mailfrom"));
	if (strcmp(m->method, "dkim") != 0)
		return NULL;
	d = auth_results_prop_find(m, "header", "d");
	if (d != NULL && *d != '\0')
		return d;
	return prop_domain(auth_results_prop_find(m, "header", "i"));
}

/*
 * Decides from one parsed header.  Only spf and dkim results count; other
 * methods (iprev, arc, dmarc, auth, ...) are skipped.
 */
static void
judge_header(const struct auth_results_header *h, const char *from_domain,
    struct auth_result *out)
{
	const struct auth_results_method	*m;
	const char				*domain;
	GString					*seen = g_string_new(NULL);
	size_t					 i;

	for (i = 0; i < h->n_methods; i++) {
		m = &h->methods[i];
		if (strcmp(m->method, "spf") != 0 &&
		    strcmp(m->method, "dkim") != 0)
			continue;
		domain = method_domain(m);
		if (strcmp(m->result, "pass") == 0 &&
		    auth_domain_is_aligned(domain, from_domain)) {
			decide(out, m->method, g_strdup_printf("%s=pass for %s "
			    "from %s", m->method, domain, h->authserv_id));
			g_string_free(seen, TRUE);
			return;
		}
		g_string_append_printf(seen, "%s%s=%s for %s",
		    seen->len > 0 ? ", " : "", m->method, m->result,
		    domain != NULL ? domain : "(no domain)");
	}
	if (h->n_methods == 0)
		g_string_printf(seen, "none");
	else if (seen->len == 0)
		g_string_printf(seen, "no spf or dkim result");
	decide(out, NULL, g_strdup_printf("%s from %s, From domain %s",
	    seen->str, h->authserv_id, from_domain));
	g_string_free(seen, TRUE);
}

static bool
is_our_header(const struct auth_results_header *h, const char *id)
{
	return h->authserv_id != NULL &&
	    g_ascii_strcasecmp(h->authserv_id, id) == 0;
}

static void
check_relay(const struct auth_settings *s, const struct auth_input *in,
    const char *from_domain, struct auth_result *out)
{
	GPtrArray			*values;
	struct auth_results_header	 h;
	int				 rc;
	guint				 i;

	values = g_ptr_array_new_with_free_func(g_free);
	headers_collect(in->raw, in->raw_len, AR_HEADER, values);
	decide(out, NULL, g_strdup_printf("no Authentication-Results from %s",
	    s->authserv_id));
	for (i = 0; i < values->len; i++) {
		value_chomp(values->pdata[i]);
		rc = auth_results_parse(values->pdata[i], &h);
		if (!is_our_header(&h, s->authserv_id)) {
			auth_results_header_fini(&h);
			continue;
		}
		if (rc == -1)
			decide(out, NULL, g_strdup_printf("malformed "
			    "Authentication-Results from %s", s->authserv_id));
		else
			judge_header(&h, from_domain, out);
		auth_results_header_fini(&h);
		break;
	}
	g_ptr_array_unref(values);
}

/*
 * Counts the headers naming the trusted authserv-id; from a peer that is
 * not a trusted relay they are forged, and their results are never used.
 */
static guint
count_forged(const struct auth_settings *s, const struct auth_input *in)
{
	GPtrArray			*values;
	struct auth_results_header	 h;
	guint				 n = 0;
	guint				 i;

	values = g_ptr_array_new_with_free_func(g_free);
	if (s->authserv_id == NULL || *s->authserv_id == '\0')
		goto out;
	headers_collect(in->raw, in->raw_len, AR_HEADER, values);
	for (i = 0; i < values->len; i++) {
		value_chomp(values->pdata[i]);
		(void)auth_results_parse(values->pdata[i], &h);
		if (is_our_header(&h, s->authserv_id))
			n++;
		auth_results_header_fini(&h);
	}
out:
	g_ptr_array_unref(values);
	return n;
}

static bool
has_header(const struct auth_input *in, const char *name)
{
	GPtrArray	*values = g_ptr_array_new_with_free_func(g_free);
	bool		 is_present;

	headers_collect(in->raw, in->raw_len, name, values);
	is_present = values->len > 0;
	g_ptr_array_unref(values);
	return is_present;
}

static char *
own_reason(bool is_forged, const struct auth_own_check *spf,
    const struct auth_own_check *dkim)
{
	GString	*s = g_string_new(NULL);

	if (is_forged)
		g_string_append(s, "forged Authentication-Results ignored; ");
	if (spf->is_pass)
		g_string_append(s, spf->summary);
	else if (dkim->is_pass)
		g_string_append(s, dkim->summary);
	else
		g_string_append_printf(s, "%s; %s", spf->summary,
		    dkim->summary);
	return g_string_free(s, FALSE);
}

static int
check_own(const struct auth_settings *s, const struct auth_input *in,
    const struct auth_dns *dns, const char *from_domain,
    struct auth_result *out)
{
	struct auth_own_check	 spf;
	struct auth_own_check	 dkim = { 0 };
	const char		*method = NULL;
	int			 rc;

	rc = auth_own_spf(in, dns, from_domain, &spf);
	if (spf.is_pass) {
		method = "spf";
	} else if (has_header(in, DKIM_HEADER)) {
		if (auth_own_dkim(in, dns, s->dns_timeout_s, from_domain,
		    &dkim) == -1)
			rc = -1;
		if (dkim.is_pass)
			method = "dkim";
	} else {
		dkim.summary = g_strdup("no DKIM-Signature");
	}
	decide(out, method, own_reason(count_forged(s, in) > 0, &spf,
	    &dkim));
	g_free(spf.summary);
	g_free(dkim.summary);
	return method != NULL ? 0 : rc;
}

int
auth_check(const struct auth_settings *settings, const struct auth_input *in,
    const struct auth_dns *dns, struct auth_result *out)
{
	const char	*from_domain;

	memset(out, 0, sizeof(*out));
	if (settings == NULL || in == NULL || in->raw == NULL ||
	    in->from_addr == NULL) {
		decide(out, NULL, g_strdup("missing input"));
		return -1;
	}
	from_domain = auth_addr_domain(in->from_addr);
	if (from_domain == NULL) {
		decide(out, NULL, g_strdup("From address has no domain"));
		return 0;
	}
	out->is_trusted_relay = is_trusted_relay(settings, in->peer_addr);
	if (out->is_trusted_relay) {
		check_relay(settings, in, from_domain, out);
		return 0;
	}
	return check_own(settings, in, dns, from_domain, out);
}

void
auth_result_fini(struct auth_result *result)
{
	g_free(result->method);
	g_free(result->reason);
	memset(result, 0, sizeof(*result));
}
