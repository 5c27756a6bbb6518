/* console.h - where the guest console goes: stdio, a file, or a pty.
 *
 * Spec syntax (the --console option): "stdio" (default; raw mode when stdin
 * is a terminal, Ctrl-] stops the guest), "file:PATH" (output only, file
 * created or truncated), "pty" (a new pseudo-terminal; its path is printed
 * on stderr), "null" (output discarded). */
#ifndef XVM_CONSOLE_H
#define XVM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <termios.h>

struct serial;
struct vm;

#define CONSOLE_ESCAPE 0x1d /* Ctrl-] */

struct console {
	int out_fd, in_fd;      /* in_fd -1: no input */
	bool own_out, own_in;   /* close on console_close */
	bool raw;               /* stdin terminal switched to raw mode */
	struct termios saved;
	int stop_fd;            /* eventfd that ends the input thread */
	pthread_t thread;
	bool thread_started;
	struct serial *serial;
	struct vm *vm;
	char pty_path[64];
};

/* Check spec's syntax without opening anything: 0 or -EINVAL (logged). */
int console_check_spec(const char *spec);
/* Parse spec and open the backend. Returns 0 or -errno after logging one
 * line ("--console: unknown kind 'x'", "cannot create PATH: ..."). */
int console_open(struct console *c, const char *spec);
/* Start forwarding input to the serial port. 0 or -errno. */
int console_start(struct console *c, struct vm *vm, struct serial *s);
/* Stop the input thread, restore the terminal, close what it owns. */
void console_close(struct console *c);

#endif
