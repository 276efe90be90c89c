/*
 * apiauth_memo.c: what the previous request on this connection presented,
 * and what its cache entry said.
 *
 * A keep-alive client sends the same credential request after request.
 * Reading it again costs more than the rest of a cache hit: for an
 * 800-byte JWT, checking its characters and hashing it into a cache key
 * take thousands of instructions, and so does re-reading an identity from
 * a cache entry.  The memo keeps one of each per connection:
 *
 *   presented  the inputs of a parse or a key (framed as
 *              apiauth_digest_frame lays them out) and the configuration
 *              they were read in, the cache key and the credential they
 *              gave;
 *   entry      the bytes of the last cache entry read and the key they
 *              were read under, the identity read from them, and the
 *              cache's change count (apiauth_socache.c) at which its
 *              revocation markers were last found absent.
 *
 * Reuse is decided by comparing everything the answer was computed from
 * (the presented inputs in constant time), so the answer is the same by
 * construction.  This location's rules are checked every time (its
 * TTL against the entry's making, the credential's expiry, admission).
 * The cache lookup and the revocation markers are skipped only where the
 * cache is this node's alone and its change count says that nothing has
 * been deleted from it or marked revoked since the memo's check; what
 * such a skip does not see is the entry's own end in the socache, which
 * another location's shorter TTL may have set: a location reads an entry
 * for as long as its own ApiAuthCache lifetime allows.  A request never points
 * into the memo: what it gets is copied into its own pool, since the next
 * request on the connection may replace the memo while this one is still
 * being logged.
 *
 * The presented slot holds a secret: it is wiped when replaced and when
 * the connection ends.  Buffers grow to the longest input the connection
 * sent (the parsers bound it to a few KiB); outgrown ones are wiped and
 * left to the connection's pool.
 */
#include <stdint.h>

#include <apr_strings.h>
#include <openssl/crypto.h>

#include "apiauth_private.h"

typedef struct memo_buf {
    unsigned char *data;
    apr_size_t len, cap;
} memo_buf;

struct apiauth_memo {
    apr_pool_t *pool;                  /* the connection's */

    /* presented */
    apiauth_memo_ctx_t ctx;            /* what the inputs were read in */
    int has_ctx;
    memo_buf inputs;                   /* framed */
    int has_key;
    unsigned char key[APIAUTH_DIGEST_LEN];
    int has_cred;
    apiauth_credential_t cred;         /* strings as offsets into strings */
    memo_buf strings;

    /* entry */
    memo_buf entry;                    /* the cache entry as read */
    memo_buf parsed;                   /* the copy the identity points in
                                          (text length + 1 bytes) */
    apiauth_identity_t identity;
    apr_int64_t made;
    int has_entry;
    unsigned char entry_key[APIAUTH_DIGEST_LEN];
    int checked;                       /* entry_seen is meaningful */
    apr_uint32_t entry_seen;           /* the change count at which its
                                          markers were found absent */
};

#define FIRST_CAP 256

/* Room for `need` bytes, the old content wiped. */
static unsigned char *reserve(apr_pool_t *p, memo_buf *b, apr_size_t need)
{
    if (b->data) {
        OPENSSL_cleanse(b->data, b->len);
    }
    b->len = 0;
    if (need > b->cap) {
        b->cap = need > 2 * b->cap ? need : 2 * b->cap;
        if (b->cap < FIRST_CAP) {
            b->cap = FIRST_CAP;
        }
        b->data = apr_palloc(p, b->cap);
    }
    return b->data;
}

static apr_status_t wipe_memo(void *data)
{
    apiauth_memo_t *m = data;

    reserve(m->pool, &m->inputs, 0);
    reserve(m->pool, &m->strings, 0);
    OPENSSL_cleanse(m->key, sizeof(m->key));
    m->has_key = m->has_cred = 0;
    return APR_SUCCESS;
}

