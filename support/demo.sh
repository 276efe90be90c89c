#!/bin/sh
# demo.sh (make demo): a demo httpd with mod_apiauth and mod_apiauth_oauth
# on https://127.0.0.1, with a self-signed certificate and a SQLite store
# made now, seeded with a demo app, keys, a user and two OAuth clients.
# Prints the curl commands to try, and an authorize URL to open in a
# browser (log in, consent, land on a callback page that shows the code
# and the curl that exchanges it); serves until Ctrl-C; everything it made
# is removed when it stops.
#   --selftest   start, run the printed curl commands and, with node and
#                Chromium, the browser part too; stop (used by tests)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
selftest=no
[ "${1:-}" = "--selftest" ] && selftest=yes
httpd=$(command -v apache2 || echo /usr/sbin/apache2)
moddir=$(apxs -q LIBEXECDIR)

# 8443 when free, another free loopback port otherwise
port=$(/usr/bin/python3 - <<'PY'
import socket
for p in (8443, 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(s.getsockname()[1]); break
    except OSError:
        pass
    finally:
        s.close()
PY
)

work=$(mktemp -d /tmp/apiauth-demo.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/run" "$work/logs" "$work/htdocs/api" "$work/db"
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 644 "$work/key.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$work/signing.pem" 2>/dev/null
chmod 644 "$work/signing.pem"
issuer="https://127.0.0.1:$port"
callback="$issuer/callback.html"
user=demo
password=demo-password
htpasswd -cb "$work/users" "$user" "$password" 2>/dev/null
chmod 644 "$work/users"

admin="$top/support/apiauth-admin -P $work/db/apiauth.db"
$admin init 2>/dev/null
$admin app create demo >/dev/null 2>&1
key=$($admin key create demo --scope integration.store 2>/dev/null)
narrow=$($admin key create demo --scope integration.order 2>/dev/null)
echo '{"stores": [{"id": 1, "name": "Demo store"}]}' > "$work/htdocs/api/stores.json"
json_of() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
web=$($admin --json client create demo-shop --display-name "Demo Shop" \
    --grant authorization_code --redirect-uri "$callback" \
    --scope integration.store --app demo 2>/dev/null)
web_id=$(echo "$web" | json_of client_id)
web_secret=$(echo "$web" | json_of client_secret)
svc=$($admin --json client create demo-service --grant client_credentials \
    --scope integration.store --app demo 2>/dev/null)
svc_id=$(echo "$svc" | json_of client_id)
svc_secret=$(echo "$svc" | json_of client_secret)
c="curl --cacert $work/cert.pem"
exchange="$c $issuer/oauth2/token -u $web_id:$web_secret -d grant_type=authorization_code -d redirect_uri=$callback -d code="
# the client's page: what came back, and how to exchange it
cat > "$work/htdocs/callback.html" <<PAGE
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo Shop: back from apiauth</title></head>
<body>
<h1>Back at Demo Shop</h1>
<p id="what"></p>
<pre id="curl"></pre>
<script>
const q = new URLSearchParams(location.search);
const code = q.get('code');
document.getElementById('what').textContent = code
  ? 'The authorization server sent code ' + code + ' (state ' + q.get('state') + ', iss ' + q.get('iss') + '). Exchange it within a minute:'
  : 'No code: ' + (q.get('error') || 'nothing') + ' ' + (q.get('error_description') || '');
if (code) {
  document.getElementById('curl').textContent = '$exchange' + encodeURIComponent(code);
}
</script>
</body></html>
PAGE

user_group=
if [ "$(id -u)" = 0 ]; then
    user_group="User www-data
Group www-data"
    chown -R www-data:www-data "$work/db" "$work/run"
fi

cat > "$work/httpd.conf" <<CONF
ServerRoot "$work"
ServerName 127.0.0.1
DefaultRuntimeDir "$work/run"
PidFile "$work/run/httpd.pid"
Listen 127.0.0.1:$port
$user_group
LoadModule mpm_event_module $moddir/mod_mpm_event.so
LoadModule authn_core_module $moddir/mod_authn_core.so
LoadModule authz_core_module $moddir/mod_authz_core.so
LoadModule mime_module $moddir/mod_mime.so
LoadModule dbd_module $moddir/mod_dbd.so
LoadModule socache_shmcb_module $moddir/mod_socache_shmcb.so
LoadModule ssl_module $moddir/mod_ssl.so
LoadModule auth_basic_module $moddir/mod_auth_basic.so
LoadModule authn_file_module $moddir/mod_authn_file.so
LoadModule authz_user_module $moddir/mod_authz_user.so
LoadModule apiauth_module $top/mod_apiauth/.libs/mod_apiauth.so
LoadModule apiauth_oauth_module $top/mod_apiauth_oauth/.libs/mod_apiauth_oauth.so
TypesConfig /etc/mime.types
ErrorLog "$work/logs/error.log"
DocumentRoot "$work/htdocs"
SSLEngine on
SSLCertificateFile "$work/cert.pem"
SSLCertificateKeyFile "$work/key.pem"
DBDriver sqlite3
DBDParams "$work/db/apiauth.db"

ApiAuthOAuthIssuer $issuer
ApiAuthOAuthSigningKey "$work/signing.pem"
ApiAuthOAuthScope integration.store authorization_code client_credentials
ApiAuthOAuthScopeDescription integration.store "See and change your demo store"

<Location /api>
    AuthType apiauth
    AuthName "demo"
    ApiAuthScheme apikey bearer token basic
    ApiAuthProvider dbd oauth
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.store
</Location>
<Location /oauth2/authorize>
    AuthType Basic
    AuthName "Demo sign-in"
    AuthBasicProvider file
    AuthUserFile "$work/users"
    Require valid-user
    SetHandler apiauth-authorize
</Location>
<Location /oauth2/token>
    SetHandler apiauth-token
</Location>
<Location /.well-known/oauth-authorization-server>
    SetHandler apiauth-metadata
</Location>
<Location /.well-known/jwks.json>
    SetHandler apiauth-jwks
</Location>
CONF

"$httpd" -DFOREGROUND -f "$work/httpd.conf" &
pid=$!
for i in $(seq 1 50); do
    curl -s -o /dev/null --cacert "$work/cert.pem" "https://127.0.0.1:$port/" && break
    sleep 0.1
done

url="https://127.0.0.1:$port/api/stores.json"
authorize="$issuer/oauth2/authorize?response_type=code&client_id=$web_id&redirect_uri=$(/usr/bin/python3 -c "import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=''))" "$callback")&scope=integration.store&state=demo"
cat <<TRY

