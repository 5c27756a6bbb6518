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

/* true when argv holds -h or --help before any "--" */
int cmd_wants_help(int argc, char **argv);

#endif
