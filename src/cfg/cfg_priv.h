/* SPDX-License-Identifier: ISC */
/*
 * The cfg stage's key table: one entry per key of the config file, which
 * cfg_load() walks to read, check and default every value, and cfg_free()
 * walks to release them.  The tests read it to check that the annotated
 * sample config sets every key.
 */
#ifndef CRITGATE_CFG_PRIV_H
#define CRITGATE_CFG_PRIV_H

#include <stddef.h>
#include <stdint.h>

enum cfg_key_type {
	CFG_KEY_GROUP,		/* { ... }, children share the parent's base */
	CFG_KEY_LIST,		/* ( { ... }, ... ), one C struct per element */
	CFG_KEY_STRING,		/* char *, copied and normalized */
	CFG_KEY_SEVERITY,	/* "critical" or "high", into an enum */
	CFG_KEY_INT,		/* integer, int64_t = value * scale */
	CFG_KEY_FLOAT,		/* integer or float, int64_t = value * scale */
	CFG_KEY_BOOL,		/* true or false, into a bool */
	CFG_KEY_STRINGS,	/* [ "...", ... ], a NULL-terminated char ** */
	CFG_KEY_INTS,		/* [ 1, 2 ], an int64_t * and its count */
	CFG_KEY_TYPE_COUNT
};

/* The syntax that a string value must have. */
enum cfg_format {
	CFG_FORMAT_TEXT,	/* any non-empty string */
	CFG_FORMAT_HOSTPORT,	/* host:port or [IPv6]:port */
	CFG_FORMAT_HOSTNAME,
	CFG_FORMAT_URL,		/* http:// or https://, trailing "/" removed */
	CFG_FORMAT_EMAIL,	/* local@domain, lowercased */
	CFG_FORMAT_E164,
	CFG_FORMAT_NAME,	/* [a-z0-9._-]+ */
	CFG_FORMAT_SID,		/* "AC" and 32 hex digits */
	CFG_FORMAT_TOKEN,	/* 16+ printable characters, no spaces */
	CFG_FORMAT_LISTEN,	/* host:port, [IPv6]:port or unix:/path */
	CFG_FORMAT_SECURITY,	/* "tls", "starttls" or "none" */
	CFG_FORMAT_AFTER_COMMIT, /* "seen" or "move:FOLDER" */
	CFG_FORMAT_RATE,	/* "N/Wu": N requests in W s, m or h */
	CFG_FORMAT_RELAY,	/* smtp://host[:port] or smtps://host[:port] */
	CFG_FORMAT_IP,		/* an IPv4 or IPv6 address */
	CFG_FORMAT_WORDS,	/* printable text, lowercased */
	CFG_FORMAT_TARGET,	/* "team", "rotation:NAME" or a member name */
	CFG_FORMAT_CHANNEL,	/* "voice", "sms" or "email" */
	CFG_FORMAT_PROVIDER,	/* "twilio" or "vonage" */
	CFG_FORMAT_SIG_METHOD,	/* a Vonage SMS signature method */
	CFG_FORMAT_ZONE,	/* a zone of the system's zoneinfo */
	CFG_FORMAT_COUNT
};

#define CFG_KEY_REQUIRED	0x01	/* no default: missing is an error */
#define CFG_KEY_SECRET		0x02	/* never in messages, wiped on free */
#define CFG_KEY_UNIQUE		0x04	/* no two list elements may share it */
#define CFG_KEY_RESTART		0x08	/* for reload, nothing reads it yet */
#define CFG_KEY_EMPTY_UNSET	0x10	/* "" means the same as leaving it out */

struct cfg_key {
	/*
	 * Dotted path from the top of the file; "[]" stands for every element
	 * of a list, as in "team[].phone".
	 */
	const char		*path;
	enum cfg_key_type	 type;
	unsigned int		 flags;
	enum cfg_format		 format;	/* strings */
	double			 min;		/* numbers, in the key's unit */
	double			 max;		/* numbers, in the key's unit */
	double			 def_number;	/* numbers */
	const char		*def_string;	/* strings; NULL: see def_fn */
	const char		*(*def_fn)(void); /* computed default */
	const char *const	*def_strings;	/* CFG_KEY_STRINGS, or NULL */
	int64_t			 scale;		/* key's unit to stored unit */
	size_t			 offset;	/* in struct cfg or element */
	size_t			 count_offset;	/* lists, ints: the size_t
						 * count */
	size_t			 elem_size;	/* lists: one element's size */
	size_t			 min_elems;	/* lists */
};

extern const struct cfg_key	cfg_keys[];
extern const size_t		cfg_n_keys;

#endif
