/*
 * jwt.c: the claims of a JWT access token (RFC 9068 §4, RFC 8725 §3),
 * once jose.c has found its signature good (see jwt.h).
 *
 * Every check a resource server owes a token that is not its own: the
 * explicit type, so that an ID token or any other JWT signed by the same
 * key is not taken for an access token (RFC 8725 §3.11); the issuer and
 * the audience, so that a token for another API is not replayed here
 * (§3.9); the validity window.  What the claims grant (scopes, users) is
 * for the caller to decide.
 */
#include <string.h>

#include <apr_cstr.h>
#include <apr_strings.h>

#include "encoding.h"
#include "jwt.h"

static apiauth_status_t refuse(apiauth_error_t *err, const char *why)
{
    return apiauth_fail(err, APIAUTH_DENIED, "invalid_token", why);
}

/* RFC 7515 §4.1.9: a media type, compared case-insensitively, whose
 * "application/" prefix may be left out. */
static const char *media_subtype(const char *type)
{
    if (apr_cstr_casecmpn(type, "application/", 12) == 0) {
        return type + 12;
    }
    return type;
}

/* A NumericDate (RFC 7519 §2) as an integer: 1 when read, 0 when absent,
 * -1 when of any other JSON type (a string, or a real that would invite
 * rounding games). */
static int numeric_date(json_t *payload, const char *name,
                        apr_int64_t *out)
{
    json_t *v = json_object_get(payload, name);

    *out = 0;
    if (v == NULL) {
        return 0;
    }
    if (!json_is_integer(v)) {
        return -1;
    }
    *out = (apr_int64_t)json_integer_value(v);
    return 1;
}

/* 1 if `aud` (a string or an array of strings, RFC 7519 §4.1.3) holds
 * `want`, 0 if not, -1 if it is neither. */
static int audience_holds(json_t *aud, const char *want)
{
    json_t *item;
    size_t i;
    int found = 0;

    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), want) == 0;
    }
    if (!json_is_array(aud)) {
        return -1;
    }
    json_array_foreach(aud, i, item) {
        if (!json_is_string(item)) {
            return -1;
        }
        found |= strcmp(json_string_value(item), want) == 0;
    }
    return found;
}

static const char *required_string(json_t *payload, const char *name)
{
    const char *s = json_string_value(json_object_get(payload, name));

    return s && *s ? s : NULL;
}

static apiauth_status_t check_dates(json_t *payload,
                                    const apiauth_jwt_expect_t *expect,
                                    apiauth_jwt_claims_t *claims,
                                    apiauth_error_t *err)
{
    apr_int64_t leeway = expect->leeway > 0 ? expect->leeway : 0;
    int exp, nbf, iat;

    exp = numeric_date(payload, "exp", &claims->exp);
    nbf = numeric_date(payload, "nbf", &claims->nbf);
    iat = numeric_date(payload, "iat", &claims->iat);
    if (exp < 0 || nbf < 0 || iat < 0) {
        return refuse(err, "a date claim is not an integer");
    }
    if (exp == 0) {
        return refuse(err, "the token has no exp");
    }
    if (iat == 0) {
        return refuse(err, "the token has no iat");   /* RFC 9068 §2.2 */
    }
    /* The leeway moves `now`, never a claim: no date the token carries
     * can overflow into the past. */
    if (claims->exp <= expect->now - leeway) {
        return refuse(err, "the token has expired");
    }
    if (nbf && claims->nbf > expect->now + leeway) {
        return refuse(err, "the token is not valid yet");
    }
    if (claims->iat > expect->now + leeway) {
        return refuse(err, "the token was issued in the future");
    }
    return APIAUTH_OK;
}

/* RFC 7800 §3.1: a token with cnf is good only to a holder who proves
 * the key it names.  We check a DPoP key's thumbprint (RFC 9449 jkt) and
 * a certificate's (RFC 8705 x5t#S256); a binding of any other kind, or of
 * these but not a string, would be a bearer token here, so it is none. */
static int confirmation_understood(json_t *cnf)
{
    const char *name;
    json_t *value;

    if (cnf == NULL) {
        return 1;
    }
    if (!json_is_object(cnf) || json_object_size(cnf) == 0) {
        return 0;
    }
    json_object_foreach(cnf, name, value) {
        if ((strcmp(name, "jkt") != 0 && strcmp(name, "x5t#S256") != 0)
            || !json_is_string(value) || *json_string_value(value) == '\0') {
            return 0;
        }
    }
    return 1;
}

