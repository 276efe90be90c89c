/*
 * authorize.c: the authorization endpoint (RFC 6749 §4.1.1, §4.1.2).
 *
 * The order of the checks is the security: until the client and its
 * redirect URI are known to match a registration, an error can only be
 * shown to the user, never sent anywhere (an open redirector otherwise,
 * RFC 9700 §4.11); after that, errors go back to the client with state
 * and iss (RFC 9207).  Redirect URIs match exactly, except the port of a
 * loopback URI (RFC 8252 §7.3).  PKCE is S256 only, required of public
 * clients and, with ApiAuthOAuthRequirePKCE all, of every client.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "encoding.h"
#include "keys.h"
#include "oauth.h"
#include "pkce.h"
#include "scope.h"

#define MAX_STATE 2048
#define CSRF_LIFETIME 600

static apiauth_status_t refuse(apiauth_error_t *err, const char *error,
                               const char *description)
{
    return apiauth_fail(err, APIAUTH_INVALID, error, description);
}

/* The part of a loopback http URI after its port: "http://127.0.0.1:8080/cb"
 * -> "/cb", with *host "http://127.0.0.1"; NULL when `uri` is not loopback
 * http with no port or a port a socket can have (1 to 65535, written
 * without leading zeros). */
static const char *after_loopback_port(const char *uri, const char **host)
{
    static const char *const hosts[] = {"http://127.0.0.1", "http://[::1]"};
    size_t i, n;
    long port = 0;
    int digits = 0;

    for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        n = strlen(hosts[i]);
        if (strncmp(uri, hosts[i], n) != 0
            || (uri[n] != ':' && uri[n] != '/' && uri[n] != '\0')) {
            continue;
        }
        *host = hosts[i];
        uri += n;
        if (*uri != ':') {
            return uri;
        }
        for (uri++; apr_isdigit(*uri) && digits < 6; uri++, digits++) {
            port = port * 10 + (*uri - '0');
        }
        if (digits == 0 || digits > 5 || apr_isdigit(*uri)
            || uri[-digits] == '0' || port > 65535) {
            return NULL;
        }
        return uri;
    }
    return NULL;
}

int apiauth_oauth_redirect_allowed(const char *registered, const char *uri)
{
    const char *cur = registered, *host_u = NULL, *rest_u;

    if (uri == NULL || *uri == '\0' || strchr(uri, '#')) {
        return 0;
    }
    rest_u = after_loopback_port(uri, &host_u);
    while (cur && *cur) {
        const char *sp = strchr(cur, ' ');
        apr_size_t len = sp ? (apr_size_t)(sp - cur) : strlen(cur);
        const char *host_r = NULL, *rest_r;
        char reg[2048];

        if (len > 0 && len < sizeof(reg)) {
            memcpy(reg, cur, len);
            reg[len] = '\0';
            if (strcmp(reg, uri) == 0) {
                return 1;
            }
            rest_r = after_loopback_port(reg, &host_r);
            if (rest_u && rest_r && host_u == host_r
                && strcmp(rest_u, rest_r) == 0) {
                return 1;
            }
        }
        cur = sp ? sp + 1 : NULL;
    }
    return 0;
}

/* The one registered redirect URI, when there is exactly one. */
static const char *only_redirect(apr_pool_t *p, const char *registered)
{
    apr_array_header_t *all = apiauth_scope_split(p, registered);

    return all->nelts == 1 ? APR_ARRAY_IDX(all, 0, const char *) : NULL;
}

