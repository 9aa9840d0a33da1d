#!/usr/bin/env python3
"""Read one Confluent-framed Avro record with an independent implementation.

Test tool of the Avro output of sluice's MySQL source (tests/mysql_kafka_avro.rs):
fetches the record at --offset of partition 0 of --topic with confluent-kafka's
``Consumer`` and decodes its key and value with confluent-kafka's
``AvroDeserializer`` (writer schemas fetched from the Schema Registry at
--registry by the id in each record). Nothing of sluice is used here.

Usage: consume_avro.py --brokers HOST:PORT --registry URL --topic T --offset N --out RESULT.json

RESULT.json: ``{"key": …, "value": …, "key_schema_id": N, "value_schema_id": N}``
with bytes as base64 and decimals as their text (``Decimal('12.50')`` → ``"12.50"``).
"""

import argparse
import base64
import decimal
import json
import sys
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def plain(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--brokers", required=True)
    p.add_argument("--registry", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--offset", type=int, required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    consumer = Consumer({"bootstrap.servers": args.brokers, "group.id": "consume_avro_py", "enable.auto.commit": False})
    consumer.assign([TopicPartition(args.topic, 0, args.offset)])
    deadline = time.time() + 60
    message = None
    while message is None and time.time() < deadline:
        m = consumer.poll(1.0)
        if m is None:
            continue
        if m.error():
            print("consume error: %s" % m.error(), file=sys.stderr)
            return 1
        message = m
    consumer.close()
    if message is None:
        print("no record at %s[0]@%d within 60 s" % (args.topic, args.offset), file=sys.stderr)
        return 1
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": args.registry}))
    result = {}
    for part, field, data in (("key", MessageField.KEY, message.key()), ("value", MessageField.VALUE, message.value())):
        if data is None:
            result[part] = None
            continue
        if data[0] != 0:
            print("%s is not Confluent-framed (first byte %d)" % (part, data[0]), file=sys.stderr)
            return 1
        result[part + "_schema_id"] = int.from_bytes(data[1:5], "big")
        result[part] = plain(deserializer(data, SerializationContext(args.topic, field)))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
