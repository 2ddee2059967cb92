/* SPDX-License-Identifier: ISC */
/*
 * The cfg stage: reads the libconfig file an admin edits, checks every key
 * against one table (type, bounds, default, secret or not), and builds one
 * struct cfg that the other stages read and never change.
 */
#ifndef CRITGATE_CFG_H
#define CRITGATE_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

enum cfg_severity {
	CFG_SEVERITY_CRITICAL,
	CFG_SEVERITY_HIGH,
	CFG_SEVERITY_COUNT
};

struct cfg_route {
	char			*address;	/* lowercase */
	enum cfg_severity	 severity;
};

struct cfg_member {
	char	*name;		/* short login-like name, unique */
	char	*full_name;
	char	*phone;		/* E.164, "+" and 8 to 15 digits, or NULL */
	char	*email;
};

struct cfg_twilio {
	char	*api_base;	/* no trailing slash */
	char	*account_sid;
	char	*auth_token;	/* secret */
	char	*from;		/* E.164 */
	int64_t	 timeout_ms;	/* whole request, connect included */
};

/* The IMAP mailbox critgate polls; host is NULL when none is set. */
struct cfg_imap {
	char	*host;
	int64_t	 port;
	char	*security;	/* "tls", "starttls" or "none" */
	char	*ca_file;	/* PEM CAs trusted besides the system's,
				 * or NULL */
	char	*user;
	char	*password_file;
	char	*password;	/* secret, read from password_file */
	char	*mailbox;
	char	*after_commit;	/* "seen" or "move:FOLDER" */
	int64_t	 poll_ms;	/* when the server lacks IDLE */
};

struct rota;

/* A time range in which another member is on call. */
struct cfg_override {
	char	*member;
	char	*from;		/* as written: local to the zone, or RFC 3339 */
	char	*until;
};

/* Members on call in turn, each for one shift. */
struct cfg_rotation {
	char			*name;
	char			*time_zone;	/* e.g. "Europe/Berlin" */
	int64_t			 shift_hours;
	char			*start;		/* as written */
	char			**members;	/* NULL-terminated */
	struct cfg_override	*overrides;
	size_t			 n_overrides;
	struct rota		*rota;		/* built from the above */
};

/* Who one escalation step pages, how, and how long until the next. */
struct cfg_step {
	char	**targets;	/* "team", "rotation:NAME", "NAME" */
	char	**channels;	/* "voice", "sms", "email" */
	int64_t	 delay_ms;
};

struct cfg_policy {
	char		*name;
	struct cfg_step	*steps;
	size_t		 n_steps;
	int64_t		 repeat;	/* passes over the steps */
	bool		 multi_ack;
};

/* What a severity promises and whom it pages. */
struct cfg_severity_rule {
	char		*policy;	/* or NULL: the default policy */
	int64_t		 ack_ms;	/* 0: from sla */
	char		**breach_targets;	/* NULL-terminated */
	int64_t		*breach_percents;	/* ascending */
	size_t		 n_breach_percents;
};

/* The name of the policy built from sla and escalation.repeat_minutes. */
#define CFG_POLICY_DEFAULT	"default"

/* Outbound mail and acknowledgement by email; relay is NULL when critgate
 * sends no mail. */
struct cfg_mail {
	char	*relay;		/* smtp://host[:port] or smtps://... */
	char	*relay_user;	/* AUTH when set */
	char	*relay_password_file;
	char	*relay_password; /* secret, read from relay_password_file */
	char	*authserv_id;	/* trusted_authserv_id, or NULL */
	char	**trusted_relays; /* IP addresses, NULL-terminated */
	char	**ack_words;	/* lowercase, NULL-terminated */
	int64_t	 confirmations_per_hour; /* per reporter */
	char	*templates;	/* folder of the mail texts */
	int64_t	 timeout_ms;	/* one relay transaction */
};

/* Vonage, the second phone provider; api_key is NULL when not set. */
struct cfg_vonage {
	char	*api_base;		/* SMS API, no trailing slash */
	char	*voice_api_base;	/* Voice API */
	char	*application_id;
	char	*private_key_file;	/* PEM, for the Voice API's JWT */
	char	*private_key;		/* secret, read from the file */
	char	*api_key;
	char	*api_secret;		/* secret */
	char	*signature_secret;	/* secret, for webhook signatures */
	char	*signature_method;	/* "md5hash", "sha256", ... */
	char	*from;			/* E.164 */
	int64_t	 timeout_ms;
};

/* At most count requests per member and channel within window_ms. */
struct cfg_rate {
	char	*spec;		/* "N/Wu" as written, u one of s, m, h */
	int64_t	 count;
	int64_t	 window_ms;
};

