/*
 * effects.c: the list of what a decision did (effects.h).
 */
#include <string.h>

#include <apr_strings.h>

#include "effects.h"

void apiauth_effects_init(apiauth_effects_t *fx, apr_pool_t *p)
{
    fx->pool = p;
    fx->list = apr_array_make(p, 4, sizeof(apiauth_effect_t));
}

static apiauth_effect_t *add(apiauth_effects_t *fx, apiauth_effect_kind_t k,
                             const char *what, const char *id)
{
    apiauth_effect_t *e = apr_array_push(fx->list);

    memset(e, 0, sizeof(*e));
    e->kind = k;
    e->what = what ? apr_pstrdup(fx->pool, what) : NULL;
    e->id = id ? apr_pstrdup(fx->pool, id) : NULL;
    return e;
}

void apiauth_effect_revoked(apiauth_effects_t *fx, const char *what,
                            const char *id, apr_int64_t until)
{
    if (fx && id) {
        add(fx, APIAUTH_EFFECT_REVOKED, what, id)->until = until;
    }
}

void apiauth_effect_forget(apiauth_effects_t *fx,
                           const apiauth_credential_t *presented)
{
    apiauth_effect_t *e;

    if (fx == NULL || presented == NULL || presented->secret == NULL) {
        return;
    }
    e = add(fx, APIAUTH_EFFECT_FORGET, NULL, NULL);
    e->presented = *presented;
}

void apiauth_effect_refused(apiauth_effects_t *fx, const char *what)
{
    if (fx) {
        add(fx, APIAUTH_EFFECT_REFUSED, what, NULL);
    }
}

void apiauth_effect_issued(apiauth_effects_t *fx, const char *what,
                           const char *id)
{
    if (fx) {
        add(fx, APIAUTH_EFFECT_ISSUED, what, id);
    }
}

int apiauth_effects_mark(const apiauth_effects_t *fx)
{
    return fx ? fx->list->nelts : 0;
}

void apiauth_effects_rollback(apiauth_effects_t *fx, int mark)
{
    if (fx && mark >= 0 && mark <= fx->list->nelts) {
        fx->list->nelts = mark;
    }
}

int apiauth_effects_count(const apiauth_effects_t *fx,
                          apiauth_effect_kind_t kind)
{
    int i, n = 0;

    for (i = 0; fx && i < fx->list->nelts; i++) {
        n += APR_ARRAY_IDX(fx->list, i, apiauth_effect_t).kind == kind;
    }
    return n;
}
