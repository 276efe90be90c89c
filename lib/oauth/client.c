/*
 * client.c: OAuth clients, their authentication and their scopes.
 *
 * A confidential client proves itself with its secret, by HTTP Basic
 * (client_secret_basic) or in the body (client_secret_post), never both
 * (RFC 6749 §2.3: one method per request).  The secret is found by its
 * digest like every other secret and compared in constant time.  A
 * public client has no secret and names itself by client_id; PKCE is what
 * protects its codes (lib/oauth/grants.c).
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "digest.h"
#include "encoding.h"
#include "form.h"
#include "jwt.h"
#include "oauth.h"
#include "scope.h"

/* A client id: one of ours (cli_...), or the https URL of a client
 * metadata document -- printable, no space, quote or backslash. */
static int client_id_acceptable(const char *id)
{
    const char *c;

    if (apiauth_name_is_valid(id)) {
        return 1;
    }
    if (strncmp(id, "https://", 8) != 0 || strlen(id) > 512) {
        return 0;
    }
    for (c = id; *c; c++) {
        if (*c <= 0x20 || *c >= 0x7f || *c == '"' || *c == '\\') {
            return 0;
        }
    }
    return 1;
}

apiauth_status_t apiauth_oauth_client_find(apr_pool_t *p, apiauth_db_t *db,
                                           const char *id,
                                           apiauth_oauth_client_t *client)
{
    if (id == NULL || !client_id_acceptable(id)) {
        return APIAUTH_NOT_MINE;
    }
    return apiauth_store_client_find(p, db, id, client);
}

/* client_secret_basic: base64(urlencode(id) ":" urlencode(secret)). */
static apiauth_status_t basic_credentials(apr_pool_t *p, const char *header,
                                          const char **id,
                                          const char **secret,
                                          apiauth_error_t *err)
{
    unsigned char *plain;
    apr_size_t len;
    const char *b64 = header + 6, *colon;
    char *raw_id;

    while (*b64 == ' ') {
        b64++;
    }
    if (apiauth_b64_decode(p, b64, strlen(b64), &plain, &len) != APIAUTH_OK
        || strlen((char *)plain) != len
        || (colon = strchr((char *)plain, ':')) == NULL) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the Basic client credentials are malformed");
    }
    raw_id = apr_pstrmemdup(p, (char *)plain, colon - (char *)plain);
    if (apiauth_urldecode(p, raw_id, strlen(raw_id), (char **)id) != APIAUTH_OK
        || apiauth_urldecode(p, colon + 1, strlen(colon + 1), (char **)secret)
               != APIAUTH_OK) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the Basic client credentials are not "
                            "form-urlencoded");
    }
    return APIAUTH_OK;
}

/* RFC 8705 §2: the certificate the client registered, by thumbprint
 * (self-signed), or by the subject a CA the TLS layer trusts vouched for. */
static int certificate_matches(const apiauth_oauth_client_t *client,
                               const apiauth_tls_client_t *tls)
{
    if (tls == NULL || tls->x5t == NULL) {
        return 0;
    }
    if (client->tls_x5t) {
        return apiauth_ct_streq(tls->x5t, client->tls_x5t);
    }
    return client->tls_subject && tls->subject
           && strcmp(tls->subject, client->tls_subject) == 0;
}

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define ASSERTION_MAX_LIFE 3600

/* Does the assertion's aud name this server: its issuer, or an endpoint
 * of it (RFC 7523 §3: the token endpoint URL may be used)? */
static int names_us(const apiauth_oauth_config_t *cfg, json_t *aud)
{
    apr_size_t n = cfg->issuer ? strlen(cfg->issuer) : 0;
    json_t *one;
    size_t i;

    if (json_is_string(aud)) {
        const char *a = json_string_value(aud);
        return n && strncmp(a, cfg->issuer, n) == 0
               && (a[n] == '\0' || a[n] == '/');
    }
    json_array_foreach(aud, i, one) {
        if (names_us(cfg, one)) {
            return 1;
        }
    }
    return 0;
}

/* private_key_jwt (RFC 7523 §2.2, §3): a JWT the client signed with a key
 * of its registered set, naming itself (iss, sub) and us (aud), short
 * lived, used once (its jti is spent in the store). */
