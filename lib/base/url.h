/*
 * url.h: URLs compared as RFC 3986 §6.2.2 and §6.2.3 say two URLs are the
 * same -- what DPoP's htu (RFC 9449 §4.3) needs.
 */
#ifndef APIAUTH_URL_H
#define APIAUTH_URL_H

#include <apr_pools.h>

/* The normal form of an absolute http or https URL, without its query and
 * fragment: scheme and host in lower case, the default port left out,
 * percent-encodings of unreserved characters decoded and the others in
 * upper case, dot segments removed, an empty path made "/".  NULL when it
 * is no such URL (another scheme, no host, a user part, a bad port, a
 * broken percent-encoding, a control character). */
char *apiauth_url_normalise(apr_pool_t *p, const char *url);

#endif
