/*
 * apiauth_cache.c: validated credentials in mod_socache.
 *
 * What is cached is the identity a credential resolved to, under a key
 * that is a digest of where it was looked up and of the credential as
 * presented (never the secret itself).  Where: the provider chain, the
 * virtual host (whose DBD settings the dbd provider uses, named by
 * ServerName so that nodes with one configuration share entries)
 * and the credential file -- an identity found in one store is never
 * reused for a location that reads another.  An entry lives
 * ApiAuthCacheTTL seconds at most and never past the credential's own
 * expiry; that TTL is also how late a revocation made outside this server
 * (apiauth-admin, a node without a shared cache) can take effect.
 * Locations with the same stores share entries but not their TTL, so an
 * entry carries the time it was made and each location reads only those
 * younger than its own TTL.  Revocations that pass through this server
 * delete the entry at once (apiauth_cache_forget), under every key the
 * configuration could have given it.
 *
 * The socache is shmcb unless ApiAuthCacheSOCache names another (memcache
 * or redis to share it between nodes).  Without any, caching is off.
 *
 * Under shmcb, which no other node writes, the server also keeps a count
 * of the changes it has made that can take an answer back (an entry
 * deleted, a revocation marker written) in shared memory.  A keep-alive
 * connection's memo (apiauth_memo.c) of what the cache said last time is
 * then good without asking the cache again for as long as the count has
 * not moved.  Across nodes the count would not see the other nodes'
 * changes, so there every request asks.
 */
#include <stdlib.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <ap_socache.h>
#include <http_core.h>
#include <http_protocol.h>
#include <util_mutex.h>

#include "apiauth_private.h"

static const char *const cache_mutex_id = "apiauth-cache";
static ap_socache_provider_t *socache_provider;
static ap_socache_instance_t *socache_instance;
static apr_global_mutex_t *cache_mutex;
static int socache_configured;          /* set by ApiAuthCacheSOCache */
static apr_uint32_t *changes;           /* the change count, NULL if none */
static apr_array_header_t *chains;      /* every ApiAuthProvider chain */
static apr_array_header_t *files;       /* every ApiAuthCredentialFile */
static server_rec *servers;             /* every virtual host */

/* ------------------------------------------------------------------ */
/* Configuration time                                                  */
/* ------------------------------------------------------------------ */

const char *apiauth_cache_set_socache(cmd_parms *cmd, void *dummy,
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

static void add_once(apr_pool_t *p, apr_array_header_t *set,
                     const char *name)
{
    int i;

    for (i = 0; i < set->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(set, i, const char *), name) == 0) {
            return;
        }
    }
    APR_ARRAY_PUSH(set, const char *) = apr_pstrdup(p, name);
}

void apiauth_cache_register_chain(apr_pool_t *p, const char *chain)
{
    add_once(p, chains, chain);
}

void apiauth_cache_register_file(apr_pool_t *p, const char *path)
{
    add_once(p, files, path);
}

/* Each virtual host's name in cache keys: its ServerName, numbered in
 * configuration order when two hosts share one, so that it is the same on
 * every node that runs the same configuration -- whatever ports the nodes
 * listen on (two nodes on one machine cannot share them). */
static void name_scopes(apr_pool_t *p, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(p);

    servers = s;
    for (; s; s = s->next) {
        apiauth_server_conf *sconf = ap_get_module_config(s->module_config,
                                                          &apiauth_module);
        const char *name = s->server_hostname ? s->server_hostname : "";
        int *count = apr_hash_get(seen, name, APR_HASH_KEY_STRING);

        if (count == NULL) {
            count = apr_pcalloc(p, sizeof(*count));
            apr_hash_set(seen, name, APR_HASH_KEY_STRING, count);
        }
        sconf->cache_scope = (*count)++ ? apr_psprintf(p, "%s#%d", name,
                                                       *count)
                                        : name;
    }
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

int apiauth_cache_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp)
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
    chains = apr_array_make(pconf, 4, sizeof(const char *));
    APR_ARRAY_PUSH(chains, const char *) = APIAUTH_DEFAULT_PROVIDER;
    files = apr_array_make(pconf, 2, sizeof(const char *));
    servers = NULL;
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

int apiauth_cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    static struct ap_socache_hints hints = {32, 256, 60 * APR_USEC_PER_SEC};
    const char *errmsg;
    apr_status_t rv;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    name_scopes(pconf, s);
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

void apiauth_cache_child_init(apr_pool_t *p, server_rec *s)
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

/* The key's inputs: where the credential is looked up (chain, virtual
 * host, file), then what was presented.  Returns their number. */
static int key_inputs(const char *chain, const char *scope, const char *file,
                      const char *const *parts, int nparts,
                      const char *all[6])
{
    int i;

    all[0] = chain;
    all[1] = scope ? scope : "";
    all[2] = file ? file : "";
    for (i = 0; i < nparts; i++) {
        all[i + 3] = parts[i];
    }
    return nparts + 3;
}

