/*
 * dpop.c: DPoP proofs and server nonces (dpop.h).
 */
#include <string.h>

#include <apr_strings.h>
#if APR_HAS_THREADS
#include <apr_thread_mutex.h>
#endif
#include <openssl/evp.h>

#include "dpop.h"
#include "encoding.h"
#include "url.h"

#define MAX_PROOF 8192
#define NONCE_MAC 16
#define MAX_PROOF_RSA_BITS 4096

static apiauth_status_t bad(apiauth_error_t *err, const char *why)
{
    return apiauth_fail(err, APIAUTH_DENIED, "invalid_dpop_proof", why);
}

static int alg_taken(const char *alg)
{
    static const char *const algs[] = {APIAUTH_DPOP_ALGS};
    size_t i;

    for (i = 0; alg && i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strcmp(alg, algs[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

struct apiauth_dpop_keys {
#if APR_HAS_THREADS
    apr_thread_mutex_t *lock;
#endif
    int slots;
    struct key_slot {
        char jkt[APIAUTH_JKT_LEN + 1];
        EVP_PKEY *pkey;
        apiauth_alg_t alg;
    } *slot;
};

static apr_status_t keys_cleanup(void *data)
{
    apiauth_dpop_keys_t *keys = data;
    int i;

    for (i = 0; i < keys->slots; i++) {
        EVP_PKEY_free(keys->slot[i].pkey);
        keys->slot[i].pkey = NULL;
    }
    return APR_SUCCESS;
}

apiauth_dpop_keys_t *apiauth_dpop_keys_create(apr_pool_t *p, int slots)
{
    apiauth_dpop_keys_t *keys = apr_pcalloc(p, sizeof(*keys));

    keys->slots = slots > 0 ? slots : 1;
    keys->slot = apr_pcalloc(p, sizeof(*keys->slot) * keys->slots);
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&keys->lock, APR_THREAD_MUTEX_DEFAULT, p)
        != APR_SUCCESS) {
        return NULL;
    }
#endif
    apr_pool_cleanup_register(p, keys, keys_cleanup, apr_pool_cleanup_null);
    return keys;
}

/* The slot of a thumbprint: its first characters are SHA-256 output. */
static struct key_slot *slot_of(apiauth_dpop_keys_t *keys, const char *jkt)
{
    unsigned int h = ((unsigned char)jkt[0] << 8) | (unsigned char)jkt[1];

    return &keys->slot[h % (unsigned int)keys->slots];
}

static void keys_lock(apiauth_dpop_keys_t *keys, int lock)
{
#if APR_HAS_THREADS
    if (lock) {
        apr_thread_mutex_lock(keys->lock);
    }
    else {
        apr_thread_mutex_unlock(keys->lock);
    }
#endif
}

/* The key kept under `jkt`, as a key of `p`; NULL when there is none. */
static apiauth_jwk_t *key_kept(apr_pool_t *p, apiauth_dpop_keys_t *keys,
                               const char *jkt)
{
    struct key_slot *s = slot_of(keys, jkt);
    apiauth_jwk_t *key = NULL;

    keys_lock(keys, 1);
    if (s->pkey && strcmp(s->jkt, jkt) == 0) {
        key = apiauth_jwk_share(p, s->pkey, s->alg, NULL);
    }
    keys_lock(keys, 0);
    return key;
}

static void key_keep(apiauth_dpop_keys_t *keys, const char *jkt,
                     const apiauth_jwk_t *key)
{
    struct key_slot *s = slot_of(keys, jkt);
    EVP_PKEY *pkey = apiauth_jwk_pkey(key), *old;

    if (strlen(jkt) != APIAUTH_JKT_LEN || EVP_PKEY_up_ref(pkey) != 1) {
        return;
    }
    keys_lock(keys, 1);
    old = s->pkey;
    memcpy(s->jkt, jkt, APIAUTH_JKT_LEN + 1);
    s->pkey = pkey;
    s->alg = apiauth_jwk_alg(key);
    keys_lock(keys, 0);
    EVP_PKEY_free(old);
}

/* What a jwk may say beside its key: that it signs, with the proof's alg,
 * under some kid.  Checked on every proof, kept key or not. */
static const char *jwk_extras(json_t *jwk, const char *alg)
{
    json_t *use = json_object_get(jwk, "use");
    json_t *named = json_object_get(jwk, "alg");
    json_t *kid = json_object_get(jwk, "kid");

    if (use && (!json_is_string(use)
                || strcmp(json_string_value(use), "sig") != 0)) {
        return "the proof's jwk is not a signing key (use)";
    }
    if (named && (!json_is_string(named)
                  || apiauth_alg_from_name(json_string_value(named))
                         != apiauth_alg_from_name(alg))) {
        return "the proof's jwk names another alg";
    }
    if (kid && !json_is_string(kid)) {
        return "the proof's jwk has a kid that is not a string";
    }
    return NULL;
}

/* The key members of a jwk alone (what its thumbprint covers), for the
 * import: its other members were checked by jwk_extras. */
static json_t *jwk_bare(json_t *jwk)
{
    static const char *const members[] = {"kty", "crv", "x", "y", "n", "e"};
    json_t *bare = json_object();
    size_t i;

    for (i = 0; bare && i < sizeof(members) / sizeof(members[0]); i++) {
        json_t *v = json_object_get(jwk, members[i]);
        if (v) {
            json_object_set(bare, members[i], v);
        }
    }
    return bare;
}

/* The proof's key, from its header (typ, alg and a public jwk), and its
 * thumbprint.  An RSA key signs RS256 or PS256, as the header says. */
static apiauth_status_t proof_key(apr_pool_t *p, const apiauth_jws_t *jws,
                                  apiauth_dpop_keys_t *keys,
                                  apiauth_jwk_t **key, const char **jkt,
                                  apiauth_error_t *err)
{
    json_t *jwk = json_object_get(jws->header, "jwk"), *bare;
    const char *typ, *alg, *canonical, *why = NULL;
    apiauth_status_t st;

    typ = json_string_value(json_object_get(jws->header, "typ"));
    *key = NULL;
    if (typ == NULL || strcasecmp(typ, "dpop+jwt") != 0) {
        return bad(err, "the proof's typ is not dpop+jwt");
    }
    alg = json_string_value(json_object_get(jws->header, "alg"));
    if (!alg_taken(alg)) {
        return bad(err, "the proof's alg is not one of "
                        APIAUTH_DPOP_ALGS_TEXT);
    }
    if ((*jkt = apiauth_jwk_json_thumbprint(p, jwk, &why)) == NULL) {
        return bad(err, apr_pstrcat(p, "the proof's jwk: ", why, NULL));
    }
    if ((why = jwk_extras(jwk, alg)) != NULL) {
        return bad(err, why);
    }
    if (keys == NULL || (*key = key_kept(p, keys, *jkt)) == NULL) {
        bare = jwk_bare(jwk);
        st = bare ? apiauth_jwk_from_json(p, bare, key, &why) : APIAUTH_ERROR;
        json_decref(bare);
        if (st != APIAUTH_OK) {
            why = why ? why : "cannot be read";
            return bad(err, apr_pstrcat(p, "the proof's jwk: ", why, NULL));
        }
        /* whoever sends a proof picks its key: no more than the work of
         * an ES256 signature */
        if (apiauth_jwk_alg(*key) == APIAUTH_ALG_RS256
            && EVP_PKEY_get_bits(apiauth_jwk_pkey(*key))
                   > MAX_PROOF_RSA_BITS) {
            return bad(err, "the proof's jwk: an RSA key of more than 4096 "
                            "bits");
        }
        /* cnf.jkt is computed from the members as written (RFC 7638 §3),
         * so they must be the ones the key has */
        canonical = apiauth_jwk_thumbprint(p, *key);
        if (canonical == NULL || strcmp(canonical, *jkt) != 0) {
            return bad(err, "the proof's jwk: its members are not in their "
                            "canonical form");
        }
        if (keys) {
            key_keep(keys, *jkt, *key);
        }
    }
    if (jws->alg == APIAUTH_ALG_PS256
        && apiauth_jwk_alg(*key) == APIAUTH_ALG_RS256) {
        *key = apiauth_jwk_share(p, apiauth_jwk_pkey(*key),
                                 APIAUTH_ALG_PS256, NULL);
        if (*key == NULL) {
            return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                                "OpenSSL cannot share a key");
        }
    }
    return APIAUTH_OK;
}

char *apiauth_dpop_ath(apr_pool_t *p, const char *access_token)
{
    unsigned char hash[APIAUTH_DIGEST_LEN];

    if (apiauth_sha256(access_token, strlen(access_token), hash) != 0) {
        return NULL;
    }
    return apiauth_b64url_encode(p, hash, sizeof(hash));
}

apiauth_status_t apiauth_dpop_verify(apr_pool_t *p, const char *proof,
                                     const apiauth_dpop_expect_t *e,
                                     apiauth_dpop_proof_t *out,
                                     apiauth_error_t *err)
{
    json_t *payload, *iat;
    apiauth_jws_t jws;
    const char *htm, *htu, *jti, *ath, *nonce, *mine, *theirs, *jkt = NULL;
    apiauth_jwk_t *key;
    apiauth_status_t st;

    if (proof == NULL || *proof == '\0' || strlen(proof) > MAX_PROOF) {
        return bad(err, "one DPoP proof of at most 8 KiB is required");
    }
    st = apiauth_jws_open(p, proof, &jws, err);
    if (st == APIAUTH_OK) {
        st = proof_key(p, &jws, e->keys, &key, &jkt, err);
        if (st != APIAUTH_OK) {
            return st;
        }
        st = apiauth_jws_check(p, &jws, key, &payload, err);
    }
    if (st != APIAUTH_OK) {
        return st == APIAUTH_ERROR
                   ? st
                   : bad(err, apr_pstrcat(p, "the proof: ", err->description,
                                          NULL));
    }
    htm = json_string_value(json_object_get(payload, "htm"));
    htu = json_string_value(json_object_get(payload, "htu"));
    jti = json_string_value(json_object_get(payload, "jti"));
    ath = json_string_value(json_object_get(payload, "ath"));
    nonce = json_string_value(json_object_get(payload, "nonce"));
    iat = json_object_get(payload, "iat");
    if (jti == NULL || *jti == '\0' || strlen(jti) > 256) {
        return bad(err, "the proof has no jti");
    }
    if (htm == NULL || strcmp(htm, e->method) != 0) {
        return bad(err, "the proof is for another method (htm)");
    }
    mine = apiauth_url_normalise(p, e->url);
    theirs = apiauth_url_normalise(p, htu);
    if (mine == NULL || theirs == NULL || strcmp(mine, theirs) != 0) {
        return bad(err, "the proof is for another URL (htu)");
    }
    if (!json_is_integer(iat)) {
        return bad(err, "the proof has no iat");
    }
    if (json_integer_value(iat) > e->now + e->window
        || json_integer_value(iat) < e->now - e->window) {
        return bad(err, "the proof's iat is not within the window");
    }
    if (e->access_token) {
        const char *want = apiauth_dpop_ath(p, e->access_token);
        if (ath == NULL || want == NULL || !apiauth_ct_streq(ath, want)) {
            return bad(err, "the proof is for another token (ath)");
        }
    }
    if (e->nonce_key && !apiauth_dpop_nonce_fresh(p, e->nonce_key, nonce,
                                                  e->now)) {
        return apiauth_fail(err, APIAUTH_DENIED, "use_dpop_nonce",
                            "a DPoP nonce of this server is required");
    }
    out->jkt = jkt;
    out->jti = jti;
    out->iat = json_integer_value(iat);
    return APIAUTH_OK;
}

/* slot (8 bytes, big-endian) || first NONCE_MAC bytes of its MAC */
static int nonce_bytes(const apiauth_pepper_t *key, apr_int64_t slot,
                       unsigned char out[8 + NONCE_MAC])
{
    static const char label[] = "apiauth dpop nonce";
    unsigned char mac[APIAUTH_DIGEST_LEN];
    const void *parts[2];
    apr_size_t lens[2];
    int i;

    for (i = 0; i < 8; i++) {
        out[i] = (unsigned char)((apr_uint64_t)slot >> (56 - 8 * i));
    }
    parts[0] = label;
    lens[0] = sizeof(label);
    parts[1] = out;
    lens[1] = 8;
    if (apiauth_hmac(key, parts, lens, 2, mac) != 0) {
        return -1;
    }
    memcpy(out + 8, mac, NONCE_MAC);
    return 0;
}

char *apiauth_dpop_nonce(apr_pool_t *p, const apiauth_pepper_t *key,
                         apr_int64_t now)
{
    unsigned char raw[8 + NONCE_MAC];

    if (nonce_bytes(key, now / APIAUTH_DPOP_NONCE_SLOT, raw) != 0) {
        return NULL;
    }
    return apiauth_b64url_encode(p, raw, sizeof(raw));
}

int apiauth_dpop_nonce_fresh(apr_pool_t *p, const apiauth_pepper_t *key,
                             const char *nonce, apr_int64_t now)
{
    apr_int64_t slot = now / APIAUTH_DPOP_NONCE_SLOT;
    apr_uint64_t theirs = 0;
    unsigned char want[8 + NONCE_MAC];
    unsigned char *raw;
    apr_size_t len;
    int i;

    if (nonce == NULL
        || apiauth_b64url_decode(p, nonce, strlen(nonce), &raw, &len)
               != APIAUTH_OK
        || len != sizeof(want)) {
        return 0;
    }
    for (i = 0; i < 8; i++) {
        theirs = (theirs << 8) | raw[i];
    }
    if ((theirs != (apr_uint64_t)slot && theirs != (apr_uint64_t)(slot - 1))
        || nonce_bytes(key, (apr_int64_t)theirs, want) != 0) {
        return 0;
    }
    return apiauth_ct_equal(raw, want, sizeof(want));
}
