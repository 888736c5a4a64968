#!/bin/sh
# Starts influxd (settings from INFLUXDB_* variables, e.g. INFLUXDB_HTTP_BIND_ADDRESS), then
# creates database $INFLUXDB_DB (pm500: the gateway's configuration) with retention
# $INFLUXDB_RETENTION (90d; "INF" keeps everything) when it does not exist yet.
set -eu
db=${INFLUXDB_DB:-pm500}
retention=${INFLUXDB_RETENTION:-90d}
http=${INFLUXDB_HTTP_BIND_ADDRESS:-:8086}
host=${http%:*}
case "$host" in ""|0.0.0.0) host=127.0.0.1 ;; esac
url="http://$host:${http##*:}"

influxd -config /etc/influxdb/influxdb.conf &
pid=$!
trap 'kill -TERM $pid; wait $pid; exit $?' TERM INT
i=0
until curl -fsS -o /dev/null "$url/ping" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 120 ] || ! kill -0 $pid 2>/dev/null; then
    echo "influxdb-entrypoint: influxd did not answer on $url/ping within 60 s" >&2
    kill -TERM $pid 2>/dev/null || true
    exit 1
  fi
  sleep 0.5
done
if curl -fsS "$url/query" --data-urlencode "q=SHOW DATABASES" | grep -q "\[\"$db\"\]"; then
  echo "influxdb-entrypoint: database $db exists"
else
  curl -fsS -o /dev/null -XPOST "$url/query" \
    --data-urlencode "q=CREATE DATABASE \"$db\" WITH DURATION $retention NAME \"default\""
  echo "influxdb-entrypoint: created database $db (retention $retention)"
fi
wait $pid
