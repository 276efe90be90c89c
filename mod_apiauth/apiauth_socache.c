/*
 * apiauth_socache.c: the socache the module keeps its state in, and what
 * it does there.
 *
 * shmcb unless ApiAuthCacheSOCache names another (memcache or redis, to
 * share it between nodes); without any, caching, revocation markers and
 * failure counts are off.  Every access is under the apiauth-cache mutex
 * where the provider needs one (shmcb).  What is kept there is
 * apiauth_cache.c's (credential entries, revocation markers) and
 * apiauth_limit.c's (failure counts).
 *
 * Under shmcb, which no other node writes, there is also a count of the
 * changes made that can take an answer back (an entry deleted, a
 * revocation marker written), in shared memory that every child sees.  A
 * keep-alive connection's memo (apiauth_memo.c) of what the cache said
 * last time is good without asking again for as long as the count has
 * not moved.  Across nodes the count would not see the other nodes'
 * changes, so there it does not exist and every request asks.
 */
#include <stdlib.h>

#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <ap_socache.h>
#include <http_core.h>
#include <util_mutex.h>

#include "apiauth_private.h"

static const char *const cache_mutex_id = "apiauth-cache";
static ap_socache_provider_t *socache_provider;
static ap_socache_instance_t *socache_instance;
static apr_global_mutex_t *cache_mutex;
static int socache_configured;          /* set by ApiAuthCacheSOCache */
static apr_uint32_t *changes;           /* the change count, NULL if none */

/* ------------------------------------------------------------------ */
/* Configuration time                                                  */
/* ------------------------------------------------------------------ */

const char *apiauth_socache_set(cmd_parms *cmd, void *dummy,
                                const char *arg)
{
    const char *errmsg = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *sep, *name;

    if (errmsg) {
        return errmsg;
    }
    sep = ap_strchr_c(arg, ':');
    name = sep ? apr_pstrmemdup(cmd->pool, arg, sep - arg) : arg;
    socache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                          AP_SOCACHE_PROVIDER_VERSION);
    if (socache_provider == NULL) {
        return apr_psprintf(cmd->pool, "ApiAuthCacheSOCache: unknown socache "
                            "provider '%s' (load mod_socache_%s?)", name,
                            name);
    }
    errmsg = socache_provider->create(&socache_instance, sep ? sep + 1 : NULL,
                                      cmd->temp_pool, cmd->pool);
    if (errmsg) {
        return apr_psprintf(cmd->pool, "ApiAuthCacheSOCache: %s", errmsg);
    }
    socache_configured = 1;
    return NULL;
}

/* The cache is read under this mutex on every authenticated request: a
 * process-shared pthread mutex takes no system call when uncontended,
 * where APR's default here (fcntl) takes two per lookup.  "Mutex
 * <mechanism> apiauth-cache" (or a server-wide "Mutex ... default")
 * chooses another. */
#if APR_HAS_PROC_PTHREAD_SERIALIZE
#define CACHE_MUTEX_TYPE APR_LOCK_PROC_PTHREAD
#else
#define CACHE_MUTEX_TYPE APR_LOCK_DEFAULT
#endif

int apiauth_socache_pre_config(apr_pool_t *pconf, apr_pool_t *plog)
{
    apr_status_t rv = ap_mutex_register(pconf, cache_mutex_id, NULL,
                                        CACHE_MUTEX_TYPE, 0);

    if (rv != APR_SUCCESS) {
        ap_log_perror(APLOG_MARK, APLOG_CRIT, rv, plog, AALOGNO(10040)
                      "cannot register the %s mutex", cache_mutex_id);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    socache_provider = NULL;
    socache_instance = NULL;
    cache_mutex = NULL;
    socache_configured = 0;
    changes = NULL;
    return OK;
}

static apr_status_t cache_cleanup(void *data)
{
    if (socache_instance) {
        socache_provider->destroy(socache_instance, data);
        socache_instance = NULL;
    }
    if (cache_mutex) {
        apr_global_mutex_destroy(cache_mutex);
        cache_mutex = NULL;
    }
    changes = NULL;      /* the segment goes with the pool */
    return APR_SUCCESS;
}

/* The change count, in anonymous shared memory that every child
 * inherits.  Without it nothing is wrong, every request just asks. */
static void create_change_count(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv = apr_shm_create(&shm, sizeof(*changes), NULL, pconf);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, rv, s, AALOGNO(10048)
                     "no shared memory for the cache's change count: "
                     "every cached answer is looked up again");
        return;
    }
    changes = apr_shm_baseaddr_get(shm);
    apr_atomic_set32(changes, 0);
}

