/*
 * diag.h - assertions in two tiers.
 *
 * UVFS_VERIFY(cond)  cheap checks, on in every build but release (NDEBUG):
 *                    reference counts going negative, illegal state
 *                    transitions.  Aborts with file and line.
 * UVFS_DIAG(cond)    expensive invariant checks (walks, lock ownership),
 *                    only in the diagnostic build (-Ddiagnostic=true).
 * ALWAYS(x)/NEVER(x) mark branches that cannot happen but are handled:
 *                    they abort in diagnostic builds and are plain
 *                    conditions otherwise.
 */
#ifndef UVFS_DIAG_H
#define UVFS_DIAG_H

#include <stdio.h>
#include <stdlib.h>

void uvfs_panic(const char *file, int line, const char *what)
	__attribute__((noreturn));

#ifdef NDEBUG
#define UVFS_VERIFY(cond) ((void)sizeof(cond)) /* unevaluated, still "used" */
#else
#define UVFS_VERIFY(cond) \
	((cond) ? (void)0 : uvfs_panic(__FILE__, __LINE__, #cond))
#endif

#ifdef UVFS_DIAGNOSTIC
#define UVFS_DIAG(cond) \
	((cond) ? (void)0 : uvfs_panic(__FILE__, __LINE__, #cond))
#define ALWAYS(x) ((x) ? 1 : (uvfs_panic(__FILE__, __LINE__, #x), 0))
#define NEVER(x) ((x) ? (uvfs_panic(__FILE__, __LINE__, #x), 1) : 0)
#else
#define UVFS_DIAG(cond) ((void)0)
#define ALWAYS(x) (x)
#define NEVER(x) (x)
#endif

#endif /* UVFS_DIAG_H */
