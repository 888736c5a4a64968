#!/usr/bin/env python3
"""Independent decoder for the Sparkplug sink's tests: protoc's Python output of
sinks/sparkplug/sparkplug_b.proto (python3-protobuf), never the sink's nanopb code.

Usage: decode.py MODULE_DIR < lines
       decode.py MODULE_DIR --rebirth-command   (prints an NCMD rebirth request as hex)
Each input line is "TOPIC HEX" (mosquitto_sub -F '%t %x'); each output line is one JSON object:
{"topic", "timestamp", "seq", "metrics": [{"name", "alias", "timestamp", "datatype",
"is_historical", "is_transient", "is_null", "value_field", "value", "properties": {key: {"type",
"value"}}}]}, absent optional fields as null, integers as numbers. STATE messages (JSON) and lines
that are not Sparkplug payloads are passed on as {"topic", "raw"}.
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
import sparkplug_b_pb2  # noqa: E402  (generated into MODULE_DIR by protoc)


def opt(msg, field):
    return getattr(msg, field) if msg.HasField(field) else None


def value_of(msg):
    which = msg.WhichOneof("value")
    return which, (getattr(msg, which) if which else None)


def metric(m):
    which, value = value_of(m)
    props = {}
    if m.HasField("properties"):
        for k, v in zip(m.properties.keys, m.properties.values):
            pw, pv = value_of(v)
            props[k] = {"type": opt(v, "type"), "value_field": pw, "value": pv}
    return {
        "name": opt(m, "name"),
        "alias": opt(m, "alias"),
        "timestamp": opt(m, "timestamp"),
        "datatype": opt(m, "datatype"),
        "is_historical": m.is_historical,
        "is_transient": m.is_transient,
        "is_null": m.is_null,
        "value_field": which,
        "value": value,
        "properties": props,
    }


def main():
    if len(sys.argv) > 2 and sys.argv[2] == "--rebirth-command":
        # An NCMD asking for a rebirth, as a host sends it, printed as hex.
        p = sparkplug_b_pb2.Payload()
        p.timestamp = 1
        m = p.metrics.add()
        m.name = "Node Control/Rebirth"
        m.datatype = 11  # Boolean
        m.boolean_value = True
        print(p.SerializeToString().hex())
        return
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        topic, _, hexpayload = line.partition(" ")
        data = bytes.fromhex(hexpayload)
        if "/STATE/" in topic or not topic.startswith("spBv1.0/"):
            print(json.dumps({"topic": topic, "raw": data.decode("utf-8", "replace")}))
            continue
        p = sparkplug_b_pb2.Payload()
        p.ParseFromString(data)
        print(json.dumps({
            "topic": topic,
            "timestamp": opt(p, "timestamp"),
            "seq": opt(p, "seq"),
            "metrics": [metric(m) for m in p.metrics],
        }))


if __name__ == "__main__":
    main()