apiauth_memo_t *apiauth_memo_of(conn_rec *c)
{
    apiauth_memo_t *m = ap_get_module_config(c->conn_config, &apiauth_module);

    if (m == NULL) {
        m = apr_pcalloc(c->pool, sizeof(*m));
        m->pool = c->pool;
        apr_pool_cleanup_register(c->pool, m, wipe_memo,
                                  apr_pool_cleanup_null);
        ap_set_module_config(c->conn_config, &apiauth_module, m);
    }
    return m;
}

/* Whether the framed inputs are exactly these.  Lengths compare in the
 * clear (a client can time them anyway), bytes in constant time. */
static int holds(const memo_buf *b, const char *const *in, int n)
{
    const unsigned char *at = b->data, *end = at + b->len;
    int i, same = 1;

    if (at == NULL) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        apr_size_t len = strlen(in[i]);
        if ((apr_size_t)(end - at) < len + 2
            || at[0] != (unsigned char)(len >> 8)
            || at[1] != (unsigned char)len) {
            return 0;
        }
        same &= apiauth_ct_equal(at + 2, in[i], len);
        at += len + 2;
    }
    return at == end && same;
}

/* The credential's strings, in the memo's copy of it, as offsets: a
 * string that is a tail of the last input (a Bearer token is the tail of
 * its header) as -(offset + 1) into it, and recalled from the request's
 * own identical input; any other (Basic's decoded parts) as offset + 1
 * into `strings`, where it is kept NUL-terminated; NULL as 0. */
#define N_STRINGS 3

static const char **cred_string(apiauth_credential_t *cred, int i)
{
    return i == 0 ? &cred->secret : i == 1 ? &cred->password
                                           : &cred->install_id;
}

static void keep_cred(apiauth_memo_t *m, const apiauth_credential_t *cred,
                      const char *last)
{
    apr_size_t need = 0, at = 0, len, last_len = strlen(last);
    unsigned char *out;
    int i;

    m->cred = *cred;
    for (i = 0; i < N_STRINGS; i++) {
        const char *s = *cred_string(&m->cred, i);
        if (s && !(s >= last && s <= last + last_len)) {
            need += strlen(s) + 1;
        }
    }
    out = reserve(m->pool, &m->strings, need);
    for (i = 0; i < N_STRINGS; i++) {
        const char **s = cred_string(&m->cred, i);
        if (*s == NULL) {
            continue;
        }
        if (*s >= last && *s <= last + last_len) {
            *s = (const char *)(intptr_t)-(*s - last + 1);
            continue;
        }
        len = strlen(*s) + 1;
        memcpy(out + at, *s, len);
        *s = (const char *)(intptr_t)(at + 1);
        at += len;
    }
    m->strings.len = need;
    m->has_cred = 1;
}

static void recall_cred(const apiauth_memo_t *m, apr_pool_t *p,
                        const char *last, apiauth_credential_t *cred)
{
    char *copy = m->strings.len ? apr_pmemdup(p, m->strings.data,
                                              m->strings.len)
                                : NULL;
    int i;

    *cred = m->cred;
    for (i = 0; i < N_STRINGS; i++) {
        const char **s = cred_string(cred, i);
        intptr_t at = (intptr_t)*s;
        if (at > 0) {
            *s = copy + (at - 1);
        }
        else if (at < 0) {
            *s = last + (-at - 1);
        }
    }
}

/* Configuration is compared by address: it lives as long as the process,
 * so the same address is the same configuration (equal configurations at
 * two addresses only miss). */
static int same_ctx(const apiauth_memo_ctx_t *a, const apiauth_memo_ctx_t *b)
{
    return a->tag == b->tag && a->bits == b->bits && a->chain == b->chain
           && a->scope == b->scope && a->file == b->file;
}

int apiauth_memo_recall(apiauth_memo_t *m, const apiauth_memo_ctx_t *ctx,
                        const char *const *in,
                        int n, apr_pool_t *p, apiauth_credential_t *cred,
                        unsigned char key[APIAUTH_DIGEST_LEN])
{
    int got = 0;

    if (!m->has_ctx || !same_ctx(&m->ctx, ctx)
        || !holds(&m->inputs, in, n)) {
        return 0;
    }
    if (m->has_key) {
        memcpy(key, m->key, APIAUTH_DIGEST_LEN);
        got |= APIAUTH_MEMO_KEY;
    }
    if (m->has_cred && cred) {
        recall_cred(m, p, in[n - 1], cred);
        got |= APIAUTH_MEMO_CRED;
    }
    return got;
}

