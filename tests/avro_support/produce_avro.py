#!/usr/bin/env python3
"""Produce Confluent-framed Avro records with an independent implementation.

Test tool of sluice's Avro wire-format proof (tests/avro_wire_format.rs):
Kafka Connect JsonConverter records (``{"schema": ..., "payload": ...}``, the
Debezium JSON fixtures) are turned into the Avro records Confluent's
``AvroConverter`` would write for the same Connect data (the schema mapping
of ``io.confluent.connect.avro.AvroData.fromConnectSchema``: ``connect.name``,
``connect.parameters``, ``connect.version``, ``connect.type``, Decimal/Date/
Time/Timestamp logical types, ``["null", T]`` for optional fields, MapEntry
arrays for maps with non-string keys), serialized with confluent-kafka's
``AvroSerializer`` (schemas registered in the Schema Registry at --registry,
subjects ``<topic>-key`` / ``<topic>-value``) and produced to Kafka with
confluent-kafka's ``Producer``. Nothing of sluice is used here.

Usage: produce_avro.py --registry URL [--brokers HOST:PORT] --jobs JOBS.json --out RESULT.json

Without --brokers nothing is produced: RESULT.json carries the serialized
key and value of every job as hex (``key_hex``/``value_hex``, null for none),
for tests that produce them at a chosen moment (e.g. during a registry outage).

JOBS.json is a list of ``{"topic": T, "key": PART, "value": PART}`` where a
PART is ``null`` (no key / a tombstone), ``{"connect": <JsonConverter record>}``
(serialized as Avro) or ``{"raw": "<text>"}`` (produced as these UTF-8 bytes,
e.g. a JSON key next to an Avro value). RESULT.json gets, per job, the schema
ids used and the payload members the Avro record could not carry (members the
Connect schema does not declare).
"""

import argparse
import base64
import json
import sys

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

NAMESPACE = "io.confluent.connect.avro"
LOGICAL = {
    "org.apache.kafka.connect.data.Decimal": "decimal",
    "org.apache.kafka.connect.data.Date": "date",
    "org.apache.kafka.connect.data.Time": "time-millis",
    "org.apache.kafka.connect.data.Timestamp": "timestamp-millis",
}
PRIMITIVE = {
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "long",
    "float32": "float",
    "float64": "double",
    "boolean": "boolean",
    "string": "string",
    "bytes": "bytes",
}


def truthy(value):
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class ToAvro:
    """Connect schema (JsonConverter's JSON form) -> Avro schema, per AvroData.fromConnectSchema."""

    def __init__(self):
        self.defined = set()
        self.default_names = 0

    def record_name(self, connect_name):
        if connect_name:
            return connect_name
        self.default_names += 1
        suffix = "" if self.default_names == 1 else str(self.default_names - 1)
        return NAMESPACE + ".ConnectDefault" + suffix

    def schema(self, s, optional_wrap=True):
        avro = self.base(s)
        if optional_wrap and truthy(s.get("optional", False)):
            return ["null", avro]
        return avro

    def props(self, s, out):
        name = s.get("name")
        if name:
            out["connect.name"] = name
        if s.get("version") is not None:
            out["connect.version"] = int(s["version"])
        if s.get("doc") is not None:
            out["connect.doc"] = s["doc"]
        params = s.get("parameters")
        if params:
            out["connect.parameters"] = {k: str(v) for k, v in params.items()}
        return out

    def base(self, s):
        kind = s.get("type")
        name = s.get("name")
        if kind == "struct":
            full = self.record_name(name)
            if full in self.defined:
                return full
            self.defined.add(full)
            namespace, _, simple = full.rpartition(".")
            fields = []
            for f in s.get("fields", []):
                field = {"name": f["field"], "type": self.schema(f)}
                if truthy(f.get("optional", False)):
                    field["default"] = None
                fields.append(field)
            out = {"type": "record", "name": simple, "fields": fields}
            if namespace:
                out["namespace"] = namespace
            return self.props(s, out)
        if kind == "array":
            return self.props(s, {"type": "array", "items": self.schema(s["items"])})
        if kind == "map":
            keys, values = s["keys"], s["values"]
            if keys.get("type") == "string" and not truthy(keys.get("optional", False)):
                return self.props(s, {"type": "map", "values": self.schema(values)})
            entry = NAMESPACE + ".MapEntry"
            if entry in self.defined:
                items = entry
            else:
                self.defined.add(entry)
                items = {
                    "type": "record",
                    "name": "MapEntry",
                    "namespace": NAMESPACE,
                    "fields": [{"name": "key", "type": self.schema(keys)}, {"name": "value", "type": self.schema(values)}],
                }
            return self.props(s, {"type": "array", "items": items})
        if kind not in PRIMITIVE:
            raise ValueError("unsupported Connect type %r" % kind)
        out = {"type": PRIMITIVE[kind]}
        if kind in ("int8", "int16"):
            out["connect.type"] = kind
        logical = LOGICAL.get(name)
        if logical == "decimal":
            params = s.get("parameters") or {}
            out["logicalType"] = "decimal"
            out["precision"] = int(params.get("connect.decimal.precision", 64))
            out["scale"] = int(params.get("scale", 0))
        elif logical:
            out["logicalType"] = logical
        return self.props(s, out)