static apiauth_status_t by_assertion(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    const char *assertion, const char *body_id, apr_int64_t now,
    apiauth_oauth_client_t *client, apiauth_error_t *err)
{
    static const char *const fail = "the client assertion is not valid";
    const char *id = apiauth_jwt_peek_issuer(p, assertion), *sub, *jti;
    apr_array_header_t *keys = NULL;
    json_t *header, *payload, *exp;
    const char *why = NULL, *spent;
    apiauth_status_t st;

    if (id == NULL || (body_id && strcmp(body_id, id) != 0)) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_client", fail);
    }
    st = apiauth_oauth_client_find(p, db, id, client);
    if (st != APIAUTH_OK) {
        return st == APIAUTH_ERROR
                   ? apiauth_fail(err, st, "temporarily_unavailable",
                                  "the client store is unreachable")
                   : apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                                  fail);
    }
    if (!apiauth_oauth_client_is_jwt(client)
        || apiauth_jwks_parse(p, client->jwks, strlen(client->jwks), &keys,
                              &why) != APIAUTH_OK
        || apiauth_jws_verify(p, assertion, keys, &header, &payload, err)
               != APIAUTH_OK) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_client", fail);
    }
    sub = json_string_value(json_object_get(payload, "sub"));
    jti = json_string_value(json_object_get(payload, "jti"));
    exp = json_object_get(payload, "exp");
    if (sub == NULL || strcmp(sub, id) != 0 || jti == NULL || *jti == '\0'
        || strlen(jti) > 256 || !names_us(cfg, json_object_get(payload, "aud"))
        || !json_is_integer(exp) || json_integer_value(exp) <= now
        || json_integer_value(exp) > now + ASSERTION_MAX_LIFE) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_client", fail);
    }
    /* once: a copied assertion is no key */
    spent = apiauth_digest_hex(p, cfg->pepper,
                               apr_pstrcat(p, "client assertion\n", id, "\n",
                                           jti, NULL));
    switch (spent ? apiauth_store_consent_spend(p, db, spent,
                                                json_integer_value(exp))
                  : APIAUTH_ERROR) {
    case APIAUTH_OK:
        return APIAUTH_OK;
    case APIAUTH_DENIED:
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                            "this client assertion was used before");
    default:
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the client store is unreachable");
    }
}

