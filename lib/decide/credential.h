/*
 * credential.h: reading the one credential a request carries.
 *
 * Input is the raw material of a request (header values, query values),
 * output is a parsed credential or the reason it is malformed.  This is
 * the parser every request reaches before anything is looked up, so it is
 * strict, bounded and fuzzed (tests/fuzz/fuzz_credential.c).  It decides
 * syntax only; who the credential belongs to is the providers' business.
 */
#ifndef APIAUTH_CREDENTIAL_H
#define APIAUTH_CREDENTIAL_H

#include "apiauth.h"

/* The schemes a location accepts (ApiAuthScheme), as bits. */
typedef enum {
    APIAUTH_SCHEME_BEARER = 1 << 0,   /* Authorization: Bearer <token> */
    APIAUTH_SCHEME_APIKEY = 1 << 1,   /* X-API-Key: <key> (or a query param) */
    APIAUTH_SCHEME_TOKEN = 1 << 2,    /* Authorization: Token <key> */
    APIAUTH_SCHEME_BASIC = 1 << 3,    /* Authorization: Basic b64(user:pw) */
    APIAUTH_SCHEME_INSTALL = 1 << 4,  /* installid + token, query or headers */
    APIAUTH_SCHEME_DPOP = 1 << 5      /* Authorization: DPoP <token> and a
                                         DPoP proof header (RFC 9449) */
} apiauth_scheme_t;

#define APIAUTH_SCHEME_ALL 0x3f

/* "bearer", "apikey", "token", "basic", "install", "dpop" and back (0 if
 * unknown). */
const char *apiauth_scheme_name(apiauth_scheme_t scheme);
apiauth_scheme_t apiauth_scheme_from_name(const char *name);

/* Where the credential was found: the glue removes it from there before
 * the request goes on to a backend or a log. */
typedef enum {
    APIAUTH_FROM_AUTHORIZATION = 1,
    APIAUTH_FROM_KEY_HEADER,
    APIAUTH_FROM_KEY_QUERY,
    APIAUTH_FROM_INSTALL_HEADERS,
    APIAUTH_FROM_INSTALL_QUERY
} apiauth_source_t;

typedef struct apiauth_credential {
    apiauth_scheme_t scheme;
    apiauth_source_t source;
    const char *secret;      /* the token or key; Basic: the user part */
    const char *password;    /* Basic only: the password part, maybe "" */
    const char *install_id;  /* install only */
} apiauth_credential_t;

/* What the request carries, as the glue found it.  NULL means absent; a
 * query parameter's count says how often it was present (two is refused). */
typedef struct apiauth_request_material {
    unsigned accepted;                 /* APIAUTH_SCHEME_* bits */
    const char *authorization;         /* the Authorization header */
    const char *key_header;            /* the ApiAuthKeyHeader header */
    const char *key_query;             /* the ApiAuthKeyQuery parameter */
    int key_query_count;
    const char *install_id_header;     /* X-Install-Id */
    const char *install_token_header;  /* X-Install-Token */
    const char *install_id_query;      /* installid= */
    int install_id_query_count;
    const char *install_token_query;   /* token= */
    int install_token_query_count;
} apiauth_request_material_t;

/* Longest Authorization header we read (a JWT with many claims fits). */
#define APIAUTH_MAX_AUTHORIZATION 8192
/* Longest key, token, user id or install id. */
#define APIAUTH_MAX_SECRET 1024

/*
 * Finds the one credential of an accepted scheme.
 *   APIAUTH_OK        *cred is filled;
 *   APIAUTH_NOT_MINE  none is there (answer: 401 with challenges);
 *   APIAUTH_INVALID   malformed, or two credentials (answer: 400).
 * Credentials of schemes the location does not accept are ignored, as if
 * they were absent.
 */
apiauth_status_t apiauth_credential_parse(apr_pool_t *p,
                                          const apiauth_request_material_t *m,
                                          apiauth_credential_t *cred,
                                          apiauth_error_t *err);

#endif
