/*
 * page_template.h: pages with {{placeholders}}, for what people see in a
 * browser (the consent page, ApiAuthOAuthConsentTemplate).
 *
 * A template is read once, at start: every {{name}} in it must be one the
 * page offers, and the ones the page cannot work without must be there,
 * so that a mistake stops httpd instead of breaking a login.  Rendering
 * puts in values the caller has already made safe for HTML; the template
 * itself is the operator's and copied as it is.
 */
#ifndef APIAUTH_PAGE_TEMPLATE_H
#define APIAUTH_PAGE_TEMPLATE_H

#include "apiauth.h"

typedef struct apiauth_template apiauth_template_t;

/* Parses `text`.  `names` (NULL-terminated) are the placeholders offered;
 * each of `required` (NULL-terminated, a subset) must occur at least once.
 * On failure *errmsg says which placeholder, and where. */
apiauth_status_t apiauth_template_parse(apr_pool_t *p, const char *text,
                                        const char *const *names,
                                        const char *const *required,
                                        apiauth_template_t **out,
                                        const char **errmsg);

/* The page: the template with values[i] for names[i] (NULL as ""). */
char *apiauth_template_render(apr_pool_t *p, const apiauth_template_t *t,
                              const char *const *values);

#endif