static apiauth_status_t authenticate(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    const char *authorization, apr_table_t *params,
    const apiauth_tls_client_t *tls, int public_allowed,
    apiauth_oauth_client_t *client, apiauth_client_auth_t *method,
    apiauth_error_t *err)
{
    const char *body_id = apr_table_get(params, "client_id");
    const char *body_secret = apr_table_get(params, "client_secret");
    const char *assertion_type = apr_table_get(params,
                                               "client_assertion_type");
    const char *id = NULL, *secret = NULL, *digest;
    apiauth_status_t st;

    *method = APIAUTH_CLIENT_AUTH_NONE;
    if (assertion_type || apr_table_get(params, "client_assertion")) {
        const char *assertion = apr_table_get(params, "client_assertion");
        if (body_secret || (authorization
                            && strncasecmp(authorization, "Basic ", 6) == 0)
            || assertion == NULL || assertion_type == NULL
            || strcmp(assertion_type, JWT_BEARER) != 0) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "a client assertion is one JWT with "
                                "client_assertion_type " JWT_BEARER
                                ", and no other client authentication");
        }
        *method = APIAUTH_CLIENT_AUTH_JWT;
        return by_assertion(p, cfg, db, assertion, body_id,
                            apr_time_sec(apr_time_now()), client, err);
    }
    if (authorization && strncasecmp(authorization, "Basic ", 6) == 0) {
        if (body_secret) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "use one client authentication method, "
                                "not Basic and client_secret together");
        }
        st = basic_credentials(p, authorization, &id, &secret, err);
        if (st != APIAUTH_OK) {
            return st;
        }
        if (body_id && strcmp(body_id, id) != 0) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "client_id differs from the authenticated "
                                "client");
        }
        *method = APIAUTH_CLIENT_AUTH_BASIC;
        if (*secret == '\0') {
            /* Basic "client_id:" is how OAuth libraries name a public
             * client; an empty secret is no secret (RFC 6749 §3.1) */
            if (!public_allowed) {
                return apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                                    "client authentication is required");
            }
            secret = NULL;
        }
    }
    else if (body_secret) {
        if (body_id == NULL) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "client_secret without client_id");
        }
        id = body_id;
        secret = body_secret;
        *method = APIAUTH_CLIENT_AUTH_POST;
    }
    else if (body_id && (public_allowed || (tls && tls->x5t))) {
        id = body_id;     /* a public client, or one with its certificate */
    }
    else {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                            "client authentication is required");
    }

    st = apiauth_oauth_client_find(p, db, id, client);
    if (st == APIAUTH_ERROR) {
        return apiauth_fail(err, st, "temporarily_unavailable",
                            "the client store is unreachable");
    }
    if (st != APIAUTH_OK) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                            "unknown client or wrong secret");
    }
    if (secret == NULL) {
        if (apiauth_oauth_client_is_mtls(client)) {
            if (!certificate_matches(client, tls)) {
                return apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                                    "this client authenticates with its "
                                    "TLS certificate, and this is not it");
            }
            *method = APIAUTH_CLIENT_AUTH_TLS;
            return APIAUTH_OK;
        }
        return apiauth_oauth_client_is_public(client) && public_allowed
                   ? APIAUTH_OK
                   : apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                                  apiauth_oauth_client_is_jwt(client)
                                      ? "this client must authenticate with "
                                        "an assertion signed by its key"
                                      : "this client must authenticate with "
                                        "its secret");
    }
    if (apiauth_oauth_client_is_jwt(client)) {
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                            "this client must authenticate with an "
                            "assertion signed by its key");
    }
    digest = apiauth_digest_hex(p, cfg->pepper, secret);
    if (apiauth_oauth_client_is_public(client) || digest == NULL
        || !apiauth_ct_streq(digest, client->secret_digest)) {
        /* the same words as an unknown client: nothing to learn here */
        return apiauth_fail(err, APIAUTH_DENIED, "invalid_client",
                            "unknown client or wrong secret");
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_oauth_client_authenticate(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    const char *authorization, apr_table_t *params,
    const apiauth_tls_client_t *tls, int public_allowed,
    apiauth_oauth_client_t *client, apiauth_client_auth_t *method,
    apiauth_effects_t *fx, apiauth_error_t *err)
{
    apiauth_status_t st = authenticate(p, cfg, db, authorization, params,
                                       tls, public_allowed, client, method,
                                       err);

    if (st == APIAUTH_DENIED) {
        apiauth_effect_refused(fx, "client");
    }
    return st;
}

static const apiauth_oauth_scope_t *registered(const apiauth_oauth_config_t *cfg,
                                               const char *name)
{
    int i;

    for (i = 0; cfg->scopes && i < cfg->scopes->nelts; i++) {
        const apiauth_oauth_scope_t *s =
            &APR_ARRAY_IDX(cfg->scopes, i, apiauth_oauth_scope_t);
        if (strcmp(s->name, name) == 0) {
            return s;
        }
    }
    return NULL;
}

int apiauth_oauth_scope_allowed(const apiauth_oauth_config_t *cfg,
                                const apiauth_oauth_client_t *client,
                                unsigned grant, const char *wanted)
{
    const char *cur = wanted;
    char token[257];

    if (!apiauth_scope_list_valid(wanted)) {
        return 0;
    }
    while (cur && *cur) {
        const char *sp = strchr(cur, ' ');
        apr_size_t len = sp ? (apr_size_t)(sp - cur) : strlen(cur);
        const apiauth_oauth_scope_t *s;
        memcpy(token, cur, len);
        token[len] = '\0';
        s = registered(cfg, token);
        if (s == NULL || !(s->grants & grant)
            || !apiauth_scope_has(client->scope, token)) {
            return 0;
        }
        cur = sp ? sp + 1 : NULL;
    }
    return 1;
}

const char *apiauth_oauth_scope_default(apr_pool_t *p,
                                        const apiauth_oauth_config_t *cfg,
                                        const apiauth_oauth_client_t *client,
                                        unsigned grant)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
    int i;

    for (i = 0; cfg->scopes && i < cfg->scopes->nelts; i++) {
        const apiauth_oauth_scope_t *s =
            &APR_ARRAY_IDX(cfg->scopes, i, apiauth_oauth_scope_t);
        if ((s->grants & grant) && apiauth_scope_has(client->scope, s->name)) {
            APR_ARRAY_PUSH(out, const char *) = s->name;
        }
    }
    return apr_array_pstrcat(p, out, ' ');
}

