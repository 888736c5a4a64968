#!/usr/bin/env bash
# Makes the broker's TLS certificates for the compose stack with openssl: a private CA (ca.crt,
# ca.key) and the broker's certificate signed by it (server.crt, server.key), valid 825 days.
#   packaging/compose/make-certs.sh [NAME|IP]...
# The certificate names localhost, 127.0.0.1 and every NAME or IP given: give the host name or
# address the gateway's [sinks.mqtt] url uses when it is not localhost. Output: $PM500_CERT_DIR
# (default packaging/compose/certs). Existing files are kept (a CA once trusted stays the same);
# delete the folder to start over. Keys are mode 0600; the broker's image copies them in as its
# own user at start.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${PM500_CERT_DIR:-$here/certs}
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is missing: apt-get install openssl" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
umask 077
# A compose run before this script made empty folders where the files belong: they go.
for f in ca.crt server.crt server.key; do if [ -d "$f" ]; then rmdir "$f"; fi; done

if [ ! -s ca.key ] || [ ! -s ca.crt ]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -days 825 -nodes -keyout ca.key -out ca.crt \
    -subj "/CN=pm500 site-trial CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  rm -f server.crt server.key
fi

san="DNS:localhost,IP:127.0.0.1"
for n in "$@"; do
  if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san+=",IP:$n"; else san+=",DNS:$n"; fi
done
# A certificate that lacks a requested name is made again.
if [ -s server.crt ] && [ -s server.key ] \
   && openssl x509 -in server.crt -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ' \
      | grep -qx "$(sed 's/IP:/IPAddress:/g' <<<"$san")"; then
  echo "make-certs.sh: $dir already holds a CA and a broker certificate for $san"
  exit 0
fi
openssl req -newkey rsa:2048 -sha256 -nodes -keyout server.key -out server.csr \
  -subj "/CN=pm500 site-trial broker" 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
  "$san" >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 \
  -extfile server.ext -out server.crt 2>/dev/null
rm -f server.csr server.ext ca.srl
chmod 0644 ca.crt server.crt
echo "make-certs.sh: $dir: ca.crt (give it to MQTT clients), server.crt and server.key for $san"
