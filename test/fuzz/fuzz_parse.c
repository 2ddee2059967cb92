/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the parse stage: every input is parsed as a raw
 * message and the result released, so the sanitizers see each decoder.
 * Built and run by test/fuzz/run_fuzz.sh.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool		 is_ready;
	struct parse_result	 result;

	/* Info lines per input would slow the run and bury the findings. */
	if (!is_ready) {
		log_init(LOG_WARNING);
		is_ready = true;
	}
	(void)parse_message(data, size, &result);
	parse_result_fini(&result);
	return 0;
}
