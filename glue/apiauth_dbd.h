/*
 * apiauth_dbd.h: the SQL store through mod_dbd, for both modules.
 *
 * httpd glue shared by mod_apiauth and mod_apiauth_oauth (it needs httpd
 * types, so it cannot live in lib/): adding the catalogue's statements to
 * mod_dbd, and borrowing the request's connection as an apiauth_db_t.
 */
#ifndef APIAUTH_GLUE_DBD_H
#define APIAUTH_GLUE_DBD_H

#include <apr_global_mutex.h>
#include <apr_optional.h>
#include <httpd.h>

#include "store.h"

/* Adds the statements whose users include `want` and none of `skip` to
 * every distinct mod_dbd configuration of the servers; runs in
 * post_config, before mod_dbd's.  A no-op when mod_dbd is not loaded. */
void apiauth_dbd_prepare(server_rec *s, unsigned want, unsigned skip);

/* The request's connection (ap_dbd_acquire): 0, or -1 when there is none
 * (logged: mod_dbd missing, database down, schema not initialised).  On
 * SQLite it carries the server's writer lock (below), when there is one. */
int apiauth_dbd_open(request_rec *r, apiauth_db_t *db);

/* The writer lock of SQLite stores: one global mutex ("Mutex ...
 * apiauth-sqlite") for the whole server, held around each write
 * transaction (store.h).  mod_apiauth owns it -- registers it in
 * pre_config, creates it in post_config, attaches children to it -- and
 * hands it to mod_apiauth_oauth among its services (mod_apiauth.h). */
apr_status_t apiauth_dbd_writer_register(apr_pool_t *pconf);
apr_status_t apiauth_dbd_writer_create(apr_pool_t *pconf, server_rec *s);
void apiauth_dbd_writer_child_init(apr_pool_t *p, server_rec *s);
/* The lock, in either module (NULL: none). */
apr_global_mutex_t *apiauth_dbd_writer(void);

#endif
