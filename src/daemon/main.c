/* SPDX-License-Identifier: ISC */
/*
 * critgate's entry point: one binary, git-style subcommands.  "serve" runs
 * the daemon; the others read the store or the config and exit.
 */
#include <stdio.h>
#include <string.h>

#include "daemon.h"

static const struct {
	const char	*name;
	int		 (*run)(int argc, char **argv);
	const char	*usage;
} commands[] = {
	{ "serve", daemon_serve_main,
	  "serve [--verbose]                   run the gateway" },
	{ "check-config", daemon_cli_check_config,
	  "check-config                        validate a config file" },
	{ "incidents", daemon_cli_incidents,
	  "incidents [--json] [--limit N]      list the latest incidents" },
	{ "messages", daemon_cli_messages,
	  "messages [--json] [--limit N]       list messages and their class" },
	{ "show", daemon_cli_show,
	  "show N [--json]                     print one incident's timeline" },
	{ "report", daemon_cli_report,
	  "report [--json]                     time to acknowledge per "
	  "severity, fixes due" },
	{ "status", daemon_cli_status,
	  "status [--json]                     phone providers' health and "
	  "circuits" },
	{ "ack", daemon_cli_ack,
	  "ack N --by NAME                     acknowledge incident N" },
	{ "resolve", daemon_cli_resolve,
	  "resolve N --by NAME                 resolve incident N" },
	{ "analysed", daemon_cli_analysed,
	  "analysed N --by NAME                record incident N's root "
	  "cause as found" },
	{ "fixed", daemon_cli_fixed,
	  "fixed N --by NAME                   record incident N's fix as "
	  "deployed" },
	{ "oncall", daemon_cli_oncall,
	  "oncall [--at TIME] [--json]         who is on call in each "
	  "rotation" },
	{ "reload", daemon_cli_reload,
	  "reload                              check the config, then have "
	  "the daemon reread it" },
	{ "notify", daemon_cli_notify,
	  "notify N --message-file FILE        mail a status update to "
	  "incident N's reporters" },
	{ "parse", daemon_parse_main,
	  "parse FILE.eml [--json]             show how a message is read" },
	{ "deliver", daemon_deliver_main,
	  "deliver --sender S --recipient R    store one message from "
	  "standard input" },
};

static void
usage(FILE *out)
{
	size_t	i;

	fprintf(out, "usage: critgate COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(out, "  %s\n", commands[i].usage);
	fprintf(out, "\nEvery command takes --config FILE.  The config file "
	    "defaults to $CRITGATE_CONFIG,\nthen %s.\n", DAEMON_CFG_DEFAULT);
}

int
main(int argc, char **argv)
{
	size_t	i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("critgate %s\n", CRITGATE_VERSION);
		return 0;
	}
	for (i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "critgate: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