apiauth_status_t apiauth_oauth_resource_asked(const apiauth_oauth_config_t *cfg,
                                              const apiauth_oauth_client_t *client,
                                              apr_table_t *params,
                                              const char **resource,
                                              apiauth_error_t *err)
{
    const apr_array_header_t *all = apr_table_elts(params);
    const char *asked = NULL;
    int i, n = 0;

    *resource = NULL;
    for (i = 0; i < all->nelts; i++) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(all, i,
                                                    apr_table_entry_t);
        if (strcmp(e->key, "resource") == 0) {
            asked = e->val;
            n++;
        }
    }
    if (n == 0) {
        return APIAUTH_OK;
    }
    if (n > 1) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_target",
                            "one resource per request");
    }
    for (i = 0; cfg->resources && i < cfg->resources->nelts; i++) {
        if (strcmp(asked, APR_ARRAY_IDX(cfg->resources, i, const char *))
            == 0) {
            if (client->resources
                && !apiauth_scope_has(client->resources, asked)) {
                return apiauth_fail(err, APIAUTH_INVALID, "invalid_target",
                                    "this client may not ask for that "
                                    "resource");
            }
            *resource = APR_ARRAY_IDX(cfg->resources, i, const char *);
            return APIAUTH_OK;
        }
    }
    return apiauth_fail(err, APIAUTH_INVALID, "invalid_target",
                        "the resource is not one this server issues tokens "
                        "for");
}

/* RFC 7591's client_name is for people: any text, but no control
 * character (it is shown on a page, logged, put in JSON), none of the
 * marks that reorder the text around it (U+202A-U+202E, U+2066-U+2069:
 * the consent page's sentence must read as written), and not so long
 * that it pushes the page off the screen. */
int apiauth_oauth_client_name_valid(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    json_t *utf8 = json_string(s);   /* NULL unless valid UTF-8 */
    size_t chars = 0;

    json_decref(utf8);
    for (; *c; c++) {
        if (*c < 0x20 || *c == 0x7f
            || (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f)      /* C1 */
            || (c[0] == 0xe2 && c[1] == 0x80 && c[2] >= 0xaa
                && c[2] <= 0xae)                           /* LRE..RLO */
            || (c[0] == 0xe2 && c[1] == 0x81 && c[2] >= 0xa6
                && c[2] <= 0xa9)) {                        /* LRI..PDI */
            return 0;
        }
        chars += (*c & 0xc0) != 0x80;
    }
    return utf8 != NULL && chars >= 1 && chars <= 100;
}

int apiauth_oauth_redirect_uri_registrable(apr_pool_t *p, const char *uri,
                                           int native)
{
    apr_uri_t u;

    if (strchr(uri, '#') || strchr(uri, ' ')) {
        return 0;
    }
    /* RFC 8252 §7.1: an app's own scheme, named after a domain it owns */
    if (native && strchr(uri, ':') && strchr(uri, '.')
        && strchr(uri, '.') < strchr(uri, ':')
        && strncmp(uri, "http", 4) != 0) {
        const char *c;
        for (c = uri; *c != ':'; c++) {
            if (!apr_isalnum(*c) && *c != '.' && *c != '-' && *c != '+') {
                return 0;
            }
        }
        return strlen(uri) > (apr_size_t)(c - uri) + 1;
    }
    if (apr_uri_parse(p, uri, &u) != APR_SUCCESS || u.scheme == NULL
        || u.hostname == NULL || u.fragment) {
        return 0;
    }
    if (strcmp(u.scheme, "https") == 0) {
        return 1;
    }
    return strcmp(u.scheme, "http") == 0
           && (strcmp(u.hostname, "127.0.0.1") == 0
               || strcmp(u.hostname, "::1") == 0);
}
