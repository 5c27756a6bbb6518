/* commands.h - the xvm CLI command table: one entry per top-level verb. */
#ifndef XVM_CMD_COMMANDS_H
#define XVM_CMD_COMMANDS_H

struct command {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the verb */
	const char *summary;
};

/* Each returns the process exit status. */
int cmd_run(int argc, char **argv);     /* cmd/run.c */
int cmd_store(int argc, char **argv);   /* cmd/store.c */
int cmd_image(int argc, char **argv);   /* cmd/image.c */
int cmd_config_check(int argc, char **argv); /* cmd/cfgcheck.c */
int cmd_version(int argc, char **argv); /* cmd/main.c */
int cmd_help(int argc, char **argv);    /* cmd/main.c */

/* xl verbs, thin clients of the xvmd API */
int cmd_create(int argc, char **argv);      /* cmd/domain.c */
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_shutdown(int argc, char **argv);
int cmd_reboot(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_unpause(int argc, char **argv);
int cmd_rename(int argc, char **argv);
int cmd_uptime(int argc, char **argv);
int cmd_vcpu_list(int argc, char **argv);
int cmd_dmesg(int argc, char **argv);
int cmd_block_attach(int argc, char **argv);   /* cmd/device.c */
int cmd_block_detach(int argc, char **argv);
int cmd_block_list(int argc, char **argv);
int cmd_network_attach(int argc, char **argv);
int cmd_network_detach(int argc, char **argv);
int cmd_network_list(int argc, char **argv);
int cmd_console(int argc, char **argv);     /* cmd/console.c */
int cmd_top(int argc, char **argv);         /* cmd/top.c */

/* Attach the terminal to DOMAIN's console until Ctrl-] (cmd/console.c);
 * returns the exit status. */
int console_attach(const char *domain);

/* true when argv holds -h or --help before any "--" */
int cmd_wants_help(int argc, char **argv);

/* Print "xvm: VERB: <msg> (see 'xvm VERB --help')" and return 1. */
int cmd_usage_error(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct option;
/* getopt_long for a verb (argv[0] is the verb; permutation off, so options
 * come before operands). Returns the option, -1 at the end, or '?' after
 * printing a one-line error for an unknown option or a missing argument. */
int cmd_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

#endif