apiauth demo: https://127.0.0.1:$port  (app "demo", store $work/db/apiauth.db)

  # no credential: 401 with a challenge per accepted scheme
  $c -i $url

  # the demo key (scope integration.store): 200
  $c -H "X-API-Key: $key" $url

  # the same key as Authorization: Token, and as Basic with an empty password
  $c -H "Authorization: Token $key" $url
  $c -u "$key:" $url

  # a key without the scope this location requires: 403 insufficient_scope
  $c -i -H "X-API-Key: $narrow" $url

  # more keys:
  $admin key create demo --scope integration.store --expires 1h

  # OAuth client credentials, then the API with the access token
  $c $issuer/oauth2/token -u $svc_id:$svc_secret -d grant_type=client_credentials
  $c -H "Authorization: Bearer ACCESS_TOKEN" $url

  # the authorization code flow in a browser (accept the certificate):
  #   $authorize
  # sign in as $user / $password, allow Demo Shop, and the callback page
  # shows the code and the curl that exchanges it

TRY

if [ "$selftest" = yes ]; then
    code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" "$@"; }
    a=$(code "$url"); b=$(code -H "X-API-Key: $key" "$url")
    d=$(code -H "Authorization: Token $key" "$url"); e=$(code -u "$key:" "$url")
    f=$(code -H "X-API-Key: $narrow" "$url")
    echo "selftest: $a $b $d $e $f"
    [ "$a $b $d $e $f" = "401 200 200 200 403" ] || exit 1
    # client credentials, and its token at the API
    token=$($c -s $issuer/oauth2/token -u "$svc_id:$svc_secret" \
        -d grant_type=client_credentials | json_of access_token)
    g=$(code -H "Authorization: Bearer $token" "$url")
    echo "selftest client_credentials: $g"
    [ "$g" = 200 ] || exit 1
    # the browser: Chromium signs in, allows, lands on the callback page
    consent="$top/tests/clients/consent.mjs"
    if command -v node >/dev/null && [ -d "$top/tests/clients/node_modules/playwright-core" ]; then
        out=$(node "$consent" "{\"url\": \"$authorize\", \"decision\": \"approve\",
            \"login\": {\"how\": \"basic\", \"user\": \"$user\", \"password\": \"$password\"},
            \"back_to\": \"$callback\"}")
        landed=$(printf "%s" "$out" | json_of landed)
        shown=$(printf "%s" "$out" | json_of landed_text)
        got=$(/usr/bin/python3 -c "import urllib.parse,sys; print(urllib.parse.parse_qs(urllib.parse.urlparse(sys.argv[1]).query)['code'][0])" "$landed")
        case "$shown" in *"$exchange"*) page=ok ;; *) page=missing ;; esac
        token=$($exchange"$got" -s | json_of access_token)
        h=$(code -H "Authorization: Bearer $token" "$url")
        echo "selftest browser: callback page $page, code exchanged, API $h"
        [ "$page $h" = "ok 200" ] || exit 1
    else
        echo "selftest browser: skipped (no node or playwright-core: make clients)"
    fi
    exit 0
fi
echo "serving until Ctrl-C"
wait "$pid"