int apiauth_socache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                server_rec *s)
{
    static struct ap_socache_hints hints = {32, 256, 60 * APR_USEC_PER_SEC};
    const char *errmsg;
    apr_status_t rv;

    if (!socache_configured) {
        socache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP,
                                              AP_SOCACHE_DEFAULT_PROVIDER,
                                              AP_SOCACHE_PROVIDER_VERSION);
        if (socache_provider == NULL) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, AALOGNO(10041)
                         "no socache provider (load mod_socache_shmcb or "
                         "set ApiAuthCacheSOCache): credentials are "
                         "looked up on every request");
            return OK;
        }
        errmsg = socache_provider->create(&socache_instance, NULL, ptemp,
                                          pconf);
        if (errmsg) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10042)
                         "cannot create the credential cache: %s", errmsg);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (socache_provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&cache_mutex, NULL, cache_mutex_id, NULL,
                                    s, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AALOGNO(10043)
                         "cannot create the %s mutex", cache_mutex_id);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    rv = socache_provider->init(socache_instance, cache_mutex_id, &hints, s,
                                pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AALOGNO(10044)
                     "cannot initialise the credential cache");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, s, cache_cleanup, apr_pool_cleanup_null);
    /* shmcb, by name or as the "default" one: no other node writes it */
    if (socache_provider == ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP,
                                               "shmcb",
                                               AP_SOCACHE_PROVIDER_VERSION)) {
        create_change_count(pconf, s);
    }
    return OK;
}

void apiauth_socache_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (cache_mutex == NULL) {
        return;
    }
    rv = apr_global_mutex_child_init(&cache_mutex,
                                     apr_global_mutex_lockfile(cache_mutex),
                                     p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AALOGNO(10045)
                     "cannot attach to the %s mutex: caching is off in "
                     "this process", cache_mutex_id);
        socache_instance = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* Request time                                                        */
/* ------------------------------------------------------------------ */

/* 0 when held (or no mutex is needed); 1 when another process holds it
 * and we would rather not wait (mod_authn_socache's choice: a lookup
 * or an entry to cache is skipped, never a request stalled); -1 when it
 * cannot be had. */
static int lock(request_rec *r, int wait)
{
    apr_status_t rv;

    if (cache_mutex == NULL) {
        return 0;
    }
    if (!wait) {
        rv = apr_global_mutex_trylock(cache_mutex);
        if (APR_STATUS_IS_EBUSY(rv)) {
            return 1;
        }
        if (rv == APR_SUCCESS) {
            return 0;
        }
        /* a mechanism without trylock: wait after all */
    }
    rv = apr_global_mutex_lock(cache_mutex);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, AALOGNO(10046)
                      "cannot lock the credential cache");
        return -1;
    }
    return 0;
}

static void unlock(void)
{
    if (cache_mutex) {
        apr_global_mutex_unlock(cache_mutex);
    }
}

/* The three things done with the socache, each under its mutex (shmcb
 * needs one; memcache and redis do not).  A key is a credential's digest
 * (APIAUTH_DIGEST_LEN bytes) or the text naming a revocation marker or a
 * failure counter, which are no secrets and need no hashing (a digest is
 * never equal to one of them but by a SHA-256 preimage). */

/* 1 and *len set when found; 0 when not (or no cache); -1 when the
 * cache could not say (its lock busy with !wait, or not to be had;
 * memcache or redis down). */
int apiauth_socache_get(request_rec *r, const unsigned char *key,
                        unsigned int keylen, unsigned char *value,
                        unsigned int *len, int wait)
{
    apr_status_t rv;

    if (socache_instance == NULL) {
        return 0;
    }
    if (lock(r, wait) != 0) {
        return -1;
    }
    rv = socache_provider->retrieve(socache_instance, r->server, key,
                                    keylen, value, len, r->pool);
    unlock();
    return rv == APR_SUCCESS ? 1 : APR_STATUS_IS_NOTFOUND(rv) ? 0 : -1;
}

