"""Independent reader for walcast's topics: Confluent's Python client and fastavro.

Reads each topic given on the command line from the beginning with isolation.level=read_committed
until it has seen --count records in total (or --idle-ms passes without a new record after the
end of every partition), decodes keys and values through the schema registry and prints one JSON
line per record: {"topic", "partition", "offset", "key", "value"}.

Values are rendered so the tests can compare them exactly: datetime -> ISO-8601 with microseconds,
date -> ISO date, Decimal -> its exact string, bytes -> {"$bytes": base64}, UUID -> string.

Topics named with --json-topics hold JSON, not Avro (dead-letter topics): their keys and values are
parsed as JSON, and each line also carries the record's headers as {"name": "UTF-8 value"}.
"""
import argparse
import warnings
import base64
import datetime
import decimal
import json
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def render(value):
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return {"$float": str(value)}
    return value


warnings.filterwarnings("ignore", category=DeprecationWarning)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--count", type=int, default=0, help="stop after this many records (0: read to the end)")
    parser.add_argument("--timeout-ms", type=int, default=60000)
    parser.add_argument("--require-complete", action="store_true", help="exit 4 when the timeout comes before the end of the partitions")
    parser.add_argument("--idle-ms", type=int, default=1500, help="with --count 0: stop after this long at the end")
    parser.add_argument("--json-topics", default="", help="comma-separated topics whose keys and values are JSON")
    parser.add_argument("topics", nargs="+")
    args = parser.parse_args()
    json_topics = {t for t in args.json_topics.split(",") if t}

    registry = SchemaRegistryClient({"url": args.registry})
    deserializer = AvroDeserializer(registry)
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"walcast-test-reader-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    })
    deadline = time.monotonic() + args.timeout_ms / 1000
    # Manual assignment, not subscribe(): a group rebalance (when a topic appears later) would
    # restart uncommitted partitions from the beginning and show records twice.
    partitions = []
    pending = set(args.topics)
    while pending:
        metadata = consumer.list_topics(timeout=5)
        for topic in list(pending):
            info = metadata.topics.get(topic)
            if info is not None and info.error is None and info.partitions:
                partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(info.partitions)]
                pending.discard(topic)
        if pending:
            if time.monotonic() > deadline:
                raise SystemExit(f"avro_reader: topics never appeared: {sorted(pending)}")
            time.sleep(0.2)
    consumer.assign(partitions)
    seen = 0
    last_progress = time.monotonic()
    at_eof = set()
    # With --require-complete, reading every record (no --count) ends only at the end of the
    # partitions: a deadline reached before that is an error, never a short, silent answer (seen
    # without it: 906,466 of a million rows, on a loaded machine).
    complete = False
    try:
        while time.monotonic() < deadline:
            if args.count and seen >= args.count:
                complete = True
                break
            msg = consumer.poll(0.2)
            if msg is None:
                if not args.count and at_eof and time.monotonic() - last_progress > args.idle_ms / 1000:
                    complete = True
                    break
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_eof.add((msg.topic(), msg.partition()))
                    continue
                if msg.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    continue
                raise SystemExit(f"kafka error: {msg.error()}")
            at_eof.discard((msg.topic(), msg.partition()))
            last_progress = time.monotonic()
            key_bytes, value_bytes = msg.key(), msg.value()
            line = {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()}
            if msg.topic() in json_topics:
                line["key"] = json.loads(key_bytes) if key_bytes else None
                line["value"] = json.loads(value_bytes) if value_bytes else None
                line["headers"] = {name: value.decode("utf-8") for name, value in (msg.headers() or [])}
            else:
                key = deserializer(key_bytes, SerializationContext(msg.topic(), MessageField.KEY)) if key_bytes else None
                value = deserializer(value_bytes, SerializationContext(msg.topic(), MessageField.VALUE)) if value_bytes else None
                line["key"], line["value"] = render(key), render(value)
            print(json.dumps(line))
            seen += 1
    finally:
        consumer.close()
        sys.stdout.flush()
    if args.count and seen < args.count:
        print(f"avro_reader: saw {seen} of {args.count} records before the timeout", file=sys.stderr)
        sys.exit(3)
    if args.require_complete and not complete:
        print(f"avro_reader: timed out after {args.timeout_ms} ms with {seen} records read, before the end of every partition", file=sys.stderr)
        sys.exit(4)


if __name__ == "__main__":
    main()