void apiauth_cache_key_ctx(request_rec *r, const apiauth_dir_conf *conf,
                           char tag, unsigned bits, apiauth_memo_ctx_t *ctx)
{
    const apiauth_server_conf *sconf =
        ap_get_module_config(r->server->module_config, &apiauth_module);

    ctx->tag = tag;
    ctx->bits = bits;
    ctx->chain = conf->chain ? conf->chain : APIAUTH_DEFAULT_PROVIDER;
    ctx->scope = sconf->cache_scope;
    ctx->file = conf->credential_file;
}

int apiauth_cache_key(request_rec *r, const apiauth_dir_conf *conf,
                      const char *const *parts, int nparts, int remember,
                      unsigned char key[APIAUTH_DIGEST_LEN])
{
    const char *all[6];
    apiauth_memo_ctx_t ctx;
    apiauth_memo_t *memo;

    if (socache_instance == NULL || nparts > 3) {
        return -1;
    }
    apiauth_cache_key_ctx(r, conf, APIAUTH_MEMO_TAG_KEY, 0, &ctx);
    memo = remember ? apiauth_memo_of(r->connection) : NULL;
    if (memo && (apiauth_memo_recall(memo, &ctx, parts, nparts, NULL, NULL,
                                     key) & APIAUTH_MEMO_KEY)) {
        return 0;
    }
    if (apiauth_digest_parts(apiauth_pepper_of(r), all,
                             key_inputs(ctx.chain, ctx.scope, ctx.file,
                                        parts, nparts, all),
                             key) != 0) {
        return -1;
    }
    if (memo) {
        apiauth_memo_keep(memo, &ctx, parts, nparts, NULL, key);
    }
    return 0;
}