apiauth_status_t apiauth_oauth_authorize_check(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    apr_table_t *params, apiauth_oauth_authz_t *a, int *redirectable,
    apiauth_error_t *err)
{
    apiauth_status_t st;
    const char *scope;

    *redirectable = 0;
    memset(a, 0, sizeof(*a));
    a->response_type = apr_table_get(params, "response_type");
    a->client_id = apr_table_get(params, "client_id");
    a->redirect_uri = apr_table_get(params, "redirect_uri");
    a->scope = apr_table_get(params, "scope");
    a->state = apr_table_get(params, "state");
    a->code_challenge = apr_table_get(params, "code_challenge");
    a->code_challenge_method = apr_table_get(params, "code_challenge_method");

    /* 1. who is asking, and where would the answer go: page-only errors */
    if (a->client_id == NULL) {
        return refuse(err, "invalid_request", "client_id is required");
    }
    st = apiauth_oauth_client_find(p, db, a->client_id, &a->client);
    if (st == APIAUTH_ERROR) {
        return apiauth_fail(err, st, "temporarily_unavailable",
                            "the client store is unreachable");
    }
    if (st != APIAUTH_OK) {
        return refuse(err, "invalid_request", "unknown client_id");
    }
    if (a->redirect_uri) {
        if (!apiauth_oauth_redirect_allowed(a->client.redirect_uris,
                                            a->redirect_uri)) {
            return refuse(err, "invalid_request", "redirect_uri is not one "
                          "registered for this client");
        }
        a->redirect_to = a->redirect_uri;
    }
    else if ((a->redirect_to = only_redirect(p, a->client.redirect_uris))
             == NULL) {
        return refuse(err, "invalid_request", "redirect_uri is required: "
                      "this client has several");
    }

    /* 2. everything else goes back to the client */
    *redirectable = 1;
    if (a->state && strlen(a->state) > MAX_STATE) {
        a->state = NULL;
        return refuse(err, "invalid_request", "state is too long");
    }
    if (a->response_type == NULL) {
        return refuse(err, "invalid_request", "response_type is required");
    }
    if (strcmp(a->response_type, "code") != 0) {
        return refuse(err, "unsupported_response_type",
                      "response_type must be code");
    }
    if (!(a->client.grants & APIAUTH_GRANT_AUTHORIZATION_CODE)) {
        return refuse(err, "unauthorized_client", "this client may not use "
                      "the authorization code grant");
    }
    scope = a->scope;
    if (scope == NULL) {
        scope = apiauth_oauth_scope_default(p, cfg, &a->client,
                                            APIAUTH_GRANT_AUTHORIZATION_CODE);
        if (*scope == '\0') {
            return refuse(err, "invalid_scope", "no scope is available to "
                          "this client");
        }
    }
    else if (!apiauth_oauth_scope_allowed(cfg, &a->client,
                                          APIAUTH_GRANT_AUTHORIZATION_CODE,
                                          scope)) {
        return refuse(err, "invalid_scope", "a requested scope is unknown or "
                      "not allowed to this client");
    }
    a->granted_scope = scope;
    if ((st = apiauth_oauth_resource_asked(cfg, &a->client, params,
                                           &a->resource, err))
        != APIAUTH_OK) {
        return st;
    }
    if (a->code_challenge_method && !a->code_challenge) {
        return refuse(err, "invalid_request", "code_challenge_method without "
                      "code_challenge");
    }
    if (a->code_challenge) {
        if (a->code_challenge_method == NULL
            || strcmp(a->code_challenge_method, "S256") != 0) {
            return refuse(err, "invalid_request", "code_challenge_method "
                          "must be S256");
        }
        if (!apiauth_pkce_challenge_valid(a->code_challenge)) {
            return refuse(err, "invalid_request", "code_challenge must be "
                          "the base64url SHA-256 of the verifier");
        }
    }
    else if (apiauth_oauth_client_is_public(&a->client)
             || cfg->require_pkce_all) {
        return refuse(err, "invalid_request", "PKCE is required: send "
                      "code_challenge with code_challenge_method S256");
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_oauth_authorize_issue(
    apr_pool_t *p, const apiauth_oauth_config_t *cfg, apiauth_db_t *db,
    const apiauth_oauth_authz_t *a, const char *user, const char *nonce,
    apr_int64_t now, const char **code, apiauth_error_t *err)
{
    const char *grant_id = apiauth_id_new(p, "grt");
    const char *secret = apiauth_secret_new(p, APIAUTH_PREFIX_CODE);
    const char *digest;
    apiauth_single_use_t code_row;
    apr_dbd_transaction_t *txn = NULL;
    apiauth_status_t st = APIAUTH_ERROR;

    if (grant_id == NULL || secret == NULL
        || apiauth_db_begin(p, db, &txn) != APIAUTH_OK) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the authorization could not be recorded");
    }
    /* the consent form is spent with the code it yields, or not at all */
    if (nonce && (st = apiauth_oauth_consent_spend(p, cfg, db, nonce, now))
                     != APIAUTH_OK) {
        apiauth_db_end(p, db, txn, 0);
        return st == APIAUTH_DENIED
                   ? apiauth_fail(err, st, "access_denied", "this consent "
                                  "form was answered already")
                   : apiauth_fail(err, APIAUTH_ERROR,
                                  "temporarily_unavailable",
                                  "the authorization could not be recorded");
    }
    memset(&code_row, 0, sizeof(code_row));
    code_row.grant_id = grant_id;
    code_row.client_id = a->client.id;
    code_row.user_id = user;
    code_row.scope = a->granted_scope;
    code_row.redirect_uri = a->redirect_uri;   /* as sent: NULL when left
                                                  out */
    code_row.code_challenge = a->code_challenge;
    code_row.expires = now + cfg->code_lifetime;
    digest = apiauth_digest_hex(p, cfg->pepper, secret);
    st = digest && apiauth_store_grant_insert(p, db, grant_id, a->client.id,
                                              user, a->granted_scope,
                                              a->resource, now,
                                              code_row.expires) == APIAUTH_OK
                 && apiauth_store_single_use_insert(
                        p, db, APIAUTH_SINGLE_USE_CODE, digest, &code_row)
                        == APIAUTH_OK
             ? APIAUTH_OK
             : APIAUTH_ERROR;
    if (apiauth_db_end(p, db, txn, st == APIAUTH_OK) != APIAUTH_OK
        || st != APIAUTH_OK) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the authorization could not be recorded");
    }
    *code = secret;
    return APIAUTH_OK;
}

