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
 * ApiAuthCache seconds at most and never past the credential's own
 * expiry; that TTL is also how late a revocation made outside this server
 * (apiauth-admin, a node without a shared cache) can take effect.
 * Locations with the same stores share entries but not their TTL, so an
 * entry carries the time it was made and each location reads only those
 * younger than its own TTL.  Revocations that pass through this server
 * delete the entry at once (apiauth_cache_forget), under every key the
 * configuration could have given it.
 *
 * Which socache, and the change count that lets a keep-alive connection
 * skip a lookup: apiauth_socache.c.
 */
#include <stdlib.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <http_core.h>

#include "apiauth_private.h"
#include "encoding.h"

static apr_array_header_t *chains;      /* every ApiAuthProvider chain */
static apr_array_header_t *files;       /* every ApiAuthCredentialFile */
static server_rec *servers;             /* every virtual host */

/* ------------------------------------------------------------------ */
/* Configuration time                                                  */
/* ------------------------------------------------------------------ */

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
 * listen on (two nodes on one machine cannot share them).  And the key
 * its entries are authenticated under: derived from its
 * ApiAuthSecretPepper, so that the nodes sharing a cache agree on it, or
 * a random one where there is no pepper (allowed only where the cache is
 * this node's own, shmcb: apiauth_confcheck.c). */
static int prepare_servers(apr_pool_t *p, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(p);
    apiauth_pepper_t *random_mac = NULL;

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
        if (sconf->pepper == NULL && random_mac == NULL
            && apiauth_pepper_derive(p, NULL, NULL, &random_mac)
                   != APIAUTH_OK) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (sconf->pepper
            && apiauth_pepper_derive(p, sconf->pepper,
                                     "apiauth credential cache entry",
                                     &sconf->cache_mac) != APIAUTH_OK) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (sconf->pepper == NULL) {
            sconf->cache_mac = random_mac;
        }
        /* DPoP nonces: derived like the authorization server's, so that
         * a nonce of either is taken by both (without a pepper, this
         * server's own, random per start) */
        if (apiauth_pepper_derive(p, sconf->pepper, sconf->pepper
                                      ? "apiauth dpop nonce"
                                      : NULL,
                                  &sconf->dpop_nonce_key) != APIAUTH_OK) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

int apiauth_cache_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp)
{
    chains = apr_array_make(pconf, 4, sizeof(const char *));
    APR_ARRAY_PUSH(chains, const char *) = APIAUTH_DEFAULT_PROVIDER;
    files = apr_array_make(pconf, 2, sizeof(const char *));
    servers = NULL;
    return apiauth_socache_pre_config(pconf, plog);
}

int apiauth_cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    int rc;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if ((rc = apiauth_socache_post_config(pconf, ptemp, s)) != OK) {
        return rc;
    }
    return prepare_servers(pconf, s);
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

    if (!apiauth_socache_available() || nparts > 3) {
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

static int ttl_of(const apiauth_dir_conf *conf)
{
    return conf->cache_ttl > 0 ? conf->cache_ttl : APIAUTH_DEFAULT_CACHE_TTL;
}

/* An entry is MAC, then "MADE IDENTITY" (its text): MADE is the request
 * time (microseconds) at which it was stored, so that each location
 * honours its own TTL; MAC is HMAC-SHA-256, under a key of the server
 * secret, over the cache key and the text.  A cache others can write to
 * (memcache, redis) then holds nothing we believe that we did not write
 * ourselves under that very key: neither an identity planted under a
 * secret of the writer's choosing, nor a real entry copied onto another
 * credential's key. */
#define ENTRY_MAX 2048

static int entry_mac(request_rec *r, const unsigned char *key,
                     const void *text, apr_size_t len,
                     unsigned char mac[APIAUTH_DIGEST_LEN])
{
    const apiauth_server_conf *sconf =
        ap_get_module_config(r->server->module_config, &apiauth_module);
    const void *data[2] = {key, text};
    apr_size_t lens[2] = {APIAUTH_DIGEST_LEN, len};

    return apiauth_hmac(sconf->cache_mac, data, lens, 2, mac);
}

static int entry_authentic(request_rec *r, const unsigned char *key,
                           const unsigned char *value, apr_size_t len)
{
    unsigned char mac[APIAUTH_DIGEST_LEN];

    if (len > APIAUTH_DIGEST_LEN
        && entry_mac(r, key, value + APIAUTH_DIGEST_LEN,
                     len - APIAUTH_DIGEST_LEN, mac) == 0
        && apiauth_ct_equal(mac, value, APIAUTH_DIGEST_LEN)) {
        return 1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, AALOGNO(10049)
                  "a credential cache entry fails its MAC: ignored (was "
                  "it written by someone else, or under another "
                  "ApiAuthSecretPepper?)");
    return 0;
}

/* The text of an entry read into `copy` (len + 1 bytes), which the
 * identity then points in. */
static int read_entry(const unsigned char *text, apr_size_t len, char *copy,
                      apiauth_identity_t *id, apr_int64_t *made)
{
    char *rest;

    memcpy(copy, text, len);
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

/* A revocation through this server leaves a marker under the id of what
 * it revoked (apiauth_cache_note_revoked): an identity covered by one is
 * no longer an answer.  Cache keys are digests of what was presented, so
 * a revocation cannot delete every entry it covers -- the access tokens
 * of a grant, a session cached under each of its app's tokens, another
 * encoding of the same access token (ECDSA takes s and n - s alike) --
 * but each of them finds the marker. */
static const char *marker_name(apr_pool_t *p, const char *what,
                               const char *id)
{
    return apr_pstrcat(p, "revoked ", what, " ", id, NULL);
}

static int marked(request_rec *r, const char *what, const char *id)
{
    const char *name = marker_name(r->pool, what, id);
    unsigned char value[4];
    unsigned int len = sizeof(value);

    /* a cache that cannot say counts as a marker: the store answers */
    return apiauth_socache_get(r, (const unsigned char *)name,
                               (unsigned int)strlen(name), value, &len, 0)
           != 0;
}

static int revoked(request_rec *r, const apiauth_identity_t *id)
{
    return (id->grant_id && marked(r, "grant", id->grant_id))
           || (id->kind == APIAUTH_KIND_OAUTH
               && marked(r, "token", id->credential_id))
           || (id->kind == APIAUTH_KIND_SESSION
               && marked(r, "credential", id->credential_id));
}

int apiauth_cache_lookup(request_rec *r, const apiauth_dir_conf *conf,
                         const unsigned char *key, apiauth_identity_t *id)
{
    apr_interval_time_t ttl = apr_time_from_sec(ttl_of(conf));
    unsigned char value[ENTRY_MAX];
    unsigned int len = sizeof(value) - 1;
    apr_uint32_t seen = 0;
    /* read before the lookups it stands for */
    int counted = apiauth_socache_changes(&seen);
    apiauth_memo_t *memo;
    apr_int64_t made;
    char *copy = NULL;

    if (!apiauth_socache_available()) {
        return 0;
    }
    memo = apiauth_memo_of(r->connection);
    /* nothing deleted or marked revoked on this node since the memo's
     * lookup, which found the entry and no marker for it */
    if (counted
        && apiauth_memo_entry_unchanged(memo, r->pool, key, seen, id, &made)) {
        return r->request_time - made < ttl;
    }
    if (apiauth_socache_get(r, key, APIAUTH_DIGEST_LEN, value, &len, 0)
        != 1) {
        return 0;
    }
    if (!apiauth_memo_entry(memo, r->pool, key, value, len, id, &made)) {
        if (!entry_authentic(r, key, value, len)) {
            return 0;
        }
        len -= APIAUTH_DIGEST_LEN;
        copy = apr_palloc(r->pool, len + 1);
        if (!read_entry(value + APIAUTH_DIGEST_LEN, len, copy, id, &made)) {
            return 0;
        }
        len += APIAUTH_DIGEST_LEN;
    }
    if (r->request_time - made >= ttl) {
        return 0;
    }
    if (revoked(r, id)) {
        apiauth_memo_drop_entry(memo);
        return 0;
    }
    if (copy) {
        apiauth_memo_keep_entry(memo, key, value, len, copy, id, made);
    }
    apiauth_memo_entry_checked(memo, seen);
    return 1;
}

void apiauth_cache_put(request_rec *r, const apiauth_dir_conf *conf,
                       const unsigned char *key, const apiauth_identity_t *id)
{
    apr_time_t now = r->request_time;
    apr_time_t expiry;
    unsigned char value[ENTRY_MAX];
    const char *text;
    apr_size_t len;

    if (!apiauth_socache_available()) {
        return;
    }
    expiry = now + apr_time_from_sec(ttl_of(conf));
    /* compared in seconds: a JWT's exp may be any integer, and in
     * microseconds a large one overflows */
    if (id->expires && id->expires <= apr_time_sec(expiry)) {
        expiry = apr_time_from_sec(id->expires);
    }
    text = apiauth_identity_serialize(r->pool, id);
    if (text) {
        text = apr_psprintf(r->pool, "%" APR_TIME_T_FMT " %s", now, text);
    }
    if (text == NULL || expiry <= now
        || (len = strlen(text)) >= sizeof(value) - 1 - APIAUTH_DIGEST_LEN
        || entry_mac(r, key, text, len, value) != 0) {
        return;
    }
    memcpy(value + APIAUTH_DIGEST_LEN, text, len);
    apiauth_socache_put(r, key, APIAUTH_DIGEST_LEN, expiry, value,
                        (unsigned int)(len + APIAUTH_DIGEST_LEN), 0);
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

    if (!apiauth_socache_available() || nparts > 3) {
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
                    apiauth_socache_drop(r, key, APIAUTH_DIGEST_LEN);
                }
            }
        }
    }
    apiauth_socache_changed();
}