void apiauth_socache_put(request_rec *r, const unsigned char *key,
                         unsigned int keylen, apr_time_t expiry,
                         const void *value, unsigned int len, int wait)
{
    apr_status_t rv;

    if (socache_instance == NULL || lock(r, wait) != 0) {
        return;
    }
    rv = socache_provider->store(socache_instance, r->server, key,
                                 keylen, expiry,
                                 (unsigned char *)value, len, r->pool);
    unlock();
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, AALOGNO(10047)
                      "socache store failed");
    }
}

void apiauth_socache_drop(request_rec *r, const unsigned char *key,
                          unsigned int keylen)
{
    if (socache_instance == NULL || lock(r, 1) != 0) {
        return;
    }
    socache_provider->remove(socache_instance, r->server, key, keylen,
                             r->pool);
    unlock();
}

int apiauth_socache_available(void)
{
    return socache_instance != NULL;
}

/* From ApiAuthCacheSOCache alone, so that it can be asked before
 * post_config (apiauth_confcheck.c). */
int apiauth_socache_configured_shared(void)
{
    return socache_configured
           && socache_provider
                  != ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, "shmcb",
                                        AP_SOCACHE_PROVIDER_VERSION);
}

/* After a change that can take an answer back has been made (not
 * before: a lookup that sees the new count must also see the change). */
void apiauth_socache_changed(void)
{
    if (changes) {
        apr_atomic_inc32(changes);
    }
}

/* A counter in the socache under the text `name`: the value after adding
 * one.  Under shmcb the mutex makes it exact; over memcache two nodes may
 * both read n and write n + 1, which a failure limit can live with. */
int apiauth_socache_increment(request_rec *r, const char *name,
                              apr_time_t expiry)
{
    const unsigned char *key = (const unsigned char *)name;
    unsigned int keylen = (unsigned int)strlen(name);
    unsigned char value[24];
    unsigned int len = sizeof(value) - 1;
    char out[24];
    int n = 0;
    apr_status_t rv;

    if (socache_instance == NULL || lock(r, 1) != 0) {
        return 0;
    }
    rv = socache_provider->retrieve(socache_instance, r->server, key, keylen,
                                    value, &len, r->pool);
    if (rv == APR_SUCCESS) {
        value[len] = '\0';
        n = atoi((const char *)value);
    }
    n = n < 0 ? 1 : n + 1;
    apr_snprintf(out, sizeof(out), "%d", n);
    socache_provider->store(socache_instance, r->server, key, keylen,
                            expiry, (unsigned char *)out,
                            (unsigned int)strlen(out), r->pool);
    unlock();
    return n;
}

/* Records `key` until `expiry` unless it is there already: 1 when this
 * call recorded it, 0 when it was there, -1 when there is no socache or
 * it failed.  Exact under shmcb (one mutex); across nodes over memcache
 * two nodes may both record it in the same instant. */
int apiauth_socache_claim(request_rec *r, const unsigned char *key,
                          unsigned int keylen, apr_time_t expiry)
{
    unsigned char value[4];
    unsigned int len = sizeof(value);
    apr_status_t rv;

    if (socache_instance == NULL || lock(r, 1) != 0) {
        return -1;
    }
    rv = socache_provider->retrieve(socache_instance, r->server, key, keylen,
                                    value, &len, r->pool);
    if (rv == APR_SUCCESS) {
        unlock();
        return 0;
    }
    if (!APR_STATUS_IS_NOTFOUND(rv)) {
        unlock();
        return -1;
    }
    rv = socache_provider->store(socache_instance, r->server, key, keylen,
                                 expiry, (unsigned char *)"1", 1, r->pool);
    unlock();
    return rv == APR_SUCCESS ? 1 : -1;
}

/* The counter's value, 0 when absent. */
int apiauth_socache_count(request_rec *r, const char *name)
{
    unsigned char value[24];
    unsigned int len = sizeof(value) - 1;

    if (apiauth_socache_get(r, (const unsigned char *)name,
                            (unsigned int)strlen(name), value, &len, 1)
        != 1) {
        return 0;
    }
    value[len] = '\0';
    return atoi((const char *)value);
}

int apiauth_socache_changes(apr_uint32_t *seen)
{
    if (changes == NULL) {
        return 0;
    }
    *seen = apr_atomic_read32(changes);
    return 1;
}
