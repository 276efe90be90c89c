/*
 * keys.h: minting secrets and public ids.
 *
 * Secrets we mint look like GitHub's tokens: a prefix naming what they are
 * (aak_ key, aas_ session, aai_ install, aac_ code, aar_ refresh, aacs_
 * client secret), 32 random base62 characters (190 bits) and a 6-character
 * checksum.  A secret scanner can find a leaked one by its shape and
 * verify the checksum offline; the server refuses a mistyped one without
 * a store lookup.  Secrets of other shapes (a Tapglue 32-hex token) are
 * still accepted: they are simply found by digest like any other.
 */
#ifndef APIAUTH_KEYS_H
#define APIAUTH_KEYS_H

#include <apr_pools.h>

#define APIAUTH_PREFIX_KEY           "aak"
#define APIAUTH_PREFIX_SESSION       "aas"
#define APIAUTH_PREFIX_INSTALL       "aai"
#define APIAUTH_PREFIX_CODE          "aac"
#define APIAUTH_PREFIX_REFRESH       "aar"
#define APIAUTH_PREFIX_CLIENT_SECRET "aacs"

/* Cryptographically strong random bytes (OpenSSL RAND_bytes); 0 on success. */
int apiauth_random_bytes(void *buf, apr_size_t len);

/* A new secret PREFIX_<32 random><6 checksum>; NULL if the RNG failed. */
char *apiauth_secret_new(apr_pool_t *p, const char *prefix);

/* What the shape of a presented secret says. */
typedef enum {
    APIAUTH_SECRET_FOREIGN = 0,  /* not our format: look it up by digest */
    APIAUTH_SECRET_VALID,        /* our format, checksum right */
    APIAUTH_SECRET_CORRUPT       /* our format, checksum wrong: refuse */
} apiauth_secret_shape_t;

apiauth_secret_shape_t apiauth_secret_shape(const char *secret);

/* A new public id PREFIX_<16 random base62>: app_, cli_, crd_ ... */
char *apiauth_id_new(apr_pool_t *p, const char *prefix);

#endif