void apiauth_cache_note_revoked(request_rec *r, const char *what,
                                const char *id, apr_int64_t until)
{
    const char *name = marker_name(r->pool, what, id);

    apiauth_socache_put(r, (const unsigned char *)name,
                        (unsigned int)strlen(name), apr_time_from_sec(until),
                        "1", 1, 1);
    apiauth_socache_changed();
}

/* ---- facts: a name known until a time, for the modules -------------- */

/* The socache key of a fact: the SHA-256 of its name, labelled, so that
 * it meets no credential's key. */
static int fact_key(const char *name, unsigned char key[APIAUTH_DIGEST_LEN])
{
    const char *parts[2] = {"apiauth fact", name};

    return apiauth_digest_parts(NULL, parts, 2, key);
}

void apiauth_fact_remember(request_rec *r, const char *name,
                           apr_int64_t until)
{
    unsigned char key[APIAUTH_DIGEST_LEN], mac[APIAUTH_DIGEST_LEN];
    char value[24 + 2 * APIAUTH_DIGEST_LEN];
    int n;

    if (fact_key(name, key) != 0) {
        return;
    }
    n = apr_snprintf(value, 24, "%" APR_INT64_T_FMT " ", until);
    if (entry_mac(r, key, value, (apr_size_t)n, mac) != 0) {
        return;
    }
    memcpy(value + n, apiauth_hex_encode(r->pool, mac, sizeof(mac)),
           2 * APIAUTH_DIGEST_LEN);
    apiauth_socache_put(r, key, sizeof(key), apr_time_from_sec(until), value,
                        (unsigned int)n + 2 * APIAUTH_DIGEST_LEN, 0);
}

int apiauth_fact_known(request_rec *r, const char *name)
{
    unsigned char key[APIAUTH_DIGEST_LEN], mac[APIAUTH_DIGEST_LEN];
    unsigned char value[24 + 2 * APIAUTH_DIGEST_LEN + 1];
    unsigned int len = sizeof(value) - 1;
    const char *space;
    apr_size_t n;

    if (fact_key(name, key) != 0
        || apiauth_socache_get(r, key, sizeof(key), value, &len, 0) != 1) {
        return 0;
    }
    value[len] = '\0';
    space = strchr((const char *)value, ' ');
    if (space == NULL) {
        return 0;
    }
    n = (apr_size_t)(space - (const char *)value) + 1;
    /* written by us under this very key, and not yet past */
    return len == n + 2 * APIAUTH_DIGEST_LEN
           && entry_mac(r, key, value, n, mac) == 0
           && apiauth_ct_streq(apiauth_hex_encode(r->pool, mac, sizeof(mac)),
                               (const char *)value + n)
           && apr_atoi64((const char *)value) > apr_time_sec(r->request_time);
}
