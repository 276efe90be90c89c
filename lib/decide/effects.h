/*
 * effects.h: what a decision did, for the glue to carry out after it.
 *
 * A decision of lib/ (a grant, a revocation, a login) changes the store
 * inside its transaction and says here what else must follow once that
 * transaction has committed: cached answers a revocation takes back, an
 * attempt to count toward ApiAuthFailureLimit, credentials issued.  It
 * never calls into httpd itself -- so nothing of httpd runs inside a
 * transaction, and what a rolled-back transaction said is dropped with
 * it (apiauth_effects_rollback).  The glue applies the list in order
 * (mod_apiauth's apiauth_services_t.apply); metrics will read it too.
 */
#ifndef APIAUTH_EFFECTS_H
#define APIAUTH_EFFECTS_H

#include <apr_tables.h>

#include "apiauth.h"
#include "credential.h"

typedef enum {
    /* Something revoked here: `what` "grant" (a family: every token of
     * it), "token" (one access token, by jti) or "credential" (a session
     * or key, by id); `until` is when the last answer it takes back
     * would have expired anyway. */
    APIAUTH_EFFECT_REVOKED = 1,
    /* The credential as this request presented it resolves no more: its
     * cached answers go at once (the cache knows how it is keyed). */
    APIAUTH_EFFECT_FORGET,
    /* A refused attempt that a guesser would make -- a wrong client
     * secret, code, refresh token, password, session: it counts toward
     * the address's ApiAuthFailureLimit.  `what` says which. */
    APIAUTH_EFFECT_REFUSED,
    /* Credentials issued: `what` the grant type or the kind, `id` the
     * client or the credential. */
    APIAUTH_EFFECT_ISSUED
} apiauth_effect_kind_t;

typedef struct apiauth_effect {
    apiauth_effect_kind_t kind;
    const char *what;
    const char *id;
    apr_int64_t until;
    apiauth_credential_t presented;       /* APIAUTH_EFFECT_FORGET */
} apiauth_effect_t;

typedef struct apiauth_effects {
    apr_pool_t *pool;
    apr_array_header_t *list;             /* apiauth_effect_t, in order */
} apiauth_effects_t;

void apiauth_effects_init(apiauth_effects_t *fx, apr_pool_t *p);

/* Each takes fx NULL (nobody listens) and copies what it is given. */
void apiauth_effect_revoked(apiauth_effects_t *fx, const char *what,
                            const char *id, apr_int64_t until);
void apiauth_effect_forget(apiauth_effects_t *fx,
                           const apiauth_credential_t *presented);
void apiauth_effect_refused(apiauth_effects_t *fx, const char *what);
void apiauth_effect_issued(apiauth_effects_t *fx, const char *what,
                           const char *id);

/* Where the list stands before a transaction, and dropping what was added
 * since when it rolls back. */
int apiauth_effects_mark(const apiauth_effects_t *fx);
void apiauth_effects_rollback(apiauth_effects_t *fx, int mark);

/* How many effects of `kind` the list holds (tests, and the glue's "did
 * anything get revoked"). */
int apiauth_effects_count(const apiauth_effects_t *fx,
                          apiauth_effect_kind_t kind);

#endif