void apiauth_memo_keep(apiauth_memo_t *m, const apiauth_memo_ctx_t *ctx,
                       const char *const *in,
                       int n, const apiauth_credential_t *cred,
                       const unsigned char *key)
{
    apr_size_t need = 0;
    int i;

    for (i = 0; i < n; i++) {
        need += strlen(in[i]) + 2;
    }
    m->has_key = m->has_cred = 0;
    m->has_ctx = 0;
    reserve(m->pool, &m->strings, 0);
    m->inputs.len = apiauth_digest_frame(in, n,
                                         reserve(m->pool, &m->inputs, need),
                                         need);
    if (m->inputs.len == 0) {
        return;   /* not framable: nothing is kept */
    }
    m->ctx = *ctx;
    m->has_ctx = 1;
    if (key) {
        memcpy(m->key, key, APIAUTH_DIGEST_LEN);
        m->has_key = 1;
    }
    if (cred) {
        keep_cred(m, cred, in[n - 1]);
    }
}

/* The memo's identity, copied into p. */
static void give_entry(const apiauth_memo_t *m, apr_pool_t *p,
                       apiauth_identity_t *id, apr_int64_t *made)
{
    apr_size_t len = m->parsed.len - 1;
    char *copy = apr_pmemdup(p, m->parsed.data, len + 1);

    *id = m->identity;
    apiauth_identity_move(id, (const char *)m->parsed.data, len, copy);
    *made = m->made;
}

int apiauth_memo_entry_unchanged(const apiauth_memo_t *m, apr_pool_t *p,
                                 const unsigned char *key, apr_uint32_t seen,
                                 apiauth_identity_t *id, apr_int64_t *made)
{
    if (!m->has_entry || !m->checked || m->entry_seen != seen
        || !apiauth_ct_equal(m->entry_key, key, APIAUTH_DIGEST_LEN)) {
        return 0;
    }
    give_entry(m, p, id, made);
    return 1;
}

int apiauth_memo_entry(const apiauth_memo_t *m, apr_pool_t *p,
                       const unsigned char *key, const void *entry,
                       apr_size_t len, apiauth_identity_t *id,
                       apr_int64_t *made)
{
    /* the same bytes under the same key, read again after the change
     * count moved: authentic as they were, the identity theirs */
    if (!m->has_entry || m->entry.len != len
        || !apiauth_ct_equal(m->entry_key, key, APIAUTH_DIGEST_LEN)
        || memcmp(m->entry.data, entry, len) != 0) {
        return 0;
    }
    give_entry(m, p, id, made);
    return 1;
}

void apiauth_memo_keep_entry(apiauth_memo_t *m, const unsigned char *key,
                             const void *entry, apr_size_t len,
                             const char *parsed, const apiauth_identity_t *id,
                             apr_int64_t made)
{
    apr_size_t text = len - APIAUTH_DIGEST_LEN;

    memcpy(reserve(m->pool, &m->entry, len), entry, len);
    memcpy(reserve(m->pool, &m->parsed, text + 1), parsed, text + 1);
    m->entry.len = len;
    m->parsed.len = text + 1;
    m->identity = *id;
    apiauth_identity_move(&m->identity, parsed, text,
                          (const char *)m->parsed.data);
    m->made = made;
    memcpy(m->entry_key, key, APIAUTH_DIGEST_LEN);
    m->checked = 0;
    m->has_entry = 1;
}

void apiauth_memo_entry_checked(apiauth_memo_t *m, apr_uint32_t seen)
{
    m->entry_seen = seen;
    m->checked = m->has_entry;
}

void apiauth_memo_drop_entry(apiauth_memo_t *m)
{
    m->has_entry = 0;
    m->checked = 0;
}
