/*
 * cli.h - what the files of the uvfs command line share: a daemon and
 * its answer (struct target, struct reply: daemon.c), and the printers
 * of show.c, which turn answers into text for people or one JSON
 * document (json.h) for scripts.
 */
#ifndef UVFS_CLI_H
#define UVFS_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "ctl.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

/* One answer of uvfsd: "ok" or "error ERRNO MESSAGE", then records.  All
 * pointers point into buf, which the reply owns (reply_free). */
struct reply {
	int err;                 /* 0 for "ok", else the errno */
	char *msg;
	char **lines;            /* the records, raw (still %-escaped) */
	size_t n;
	char *buf;
};

/* ---- daemon.c ---- */

/* -S SOCKET and -m MOUNTPOINT of the command line (uvfs.c), or NULL. */
extern const char *opt_socket, *opt_mount;

/* A daemon and a path in its namespace. */
struct target {
	char mnt[PATH_MAX];      /* the FUSE mount point */
	char sock[PATH_MAX];
	char ns[PATH_MAX];       /* the path in the namespace */
	bool check_owner;        /* sock came from the mount: its peer must
				  * be the mount's owner */
	uid_t owner;             /* the mount's user_id= (the kernel's) */
};

/* The daemon and namespace path of path (inside a uvfsd mount; -S, if
 * given, names the socket instead).  => 0, or -1 (no uvfsd mount holds
 * it). */
int daemon_resolve(const char *path, struct target *t);
/* The daemon for commands without a path (-m, -S, the working
 * directory's, the only one).  => 0, or an exit status (message
 * printed). */
int daemon_pick(struct target *t);
/* One request (req, without its newline) and its answer.  => 0, or -1
 * (cannot reach it, or its answer is refused: message printed). */
int daemon_request(const struct target *t, struct sbuf *req,
		   struct reply *r);
void reply_free(struct reply *r);

/* ---- show.c ---- */

/* Turns the control bytes of s (below 0x20, and 0x7f) into '?' in place,
 * as ls -q and ps do: a file name or a process's comm, which any user
 * may choose, must not move the terminal's cursor or forge lines in the
 * text printed for people.  (--raw and --json escape them instead.) */
void cli_visible(char *s);

/* Holders of a mount (the records of a "holders" or busy "umount"
 * answer).  Left out unless verbose: the daemon's own (its process,
 * daemon_pid, 0 if unknown, is always; its contexts, records with own=1,
 * and its handles) and the kernel's node references, which do not block
 * an unmount.  A process is one line: what it holds, with a count of its
 * open files; verbose lists every file.  => the number of holders shown
 * (lines, when out is NULL nothing is printed).  The JSON form leaves the
 * daemon's own holders out the same way, and marks each holder "own". */
int show_holders(FILE *out, const struct reply *r, pid_t daemon_pid,
		 bool verbose);
void show_holders_json(const struct reply *r, const char *target,
		       pid_t daemon_pid, bool verbose);

/* `uvfs mounts`, findmnt's way: a tree by default, columns chosen with
 * -o, --raw, -n, filters -t TYPES and -S SOURCE. */
struct mounts_opts {
	const char *columns;    /* NULL: TARGET,SOURCE,FSTYPE,STATE,OPTIONS */
	const char *types;      /* comma-separated, or NULL */
	const char *source;     /* or NULL */
	bool raw, noheadings, ascii, json;
};
/* => 0, or 2 with a message (an unknown column). */
int show_mounts(const struct reply *r, const struct mounts_opts *o);
bool show_column_known(const char *columns);

void show_stats(const struct reply *r, bool json);
/* Records of any kind as JSON objects: each value typed by its key (see
 * docs/json.md); for servers and anything without a printer of its own. */
void show_records_json(const struct reply *r, const char *command,
		       const char *kind, const char *array);

#endif
