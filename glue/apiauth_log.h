/*
 * apiauth_log.h: the numbers of our log lines, in the manner of httpd's
 * APLOGNO, so that an operator can search for one: AA1xxxx mod_apiauth,
 * AA2xxxx mod_apiauth_oauth, AA3xxxx the glue both share.
 */
#ifndef APIAUTH_LOG_H
#define APIAUTH_LOG_H

#define AALOGNO(n) "AA" #n ": "

#endif