/* Percent-encodes all but RFC 3986 unreserved characters. */
static const char *urlencode(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(s) * 3 + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        }
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0xf];
        }
    }
    *o = '\0';
    return out;
}

char *apiauth_oauth_redirect(apr_pool_t *p, const char *base,
                             const char *const *params)
{
    char *url = apr_pstrdup(p, base);
    char sep = strchr(base, '?') ? '&' : '?';

    for (; params[0]; params += 2) {
        if (params[1] == NULL) {
            continue;
        }
        url = apr_psprintf(p, "%s%c%s=%s", url, sep, params[0],
                           urlencode(p, params[1]));
        sep = '&';
    }
    return url;
}

/* The consent form's MAC: HMAC-SHA-256 under `key` over what the form
 * answers -- the user, and the authorization request as checked: client,
 * redirect URI as sent, granted scope, state, PKCE challenge and method,
 * resource --
 * and its nonce and time.  Each part is length-prefixed: r->user comes
 * from whatever authenticated the user and may hold a newline, and
 * ("a\nb", "c") must not sign the same bytes as ("a", "b\nc"). */
static const char *consent_mac(apr_pool_t *p, const apiauth_pepper_t *key,
                               const char *user,
                               const apiauth_oauth_authz_t *a,
                               const char *nonce, const char *when)
{
    const char *parts[] = {"consent form 3", user, a->client.id,
                           a->redirect_uri, a->granted_scope, a->state,
                           a->code_challenge, a->code_challenge_method,
                           a->resource, nonce, when};
    unsigned char mac[APIAUTH_DIGEST_LEN];
    const void *data[1];
    apr_size_t lens[1];
    char *framed = "";
    size_t i;

    if (user == NULL || a->client.id == NULL || a->granted_scope == NULL) {
        return NULL;
    }
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        const char *v = parts[i] ? parts[i] : "";
        framed = apr_psprintf(p, "%s%" APR_SIZE_T_FMT ":%s\n", framed,
                              strlen(v), v);
    }
    data[0] = framed;
    lens[0] = strlen(framed);
    if (apiauth_hmac(key, data, lens, 1, mac) != 0) {
        return NULL;
    }
    return apiauth_b64url_encode(p, mac, sizeof(mac));
}

char *apiauth_oauth_consent_token(apr_pool_t *p, const apiauth_pepper_t *key,
                                  const char *user,
                                  const apiauth_oauth_authz_t *a,
                                  apr_int64_t now)
{
    const char *when = apr_psprintf(p, "%" APR_INT64_T_FMT, now);
    unsigned char raw[16];
    const char *nonce, *mac;

    if (apiauth_random_bytes(raw, sizeof(raw)) != 0) {
        return NULL;
    }
    nonce = apiauth_b64url_encode(p, raw, sizeof(raw));
    mac = consent_mac(p, key, user, a, nonce, when);
    return mac ? apr_pstrcat(p, when, ".", nonce, ".", mac, NULL) : NULL;
}

int apiauth_oauth_consent_token_valid(apr_pool_t *p,
                                      const apiauth_pepper_t *key,
                                      const char *token, const char *user,
                                      const apiauth_oauth_authz_t *a,
                                      apr_int64_t now, const char **nonce)
{
    const char *dot1, *dot2, *mac, *n;
    char *when;
    apr_int64_t t;

    if (token == NULL || (dot1 = strchr(token, '.')) == NULL
        || dot1 - token > 20 || (dot2 = strchr(dot1 + 1, '.')) == NULL
        || dot2 - dot1 - 1 != 22) {
        return 0;
    }
    when = apr_pstrmemdup(p, token, dot1 - token);
    t = apr_atoi64(when);
    if (t <= 0 || now - t > CSRF_LIFETIME || t > now + 60
        || strcmp(apr_psprintf(p, "%" APR_INT64_T_FMT, t), when) != 0) {
        return 0;
    }
    n = apr_pstrmemdup(p, dot1 + 1, dot2 - dot1 - 1);
    mac = consent_mac(p, key, user, a, n, when);
    if (mac == NULL || !apiauth_ct_streq(mac, dot2 + 1)) {
        return 0;
    }
    *nonce = n;
    return 1;
}

apiauth_status_t apiauth_oauth_consent_spend(apr_pool_t *p,
                                             const apiauth_oauth_config_t *cfg,
                                             apiauth_db_t *db,
                                             const char *nonce,
                                             apr_int64_t now)
{
    const char *digest = apiauth_digest_hex(p, cfg->pepper, nonce);

    /* kept as long as the form could be posted, and the clock skew of
     * another node */
    return digest ? apiauth_store_consent_spend(p, db, digest,
                                                now + CSRF_LIFETIME + 60)
                  : APIAUTH_ERROR;
}
