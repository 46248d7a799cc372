/*
 * session_i.h - what the two halves of a session share (private to
 * lib/remote: session.h is the contract).  session.c owns the tags, the
 * read role and the reader thread, the waits, cancels and probes, loss
 * and kill; session_send.c owns the sending half: the timed locks
 * (serial_busy, wbusy) and the writing of whole messages.
 */
#ifndef UVFS_REMOTE_SESSION_I_H
#define UVFS_REMOTE_SESSION_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "session.h"

/* Takes *busy (one of c's timed locks) by the deadline (NULL: now or
 * not at all): 0, -ETIMEDOUT (-EAGAIN without a deadline), or -EIO once
 * the connection is dead.  *gen (if not NULL): the session it was taken
 * in. */
int rs_tlock_take(struct rs_session *c, bool *busy, const struct timespec *dl,
		  uint64_t *gen);
void rs_tlock_give(struct rs_session *c, bool *busy);

/* Writes one whole message of session gen by the deadline.  0;
 * -ETIMEDOUT if nothing was written (the caller may give up cleanly);
 * -EIO if the connection is dead, died here (a message cut in the middle
 * loses the framing), or is in another session now.  nowait: -EAGAIN
 * (nothing written) rather than wait for another writer or for room in
 * the link before the first byte. */
int rs_send_msg(struct rs_session *c, const void *buf, size_t len,
		const struct timespec *dl, uint64_t gen, bool nowait);

#endif /* UVFS_REMOTE_SESSION_I_H */