static int lock(request_rec *r)
{
    apr_status_t rv;

    if (cache_mutex == NULL) {
        return 0;
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
 * cache could not say (its lock, memcache or redis down). */
static int socache_get(request_rec *r, const unsigned char *key,
                       unsigned int keylen, unsigned char *value,
                       unsigned int *len)
{
    apr_status_t rv;

    if (socache_instance == NULL) {
        return 0;
    }
    if (lock(r) != 0) {
        return -1;
    }
    rv = socache_provider->retrieve(socache_instance, r->server, key,
                                    keylen, value, len, r->pool);
    unlock();
    return rv == APR_SUCCESS ? 1 : APR_STATUS_IS_NOTFOUND(rv) ? 0 : -1;
}

static void socache_put(request_rec *r, const unsigned char *key,
                        unsigned int keylen, apr_time_t expiry,
                        const void *value, unsigned int len)
{
    apr_status_t rv;

    if (socache_instance == NULL || lock(r) != 0) {
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

static void socache_drop(request_rec *r, const unsigned char *key,
                         unsigned int keylen)
{
    if (socache_instance == NULL || lock(r) != 0) {
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

/* After a change that can take an answer back has been made (not
 * before: a lookup that sees the new count must also see the change). */
static void count_change(void)
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

    if (socache_instance == NULL || lock(r) != 0) {
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

/* The counter's value, 0 when absent. */
int apiauth_socache_count(request_rec *r, const char *name)
{
    unsigned char value[24];
    unsigned int len = sizeof(value) - 1;

    if (socache_get(r, (const unsigned char *)name,
                    (unsigned int)strlen(name), value, &len) != 1) {
        return 0;
    }
    value[len] = '\0';
    return atoi((const char *)value);
}

static int ttl_of(const apiauth_dir_conf *conf)
{
    return conf->cache_ttl > 0 ? conf->cache_ttl : APIAUTH_DEFAULT_CACHE_TTL;
}

/* An entry is "MADE IDENTITY": MADE is the request time (microseconds)
 * at which it was stored, so that each location honours its own TTL.
 * Read into `copy` (len + 1 bytes), which the identity then points in. */
static int read_entry(const unsigned char *value, apr_size_t len, char *copy,
                      apiauth_identity_t *id, apr_int64_t *made)
{
    char *rest;

    memcpy(copy, value, len);
    copy[len] = '\0';
    rest = memchr(copy, ' ', len);
    if (rest == NULL) {
        return 0;
    }
    *rest++ = '\0';
    return apiauth_parse_seconds(copy, made) == 0
           && apiauth_identity_parse_buf(rest, len - (apr_size_t)(rest - copy),
                                         id) == APIAUTH_OK;
}

/* The change count now (read before the lookup it stands for). */
static apr_uint32_t changes_seen(void)
{
    return changes ? apr_atomic_read32(changes) : 0;
}

int apiauth_cache_get(request_rec *r, const apiauth_dir_conf *conf,
                      const unsigned char *key, apiauth_identity_t *id)
{
    unsigned char value[2048];
    unsigned int len = sizeof(value) - 1;
    apr_interval_time_t ttl = apr_time_from_sec(ttl_of(conf));
    apr_uint32_t seen = changes_seen();
    apiauth_memo_t *memo;
    apr_int64_t made;
    char *copy;

    if (socache_instance == NULL) {
        return 0;
    }
    memo = apiauth_memo_of(r->connection);
    if (changes
        && apiauth_memo_entry_unchanged(memo, r->pool, key, seen, id, &made)
        && r->request_time - made < ttl) {
        return 1;
    }
    if (socache_get(r, key, APIAUTH_DIGEST_LEN, value, &len) != 1) {
        return 0;
    }
    if (!apiauth_memo_entry(memo, r->pool, key, seen, value, len, id,
                            &made)) {
        copy = apr_palloc(r->pool, len + 1);
        if (!read_entry(value, len, copy, id, &made)) {
            return 0;
        }
        apiauth_memo_keep_entry(memo, key, seen, value, len, copy, id, made);
    }
    return r->request_time - made < ttl;
}

void apiauth_cache_put(request_rec *r, const apiauth_dir_conf *conf,
                       const unsigned char *key, const apiauth_identity_t *id)
{
    apr_time_t now = r->request_time;
    apr_time_t expiry;
    const char *value;

    if (socache_instance == NULL) {
        return;
    }
    expiry = now + apr_time_from_sec(ttl_of(conf));
    /* compared in seconds: a JWT's exp may be any integer, and in
     * microseconds a large one overflows */
    if (id->expires && id->expires <= apr_time_sec(expiry)) {
        expiry = apr_time_from_sec(id->expires);
    }
    value = apiauth_identity_serialize(r->pool, id);
    if (value) {
        value = apr_psprintf(r->pool, "%" APR_TIME_T_FMT " %s", now, value);
    }
    if (value == NULL || expiry <= now || strlen(value) >= 2048) {
        return;
    }
    socache_put(r, key, APIAUTH_DIGEST_LEN, expiry, value,
                (unsigned int)strlen(value));
    /* what the memo holds, if anything, was not good enough */
    apiauth_memo_drop_entry(apiauth_memo_of(r->connection));
}

/* Every key the credential may be cached under: each chain, in each
 * virtual host (with its pepper), with and without each credential file.
 * A few digests per logout or revocation, none on the request path. */
void apiauth_cache_forget(request_rec *r, const char *const *parts,
                          int nparts)
{
    unsigned char key[APIAUTH_DIGEST_LEN];
    const char *all[6];
    server_rec *s;
    int c, f, n;

    if (socache_instance == NULL || nparts > 3) {
        return;
    }
    for (s = servers; s; s = s->next) {
        const apiauth_server_conf *sconf =
            ap_get_module_config(s->module_config, &apiauth_module);
        for (c = 0; c < chains->nelts; c++) {
            for (f = -1; f < files->nelts; f++) {
                n = key_inputs(APR_ARRAY_IDX(chains, c, const char *),
                               sconf->cache_scope,
                               f < 0 ? NULL
                                     : APR_ARRAY_IDX(files, f, const char *),
                               parts, nparts, all);
                if (apiauth_digest_parts(sconf->pepper, all, n, key) == 0) {
                    socache_drop(r, key, APIAUTH_DIGEST_LEN);
                }
            }
        }
    }
    count_change();
}

/* A grant or a credential revoked through this server: a marker under its
 * id, kept as long as anything it covers may live, that a cached identity
 * must not find (apiauth_resolve.c).  Cache keys are digests of what was
 * presented, so a revocation cannot delete every entry it covers -- the
 * access tokens of a grant, a session cached under each of its app's
 * tokens -- but it can leave this note for them.  Shared like the cache. */
static const char *marker_name(request_rec *r, const char *what,
                               const char *id)
{
    return apr_pstrcat(r->pool, "revoked ", what, " ", id, NULL);
}

void apiauth_cache_note_revoked(request_rec *r, const char *what,
                                const char *id, apr_int64_t until)
{
    const char *name = marker_name(r, what, id);

    socache_put(r, (const unsigned char *)name, (unsigned int)strlen(name),
                apr_time_from_sec(until), "1", 1);
    count_change();
}

int apiauth_cache_is_revoked(request_rec *r, const char *what, const char *id)
{
    apr_uint32_t seen = changes_seen();
    const char *name;
    unsigned char value[4];
    unsigned int len = sizeof(value);
    apiauth_memo_t *memo;

    if (socache_instance == NULL) {
        return 0;
    }
    name = marker_name(r, what, id);
    memo = apiauth_memo_of(r->connection);
    if (changes && apiauth_memo_absent(memo, name, seen)) {
        return 0;
    }
    /* a cache that cannot say counts as a marker: the store answers */
    if (socache_get(r, (const unsigned char *)name,
                    (unsigned int)strlen(name), value, &len) != 0) {
        return 1;
    }
    if (changes) {
        apiauth_memo_keep_absent(memo, name, seen);
    }
    return 0;
}