apiauth_status_t apiauth_jwt_verify(apr_pool_t *p, const char *token,
                                    const apr_array_header_t *keys,
                                    const apiauth_jwt_expect_t *expect,
                                    apiauth_jwt_claims_t *claims,
                                    apiauth_error_t *err)
{
    json_t *header, *payload, *scope;
    const char *typ;
    apiauth_status_t st;
    int aud, i;

    memset(claims, 0, sizeof(*claims));
    if (expect->issuer == NULL || expect->audience == NULL) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "no issuer or audience is configured");
    }
    st = apiauth_jws_verify(p, token, keys, &header, &payload, err);
    if (st != APIAUTH_OK) {
        return st;
    }
    if (expect->typ) {
        typ = json_string_value(json_object_get(header, "typ"));
        if (typ == NULL || apr_cstr_casecmp(media_subtype(typ),
                                            media_subtype(expect->typ))) {
            return refuse(err, "wrong token type (typ)");
        }
    }
    claims->iss = json_string_value(json_object_get(payload, "iss"));
    if (claims->iss == NULL || strcmp(claims->iss, expect->issuer) != 0) {
        return refuse(err, "wrong issuer");
    }
    claims->aud = expect->audience;
    aud = audience_holds(json_object_get(payload, "aud"), expect->audience);
    for (i = 0; aud == 0 && expect->resources
                && i < expect->resources->nelts; i++) {
        claims->aud = APR_ARRAY_IDX(expect->resources, i, const char *);
        aud = audience_holds(json_object_get(payload, "aud"), claims->aud);
    }
    if (aud <= 0) {
        return refuse(err, aud < 0 ? "the token has no valid aud"
                                   : "wrong audience");
    }
    st = check_dates(payload, expect, claims, err);
    if (st != APIAUTH_OK) {
        return st;
    }
    claims->sub = required_string(payload, "sub");
    claims->client_id = required_string(payload, "client_id");
    claims->jti = required_string(payload, "jti");
    if (!claims->sub || !claims->client_id || !claims->jti) {
        return refuse(err, "the token lacks sub, client_id or jti");
    }
    scope = json_object_get(payload, "scope");
    if (scope && !json_is_string(scope)) {
        return refuse(err, "the token's scope is not a string");
    }
    claims->scope = scope ? json_string_value(scope) : "";
    if (!confirmation_understood(json_object_get(payload, "cnf"))) {
        return refuse(err, "the token is bound by a confirmation method "
                           "not checked here (cnf)");
    }
    claims->kid = json_string_value(json_object_get(header, "kid"));
    claims->payload = payload;
    return APIAUTH_OK;
}

const char *apiauth_jwt_peek_issuer(apr_pool_t *p, const char *token)
{
    const char *dot1, *dot2, *iss;
    unsigned char *text;
    apr_size_t len;
    json_t *payload;

    if (token == NULL
        || strnlen(token, APIAUTH_JWS_MAX_LEN + 1) > APIAUTH_JWS_MAX_LEN) {
        return NULL;
    }
    dot1 = strchr(token, '.');
    dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.')
        || apiauth_b64url_decode(p, dot1 + 1, dot2 - dot1 - 1, &text, &len)
           != APIAUTH_OK) {
        return NULL;
    }
    payload = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES,
                         NULL);
    iss = json_string_value(json_object_get(payload, "iss"));
    iss = iss ? apr_pstrdup(p, iss) : NULL;
    json_decref(payload);
    return iss;
}

void apiauth_jwt_identity(const apiauth_jwt_claims_t *claims, const char *app,
                          const char *issuer, const char *audience,
                          apiauth_identity_t *id)
{
    memset(id, 0, sizeof(*id));
    id->kind = APIAUTH_KIND_OAUTH;
    id->credential_id = claims->jti;
    id->client_id = claims->client_id;
    id->app = app ? app : claims->client_id;
    id->user = strcmp(claims->sub, claims->client_id) == 0 ? NULL
                                                          : claims->sub;
    id->scope = claims->scope ? claims->scope : "";
    id->issuer = issuer;
    id->audience = audience;
    id->expires = claims->exp;
    /* RFC 9449 §6.1, RFC 8705 §3.1: a token bound to a key or certificate */
    {
        json_t *cnf = json_object_get(claims->payload, "cnf");
        id->bound_jkt = json_string_value(json_object_get(cnf, "jkt"));
        id->bound_x5t = json_string_value(json_object_get(cnf, "x5t#S256"));
    }
}

int apiauth_jwt_shaped(const char *token)
{
    const char *dot = strchr(token, '.');

    return dot && strchr(dot + 1, '.') != NULL;
}
