/*
 * apiauth_claims.c: the DPoP proofs this node has taken, each remembered
 * until it could no longer pass (its iat plus the window), so that it
 * passes once (RFC 9449 §11.1).
 *
 * Not in the socache: shmcb makes room for a new entry by dropping the
 * oldest, live or not, so whoever sends enough fresh proofs (a public
 * client needs nothing more than its client_id at the token endpoint)
 * could push out the memory of a proof they copied, then replay it.  Here
 * a proof is kept in a table of its own in shared memory until it
 * expires, and a proof that finds no free slot is refused instead: a full
 * table fails closed (AA10093), it never forgets.
 *
 * The table is open addressing over ApiAuthDPoPReplaySlots slots (a power
 * of two), probed linearly for at most PROBE slots, under the
 * apiauth-claims mutex.  A slot is never emptied again, only reused once
 * expired, so a probe that meets an empty slot has passed every live
 * entry of its key.  Keys are the first 16 bytes of the proof's digest.
 *
 * A graceful restart starts a new table (as it starts a new socache):
 * with ApiAuthSharedStore the proofs are claimed in memcached instead, and
 * survive it.
 */
#include <string.h>

#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <util_mutex.h>

#include "apiauth_private.h"

#define KEY_BYTES 16
#define PROBE 128

typedef struct claim_slot {
    unsigned char key[KEY_BYTES];
    apr_int64_t until;            /* 0: never used */
} claim_slot_t;

static const char *const claims_mutex_id = "apiauth-claims";
static int slots_configured;       /* ApiAuthDPoPReplaySlots, 0: default */
static apr_uint32_t mask;          /* slots - 1 */
static claim_slot_t *table;
static apr_global_mutex_t *claims_mutex;
static apr_time_t full_logged;     /* per child: one log line in 10 s */

#if APR_HAS_PROC_PTHREAD_SERIALIZE
#define CLAIMS_MUTEX_TYPE APR_LOCK_PROC_PTHREAD
#else
#define CLAIMS_MUTEX_TYPE APR_LOCK_DEFAULT
#endif

const char *apiauth_claims_set_slots(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    apr_int64_t n;

    if (err) {
        return err;
    }
    n = apr_strtoi64(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || n < APIAUTH_MIN_DPOP_SLOTS
        || n > APIAUTH_MAX_DPOP_SLOTS || (n & (n - 1)) != 0) {
        return apr_psprintf(cmd->pool, "ApiAuthDPoPReplaySlots: '%s' is not "
                            "a power of two from %d to %d", arg,
                            APIAUTH_MIN_DPOP_SLOTS, APIAUTH_MAX_DPOP_SLOTS);
    }
    slots_configured = (int)n;
    return NULL;
}

int apiauth_claims_pre_config(apr_pool_t *pconf, apr_pool_t *plog)
{
    apr_status_t rv = ap_mutex_register(pconf, claims_mutex_id, NULL,
                                        CLAIMS_MUTEX_TYPE, 0);

    if (rv != APR_SUCCESS) {
        ap_log_perror(APLOG_MARK, APLOG_CRIT, rv, plog, AALOGNO(10094)
                      "cannot register the %s mutex", claims_mutex_id);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    slots_configured = 0;
    table = NULL;
    claims_mutex = NULL;
    return OK;
}

/* Anonymous shared memory comes zeroed, and untouched pages cost no
 * memory: a table is only as resident as it is used. */
int apiauth_claims_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_uint32_t slots = slots_configured ? (apr_uint32_t)slots_configured
                                          : APIAUTH_DEFAULT_DPOP_SLOTS;
    apr_shm_t *shm;
    apr_status_t rv;

    if (apiauth_shared_configured()) {
        return OK;                 /* claimed in memcached */
    }
    rv = apr_shm_create(&shm, sizeof(claim_slot_t) * slots, NULL, pconf);
    if (rv == APR_SUCCESS) {
        rv = ap_global_mutex_create(&claims_mutex, NULL, claims_mutex_id,
                                    NULL, s, pconf, 0);
    }
    if (rv != APR_SUCCESS) {
        /* DPoP proofs are then refused, one by one, saying why */
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AALOGNO(10095)
                     "no shared memory or mutex to remember DPoP proofs "
                     "in: every proof will be refused");
        table = NULL;
        return OK;
    }
    table = apr_shm_baseaddr_get(shm);
    mask = slots - 1;
    return OK;
}

void apiauth_claims_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (claims_mutex == NULL) {
        return;
    }
    rv = apr_global_mutex_child_init(&claims_mutex,
                                     apr_global_mutex_lockfile(claims_mutex),
                                     p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AALOGNO(10096)
                     "cannot attach the %s mutex in this process: DPoP "
                     "proofs will be refused here", claims_mutex_id);
        table = NULL;
    }
}

int apiauth_claims_take(request_rec *r, const unsigned char *key,
                        apr_size_t len, apr_int64_t until)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    claim_slot_t *free_slot = NULL;
    apr_uint32_t at, i;
    int found = 0;

    if (table == NULL || len < KEY_BYTES) {
        return -1;
    }
    /* the key is a digest: its first bytes are as good as any hash */
    at = ((apr_uint32_t)key[0] << 24 | (apr_uint32_t)key[1] << 16
          | (apr_uint32_t)key[2] << 8 | key[3]) & mask;
    if (apr_global_mutex_lock(claims_mutex) != APR_SUCCESS) {
        return -1;
    }
    for (i = 0; i < PROBE && i <= mask; i++) {
        claim_slot_t *s = &table[(at + i) & mask];

        if (s->until == 0) {
            free_slot = free_slot ? free_slot : s;
            break;
        }
        if (s->until >= now) {
            if (memcmp(s->key, key, KEY_BYTES) == 0) {
                found = 1;
                break;
            }
        }
        else if (free_slot == NULL) {
            free_slot = s;
        }
    }
    if (!found && free_slot) {
        memcpy(free_slot->key, key, KEY_BYTES);
        free_slot->until = until;
    }
    apr_global_mutex_unlock(claims_mutex);
    if (found) {
        return 0;
    }
    if (free_slot == NULL) {
        if (r->request_time - full_logged > apr_time_from_sec(10)) {
            full_logged = r->request_time;
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10093)
                          "DPoP proofs: no free slot to remember this one "
                          "in (ApiAuthDPoPReplaySlots %u): refused, as every "
                          "proof will be until older ones expire",
                          (unsigned)mask + 1);
        }
        return -1;
    }
    return 1;
}
