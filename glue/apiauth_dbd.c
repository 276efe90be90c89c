/*
 * apiauth_dbd.c: the SQL store through mod_dbd (see apiauth_dbd.h).
 *
 * mod_dbd owns the connections (DBDriver, DBDParams, pooling); we add the
 * statements of sql/catalogue.c before it prepares them on each new
 * connection, and borrow one per request.  When there is none the answer
 * is "store unreachable", which every caller turns into a 503.
 */
#include <apr_dbd.h>
#include <apr_optional.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "apiauth_dbd.h"
#include "catalogue.h"

#define AALOGNO(n) "AA" #n ": "

/* A virtual host without DBD directives shares its main server's mod_dbd
 * configuration; preparing twice into it makes mod_dbd warn per label. */
static int config_seen_before(server_rec *s, server_rec *sp, module *dbd)
{
    void *mine = ap_get_module_config(sp->module_config, dbd);
    server_rec *earlier;

    for (earlier = s; earlier != sp; earlier = earlier->next) {
        if (ap_get_module_config(earlier->module_config, dbd) == mine) {
            return 1;
        }
    }
    return 0;
}

void apiauth_dbd_prepare(server_rec *s, unsigned want, unsigned skip)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare =
        APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    module *dbd = ap_find_linked_module("mod_dbd.c");
    server_rec *sp;
    int i;

    if (prepare == NULL || dbd == NULL) {
        return;
    }
    for (sp = s; sp; sp = sp->next) {
        if (config_seen_before(s, sp, dbd)) {
            continue;
        }
        for (i = 0; i < APIAUTH_SQL_COUNT; i++) {
            unsigned users = apiauth_sql_catalogue[i].users;
            if ((users & want) && !(users & skip)) {
                prepare(sp, apiauth_sql_catalogue[i].text,
                        apiauth_sql_catalogue[i].label);
            }
        }
    }
}

int apiauth_dbd_open(request_rec *r, apiauth_db_t *db)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *acquire =
        APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    ap_dbd_t *dbd;

    if (acquire == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(30001)
                      "the SQL store needs mod_dbd: LoadModule dbd_module, "
                      "DBDriver and DBDParams");
        return -1;
    }
    if ((dbd = acquire(r)) == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(30002)
                      "no database connection from mod_dbd (database down, "
                      "or schema missing: run apiauth-admin init)");
        return -1;
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    db->last_error = NULL;
    return 0;
}
