/*
 * scope.h: space-separated scope lists (RFC 6749 §3.3).
 */
#ifndef APIAUTH_SCOPE_H
#define APIAUTH_SCOPE_H

#include <apr_pools.h>
#include <apr_tables.h>

/* scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
int apiauth_scope_token_valid(const char *s, apr_size_t len);

/* A list of scope-tokens separated by single spaces (or empty). */
int apiauth_scope_list_valid(const char *list);

/* Is `scope` one of the tokens of `list`? */
int apiauth_scope_has(const char *list, const char *scope);

/* Is every token of `wanted` in `granted`? */
int apiauth_scope_subset(const char *wanted, const char *granted);

/* The tokens of `list` as an array of strings (pool copies). */
apr_array_header_t *apiauth_scope_split(apr_pool_t *p, const char *list);

#endif
