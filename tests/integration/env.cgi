#!/bin/sh
# Prints, one per line, what an application behind mod_apiauth sees: the
# identity variables, the headers that matter, and the request body it got.
body=$(cat)
echo "Content-Type: text/plain"
echo
env | grep -E '^(APIAUTH_|REMOTE_USER=|AUTH_TYPE=|HTTP_X_APIAUTH_|HTTP_AUTHORIZATION=|HTTP_X_API_KEY=|HTTP_X_INSTALL_|QUERY_STRING=)' | sort
printf 'REQUEST_BODY=%s\n' "$body" | head -c 2000
exit 0
