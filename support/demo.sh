#!/bin/sh
# demo.sh (make demo): a demo httpd with mod_apiauth on https://127.0.0.1,
# with a self-signed certificate and a SQLite store made now, seeded with a
# demo app and key.  Prints the curl commands to try and serves until
# Ctrl-C; everything it made is removed when it stops.
#   --selftest   start, run the printed curl commands, stop (used by tests)
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

admin="$top/support/apiauth-admin -P $work/db/apiauth.db"
$admin init 2>/dev/null
$admin app create demo >/dev/null 2>&1
key=$($admin key create demo --scope integration.store 2>/dev/null)
narrow=$($admin key create demo --scope integration.order 2>/dev/null)
echo '{"stores": [{"id": 1, "name": "Demo store"}]}' > "$work/htdocs/api/stores.json"

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
LoadModule apiauth_module $top/mod_apiauth/.libs/mod_apiauth.so
TypesConfig /etc/mime.types
ErrorLog "$work/logs/error.log"
DocumentRoot "$work/htdocs"
SSLEngine on
SSLCertificateFile "$work/cert.pem"
SSLCertificateKeyFile "$work/key.pem"
DBDriver sqlite3
DBDParams "$work/db/apiauth.db"

<Location /api>
    AuthType apiauth
    AuthName "demo"
    ApiAuthScheme apikey bearer token basic
    AuthzSendForbiddenOnFailure On
    Require apiauth-scope integration.store
</Location>
CONF

"$httpd" -DFOREGROUND -f "$work/httpd.conf" &
pid=$!
for i in $(seq 1 50); do
    curl -s -o /dev/null --cacert "$work/cert.pem" "https://127.0.0.1:$port/" && break
    sleep 0.1
done

url="https://127.0.0.1:$port/api/stores.json"
c="curl --cacert $work/cert.pem"
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

TRY

if [ "$selftest" = yes ]; then
    code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" "$@"; }
    a=$(code "$url"); b=$(code -H "X-API-Key: $key" "$url")
    d=$(code -H "Authorization: Token $key" "$url"); e=$(code -u "$key:" "$url")
    f=$(code -H "X-API-Key: $narrow" "$url")
    echo "selftest: $a $b $d $e $f"
    [ "$a $b $d $e $f" = "401 200 200 200 403" ]
    exit $?
fi
echo "serving until Ctrl-C"
wait "$pid"
