#!/usr/bin/env python3
"""The compose stack's Grafana dashboard queries what the gateway writes.

    check_dashboard.py PM500-GATEWAY REPO

Runs the gateway for a few seconds with its built-in simulated meter (every data assembly) and a
file sink writing line protocol with the default measurement, and reads the measurement, tag keys
and field keys from that output. Then every query of packaging/compose/grafana/dashboards/*.json
(panel targets and template variables) must name only those, and the stack's configuration must
agree: the InfluxDB sink's measurement and database (packaging/compose/gateway.toml), the database
compose.yaml creates, the data source's database and uid. Also from the output: the value of every
tag a query filters on by a literal (quality = "suspect"), and the type of every field, so that an
aggregation that needs numbers (mean, sum, ...) is not applied to a string or a boolean. Filters by
$variable need the variable, aliases by $tag_X need the group by X. Exit 0 when all agree, 1 with
every mismatch listed otherwise.
"""
import glob
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import tomllib


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def written_names(gateway, work):
    """Measurement, tag keys and field keys of the line protocol the gateway writes."""
    out = os.path.join(work, "samples.lp")
    config = os.path.join(work, "gateway.toml")
    with open(config, "w") as f:
        # nominal_voltage far from the simulator's 480 V: a plausibility finding, so samples carry
        # the quality tag too.
        f.write(f"""[gateway]
site = "dash"
state_dir = "{work}/state"
[logging]
format = "json"
[simulator]
enabled = true
address = "127.0.44.200"
[scanner]
local_address = "0.0.0.0"
udp_port = {free_udp_port()}
[status]
enabled = false
[[devices]]
name = "m1"
address = "127.0.44.200"
rpi_ms = 100
nominal_voltage = 230
assemblies = [101, 102, 103, 104, 105, 106, 107, 108]
[sinks.file]
path = "{out}"
flush_interval_ms = 0
""")
    gw = subprocess.Popen([gateway, "run", "-c", config], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    deadline = time.monotonic() + 20
    measurements, tags, fields = set(), {}, {}
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if gw.poll() is not None:
                break
            if os.path.exists(out):
                with open(out) as f:
                    lines = f.read().splitlines()
                if len(lines) >= 40 and any(",quality=" in l for l in lines):
                    break
    finally:
        gw.terminate()
        log = gw.communicate(timeout=15)[0].decode(errors="replace")
    if not lines:
        sys.exit(f"check_dashboard: the gateway wrote no samples in 20 s; its log:\n{log}")
    for line in lines:
        # measurement,tag=v,... field=v,... timestamp (the gateway escapes spaces in tag values)
        series, field_set = re.split(r"(?<!\\) ", line)[:2]
        parts = re.split(r"(?<!\\),", series)
        measurements.add(parts[0])
        for p in parts[1:]:
            key, value = p.split("=", 1)
            tags.setdefault(key, set()).add(value.replace("\\", ""))
        for p in re.split(r"(?<!\\),(?=[^,=]+=)", field_set):
            key, value = p.split("=", 1)
            fields.setdefault(key, set()).add(field_type(value))
    return measurements, tags, fields


def field_type(value):
    """The type of a line protocol field value: "string", "boolean" or "number" (float or integer)."""
    if value.startswith('"'):
        return "string"
    if value in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"):
        return "boolean"
    return "number"


# InfluxQL selectors and aggregations that need numbers (count, first, last, distinct, mode take any).
NUMERIC = {"mean", "median", "sum", "spread", "stddev", "integral", "min", "max", "percentile",
           "derivative", "non_negative_derivative", "difference", "non_negative_difference",
           "moving_average", "cumulative_sum", "math"}


def main():
    gateway, repo = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="pm500-dashboard.") as work:
        measurements, tags, fields = written_names(gateway, work)
    if len(measurements) != 1:
        sys.exit(f"check_dashboard: expected one measurement, the gateway wrote {sorted(measurements)}")
    measurement = next(iter(measurements))
    print(f"the gateway writes measurement {measurement}, tags {sorted(tags)}, {len(fields)} fields; "
          f"quality values {sorted(tags.get('quality', []))}")
    problems = []

    compose = os.path.join(repo, "packaging", "compose")
    with open(os.path.join(compose, "gateway.toml"), "rb") as f:
        influx = tomllib.load(f)["sinks"]["influxdb"]
    if influx.get("measurement", measurement) != measurement:
        problems.append(f"gateway.toml [sinks.influxdb] measurement {influx['measurement']!r} is not {measurement!r}")
    database = influx["database"]
    with open(os.path.join(repo, "packaging", "compose.yaml")) as f:
        created = re.findall(r"^\s*INFLUXDB_DB:\s*(\S+)\s*$", f.read(), re.M)
    if created != [database]:
        problems.append(f"compose.yaml creates database(s) {created}, the gateway writes to {database!r}")
    with open(os.path.join(compose, "grafana", "provisioning", "datasources", "influxdb.yaml")) as f:
        source = f.read()
    uid = re.search(r"^\s*uid:\s*(\S+)", source, re.M)
    db_name = re.search(r"^\s*dbName:\s*(\S+)", source, re.M)
    if not db_name or db_name.group(1) != database:
        problems.append(f"the Grafana data source reads database {db_name and db_name.group(1)!r}, not {database!r}")

    dashboards = sorted(glob.glob(os.path.join(compose, "grafana", "dashboards", "*.json")))
    if not dashboards:
        problems.append("no dashboard in packaging/compose/grafana/dashboards")
    for path in dashboards:
        name = os.path.basename(path)
        with open(path) as f:
            dash = json.load(f)
        queries = 0
        variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}

        def check_source(where, ds):
            if ds is not None and uid and ds.get("uid") != uid.group(1):
                problems.append(f"{name}: {where}: data source uid {ds.get('uid')!r}, provisioned {uid.group(1)!r}")

        for var in dash.get("templating", {}).get("list", []):
            check_source(f"variable {var['name']}", var.get("datasource"))
            q = var.get("query", "")
            for m in re.findall(r'FROM\s+"([^"]+)"', q):
                queries += 1
                if m != measurement:
                    problems.append(f"{name}: variable {var['name']}: measurement {m!r}")
            for key in re.findall(r'KEY\s*=\s*"([^"]+)"', q) + re.findall(r'"([^"]+)"\s*(?:=~|!~|=|!=|<>)', q):
                if key not in tags:
                    problems.append(f"{name}: variable {var['name']}: tag {key!r} is not written")
        for panel in dash.get("panels", []):
            title = panel.get("title", "?")
            check_source(f"panel {title!r}", panel.get("datasource"))
            for t in panel.get("targets", []):
                queries += 1
                check_source(f"panel {title!r}", t.get("datasource"))
                if t.get("rawQuery"):
                    problems.append(f"{name}: panel {title!r}: raw query (use the query builder, so it can be checked)")
                if t.get("measurement") != measurement:
                    problems.append(f"{name}: panel {title!r}: measurement {t.get('measurement')!r}")
                if t.get("policy", "default") not in ("default", "autogen"):
                    problems.append(f"{name}: panel {title!r}: retention policy {t['policy']!r} (the database's default)")
                for sel in t.get("select", []):
                    field = next((part["params"][0] for part in sel if part["type"] == "field"), None)
                    if field is None:
                        continue
                    if field not in fields:
                        problems.append(f"{name}: panel {title!r}: field {field!r} is not written")
                        continue
                    for part in sel:
                        if part["type"] in NUMERIC and fields[field] != {"number"}:
                            problems.append(f"{name}: panel {title!r}: {part['type']}({field}) of a {'/'.join(sorted(fields[field]))} field")
                grouped = {g["params"][0] for g in t.get("groupBy", []) if g["type"] == "tag"}
                for g in sorted(grouped - set(tags)):
                    problems.append(f"{name}: panel {title!r}: group by tag {g!r} is not written")
                for a in re.findall(r"\$tag_(\w+)", t.get("alias", "")):
                    if a not in grouped:
                        problems.append(f"{name}: panel {title!r}: alias names $tag_{a}, not grouped by {a!r}")
                for tag in t.get("tags", []):
                    if tag["key"] not in tags:
                        problems.append(f"{name}: panel {title!r}: tag {tag['key']!r} is not written")
                        continue
                    value = tag.get("value", "")
                    used = re.findall(r"\$(\w+)", value)
                    for v in used:
                        if v not in variables:
                            problems.append(f"{name}: panel {title!r}: tag {tag['key']!r} filtered by ${v}, no such variable")
                    if not used and tag.get("operator", "=") in ("=", "!=") and value not in tags[tag["key"]]:
                        problems.append(f"{name}: panel {title!r}: tag {tag['key']} = {value!r}: the gateway writes "
                                        f"{sorted(tags[tag['key']])}")
        print(f"{name}: {queries} queries checked")
        if queries == 0:
            problems.append(f"{name}: no query")
    for p in problems:
        print("MISMATCH:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
