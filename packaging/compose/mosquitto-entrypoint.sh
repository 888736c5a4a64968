#!/bin/sh
# Writes the broker's configuration from the environment and starts mosquitto:
#   MQTT_LISTEN_ADDRESS (0.0.0.0), MQTT_TLS_PORT (8883): the only listener, TLS 1.2 or newer
#   MQTT_USERNAME, MQTT_PASSWORD: the one account; without MQTT_PASSWORD the broker refuses to start
# The certificates are read from /certs (ca.crt, server.crt, server.key: packaging/compose/make-certs.sh).
set -eu
addr=${MQTT_LISTEN_ADDRESS:-0.0.0.0}
port=${MQTT_TLS_PORT:-8883}
user=${MQTT_USERNAME:-pm500-gateway}
for f in ca.crt server.crt server.key; do
  if [ ! -f "/certs/$f" ] || [ ! -s "/certs/$f" ]; then
    echo "mosquitto-entrypoint: /certs/$f is missing: run packaging/compose/make-certs.sh, then start again" >&2
    exit 2
  fi
done
if [ -z "${MQTT_PASSWORD:-}" ]; then
  echo "mosquitto-entrypoint: MQTT_PASSWORD is empty: set PM500_MQTT_PASSWORD for compose" >&2
  exit 2
fi
run=/run/pm500-mosquitto
rm -rf "$run"
install -d -o mosquitto -g mosquitto -m 0700 "$run"
install -o mosquitto -g mosquitto -m 0600 /certs/ca.crt /certs/server.crt /certs/server.key "$run/"
touch "$run/passwd"
mosquitto_passwd -b "$run/passwd" "$user" "$MQTT_PASSWORD"
chown mosquitto:mosquitto "$run/passwd"
chmod 0600 "$run/passwd"
cat >"$run/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous false
password_file $run/passwd
persistence true
persistence_location /var/lib/mosquitto/
log_dest stdout
listener $port $addr
cafile $run/ca.crt
certfile $run/server.crt
keyfile $run/server.key
tls_version tlsv1.2
CONF
echo "mosquitto-entrypoint: TLS listener on $addr:$port, user $user"
exec mosquitto -c "$run/mosquitto.conf"
