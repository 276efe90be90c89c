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

/* Is `uri` a resource identifier (RFC 8707 §2, RFC 9728 §1.2): an
 * absolute http or https URL with a host and no fragment (and no
 * query: its metadata URL could not carry one)? */
int apiauth_resource_uri_valid(apr_pool_t *p, const char *uri);

/* Where the protected resource metadata of `resource` is (RFC 9728 §3.1):
 * "/.well-known/oauth-protected-resource" between its host and its path,
 * the path left out when it is "/" or empty.  *path (may be NULL) gets
 * the path part alone, as a server would see it requested. */
char *apiauth_resource_metadata_url(apr_pool_t *p, const char *resource,
                                    const char **path);

#define APIAUTH_RESOURCE_METADATA_PATH "/.well-known/oauth-protected-resource"

#endif
