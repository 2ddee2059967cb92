/* SPDX-License-Identifier: ISC */
/*
 * A minimal TAP producer for critgate's C tests: one "ok"/"not ok" line per
 * case, with the file, line and both values of a failed check as comments.
 *
 *	static void
 *	data_bare_lf_rejected(void)
 *	{
 *		CHECK_STR(reply, "550 5.5.2 ...");
 *	}
 *	...
 *	int main(void) { TAP_RUN(data_bare_lf_rejected); return tap_done(); }
 */
#ifndef CRITGATE_TAP_H
#define CRITGATE_TAP_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int	tap_count;
static int	tap_failed;
static bool	tap_case_failed;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		printf("# %s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		tap_case_failed = true;					\
	}								\
} while (0)

#define CHECK_INT(got, want) do {					\
	long long tap_got_ = (long long)(got);				\
	long long tap_want_ = (long long)(want);			\
	if (tap_got_ != tap_want_) {					\
		printf("# %s:%d: %s is %lld, expected %lld\n",		\
		    __FILE__, __LINE__, #got, tap_got_, tap_want_);	\
		tap_case_failed = true;					\
	}								\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *tap_got_ = (got);					\
	const char *tap_want_ = (want);					\
	if (tap_got_ == NULL || tap_want_ == NULL ?			\
	    tap_got_ != tap_want_ : strcmp(tap_got_, tap_want_) != 0) {	\
		printf("# %s:%d: %s is \"%s\", expected \"%s\"\n",	\
		    __FILE__, __LINE__, #got,				\
		    tap_got_ ? tap_got_ : "(null)",			\
		    tap_want_ ? tap_want_ : "(null)");			\
		tap_case_failed = true;					\
	}								\
} while (0)

/* Checks that the string got contains want. */
#define CHECK_CONTAINS(got, want) do {					\
	const char *tap_got_ = (got);					\
	const char *tap_want_ = (want);					\
	if (tap_got_ == NULL || strstr(tap_got_, tap_want_) == NULL) {	\
		printf("# %s:%d: %s is \"%s\", expected it to contain "	\
		    "\"%s\"\n", __FILE__, __LINE__, #got,		\
		    tap_got_ ? tap_got_ : "(null)", tap_want_);		\
		tap_case_failed = true;					\
	}								\
} while (0)

#define TAP_RUN(fn) do {						\
	tap_case_failed = false;					\
	fn();								\
	tap_count++;							\
	if (tap_case_failed)						\
		tap_failed++;						\
	printf("%s %d - %s\n", tap_case_failed ? "not ok" : "ok",	\
	    tap_count, #fn);						\
	fflush(stdout);							\
} while (0)

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed == 0 ? 0 : 1;
}

#endif
