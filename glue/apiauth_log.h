/*
 * apiauth_log.h: the numbers of our log lines, in the manner of httpd's
 * APLOGNO, so that an operator can search for one: AA1xxxx mod_apiauth,
 * AA2xxxx mod_apiauth_oauth, AA3xxxx the glue both share.
 */
#ifndef APIAUTH_LOG_H
#define APIAUTH_LOG_H

#define AALOGNO(n) "AA" #n ": "

/* Everything is compiled -fvisibility=hidden: calls between our files are
 * direct, and nothing of ours can collide with another module's symbols.
 * Only a module's record leaves its shared object (httpd looks it up). */
#define APIAUTH_MODULE_RECORD __attribute__((visibility("default")))

#endif