struct cfg {
	int			 holds;		/* cfg_load gives the first */
	char			*path;
	char			*listen_smtp;	/* "host:port" */
	char			*listen_http;	/* "host:port" */
	char			*listen_lmtp;	/* "host:port", "unix:/path"
						 * or NULL */
	char			*public_url;	/* no trailing slash */
	char			*store_path;
	char			*hostname;	/* our name in SMTP replies */
	int64_t			 max_message_bytes;
	int64_t			 smtp_idle_timeout_ms;
	int64_t			 smtp_session_timeout_ms;
	int64_t			 max_recipients;
	int64_t			 max_connections;
	int64_t			 max_connections_per_client;
	int64_t			 max_errors_per_session;
	int64_t			 max_text_line;	/* bytes of a DATA line */
	int64_t			 shutdown_timeout_ms;	/* for messages being
							 * received at a stop */
	char			*tls_cert_file;	/* PEM, or NULL: no STARTTLS */
	char			*tls_key_file;
	bool			 tls_require;	/* MAIL only after STARTTLS */
	struct cfg_route	*routes;
	size_t			 n_routes;
	int64_t			 ack_deadline_ms[CFG_SEVERITY_COUNT];
	int64_t			 fix_due_ms;	/* after the root-cause
						 * analysis: sla.fix_days */
	int64_t			 repeat_ms;	/* escalation.repeat_minutes */
	int64_t			 resend_unknown_ms; /* escalation.
						     * resend_unknown_seconds,
						     * 0: never */
	struct cfg_member	*team;
	size_t			 n_team;
	struct cfg_twilio	 twilio;
	struct cfg_rate		 page_limit_voice; /* page_limits.voice */
	struct cfg_rate		 page_limit_sms;   /* page_limits.sms */
	int64_t			 dedup_window_ms; /* dedup.window_minutes */
	int64_t			 storm_window_ms; /* dedup.storm_minutes, 0:
						   * off */
	char			*mail_domain;	/* ids: <token@gw.DOMAIN> */
	char			*mail_from;	/* our address, or NULL */
	char			*token_key_file; /* or NULL: tokens unsigned */
	uint8_t			*token_key;	/* secret, read from the file */
	size_t			 token_key_len;
	struct cfg_imap		 imap;
	struct cfg_mail		 mail;
	struct cfg_rotation	*rotations;
	size_t			 n_rotations;
	/* Those of the file, then CFG_POLICY_DEFAULT unless the file
	 * defines one of that name. */
	struct cfg_policy	*policies;
	size_t			 n_policies;
	struct cfg_severity_rule severities[CFG_SEVERITY_COUNT];
	char			**provider_order; /* "twilio", "vonage" */
	int64_t			 circuit_cool_ms; /* providers.
						   * cool_down_seconds */
	char			**includes;	/* files named by @include,
						 * at any depth,
						 * NULL-terminated */
	struct cfg_vonage	 vonage;
	int64_t			 bundle_ms;	/* page_limits.bundle_seconds */
};

#define CFG_TOKEN_KEY_MIN	32	/* bytes of HMAC key at least */
/*
 * The size of a config file, and of each file it includes, at most.  The
 * parse takes time that grows with the square of a line's length (0.3 s
 * for one line of 1 MB, 1.3 s for 2 MB, measured on the development
 * machine), and a reload stalls the daemon meanwhile.
 */
#define CFG_FILE_MAX		(1024 * 1024)

/*
 * Reads and checks the file at path.  Returns a new cfg (caller frees with
 * cfg_free) or NULL, in which case every problem found has been appended to
 * errors as a newly allocated "file:line: key: problem" string (the array
 * should own its elements with g_free).  Does not log.
 */
struct cfg	*cfg_load(const char *path, GPtrArray *errors);

/* Frees cfg and wipes its secrets; cfg_free(NULL) does nothing. */
void		 cfg_free(struct cfg *cfg);
/*
 * Take and let go of a hold on a loaded cfg, from any thread.  Whatever
 * keeps cfg past a reload takes a hold, and the last release frees it.
 * cfg_hold returns cfg; cfg_release(NULL) does nothing.
 */
const struct cfg *cfg_hold(const struct cfg *cfg);
void		 cfg_release(const struct cfg *cfg);

/*
 * Checks that the file at path is owned by the current user and closed to
 * group and others, as it holds provider secrets.  Returns 0, or -1 with a
 * message in *problem (caller frees with g_free).
 */
int		 cfg_check_secrecy(const char *path, char **problem);

/*
 * Like cfg_check_secrecy, for the config file and every file it includes:
 * a secret may sit in any of them.
 */
int		 cfg_check_files_secrecy(const struct cfg *cfg,
		    char **problem);

/* Returns the route for an address (compared without case), or NULL. */
const struct cfg_route	*cfg_route_find(const struct cfg *cfg,
			    const char *address);

/* Return the member with that name or E.164 phone number, or NULL. */
const struct cfg_member	*cfg_member_by_name(const struct cfg *cfg,
			    const char *name);
const struct cfg_member	*cfg_member_by_phone(const struct cfg *cfg,
			    const char *phone);

/* Returns the policy named name, or NULL. */
const struct cfg_policy	*cfg_policy_by_name(const struct cfg *cfg,
			    const char *name);
/* Returns the policy of a severity: its named one, else the default. */
const struct cfg_policy	*cfg_policy_of(const struct cfg *cfg,
			    enum cfg_severity severity);
const struct cfg_rotation *cfg_rotation_by_name(const struct cfg *cfg,
			    const char *name);

/* Returns "critical" or "high". */
const char	*cfg_severity_name(enum cfg_severity severity);

/* Parses "critical" or "high"; returns 0, or -1 for any other name. */
int		 cfg_severity_parse(const char *name, enum cfg_severity *out);

/*
 * Parses a rate "N/Wu": N from 1 to CFG_RATE_COUNT_MAX requests in W
 * seconds (u "s"), minutes ("m") or hours ("h"), the window from 1 s to
 * CFG_RATE_WINDOW_MAX_MS.  Returns 0, or -1 for anything else.
 */
int		 cfg_rate_parse(const char *s, int64_t *count,
		    int64_t *window_ms);

#define CFG_RATE_COUNT_MAX	1000
#define CFG_RATE_WINDOW_MAX_MS	(INT64_C(7) * 24 * 3600 * 1000)

/* Tells whether s is an E.164 number: "+", a nonzero digit, 8 to 15 digits. */
bool		 cfg_is_e164(const char *s);

#endif