def datum(s, v, path, dropped):
    """A JsonConverter payload value -> the Python value fastavro writes for the Avro schema of `s`."""
    if v is None:
        return None
    kind = s.get("type")
    if kind == "struct":
        declared = {f["field"] for f in s.get("fields", [])}
        for member in v:
            if member not in declared:
                dropped.append(path + "." + member)
        return {f["field"]: datum(f, v.get(f["field"]), path + "." + f["field"], dropped) for f in s.get("fields", [])}
    if kind == "array":
        return [datum(s["items"], item, "%s.%d" % (path, i), dropped) for i, item in enumerate(v)]
    if kind == "map":
        keys, values = s["keys"], s["values"]
        if keys.get("type") == "string" and not truthy(keys.get("optional", False)):
            return {k: datum(values, x, path + "." + k, dropped) for k, x in v.items()}
        pairs = v.items() if isinstance(v, dict) else v
        return [{"key": datum(keys, k, path, dropped), "value": datum(values, x, path, dropped)} for k, x in pairs]
    if kind in ("int8", "int16", "int32", "int64"):
        return int(v)
    if kind in ("float32", "float64"):
        return float(v)
    if kind == "boolean":
        return truthy(v)
    if kind == "string":
        return v if isinstance(v, str) else json.dumps(v)
    if kind == "bytes":
        # JsonConverter writes bytes (and Decimal's unscaled two's complement) as base64;
        # fastavro writes bytes given as bytes unchanged, also for the decimal logical type.
        return base64.b64decode(v)
    raise ValueError("unsupported Connect type %r at %s" % (kind, path))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--registry", required=True)
    p.add_argument("--brokers")
    p.add_argument("--jobs", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    registry = SchemaRegistryClient({"url": args.registry})
    producer = None
    if args.brokers:
        producer = Producer(
            {"bootstrap.servers": args.brokers, "acks": "all", "enable.idempotence": True, "linger.ms": 5}
        )
    serializers = {}
    errors = []

    def delivered(err, msg):
        if err is not None:
            errors.append(str(err))

    results = []
    with open(args.jobs) as f:
        jobs = json.load(f)
    for job in jobs:
        topic = job["topic"]
        result = {"topic": topic, "dropped": []}
        encoded = {}
        for part, field in (("key", MessageField.KEY), ("value", MessageField.VALUE)):
            spec = job.get(part)
            if spec is None:
                encoded[part] = None
            elif "raw" in spec:
                encoded[part] = spec["raw"].encode("utf-8")
            else:
                record = spec["connect"]
                avro_schema = ToAvro().schema(record["schema"], optional_wrap=False)
                value = datum(record["schema"], record["payload"], part, result["dropped"])
                text = json.dumps(avro_schema)
                serializer = serializers.get(text)
                if serializer is None:
                    serializer = AvroSerializer(registry, text, conf={"auto.register.schemas": True})
                    serializers[text] = serializer
                data = serializer(value, SerializationContext(topic, field))
                encoded[part] = data
                result[part + "_schema_id"] = int.from_bytes(data[1:5], "big")
                result[part + "_avro_schema"] = avro_schema
        if producer is None:
            for part in ("key", "value"):
                result[part + "_hex"] = None if encoded[part] is None else encoded[part].hex()
        else:
            producer.produce(topic, key=encoded["key"], value=encoded["value"], on_delivery=delivered)
        results.append(result)
    remaining = producer.flush(60) if producer is not None else 0
    if remaining or errors:
        print("produce failed: %d undelivered, errors %s" % (remaining, errors), file=sys.stderr)
        return 1
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
