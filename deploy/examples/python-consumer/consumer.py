#!/usr/bin/env python3
"""Per-chain liquidation totals from the liqstream Kafka topic.

An example downstream consumer in Python: it reads liqstream.liquidations.v1
from the beginning with confluent-kafka, decodes the LiquidationEvent records
with the protobuf classes generated from proto/liqstream/v1/liquidation.proto
(committed in gen/), and prints, per chain, the number of events and the sums
of collateral USD and debt USD.

Contract rules it follows (see proto/README.md):
  * the liqstream-schema header names the message; records of other schemas
    (liqstream.v1.DeficitEvent) are counted and skipped;
  * per event_id the highest revision wins; a lower or equal revision (a
    duplicate or a stale copy) is ignored; a RETRACTED winner is excluded;
  * USD values are exact 8-decimal strings, summed as decimal.Decimal (never
    float); an empty value means unpriced: the event counts, its USD does not.

It reads every partition without a consumer group commit, so it never moves
anyone's offsets, and stops after --max-idle seconds without a new record
(the topic is drained).

    python consumer.py --brokers 127.0.0.1:9092 [--topic T] [--max-idle 5] [--format table|json]
"""

from __future__ import annotations

import argparse
import decimal
import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402

from liqstream.v1 import liquidation_pb2 as pb  # noqa: E402

TOPIC = "liqstream.liquidations.v1"
HEADER_SCHEMA = "liqstream-schema"
SCHEMA_LIQUIDATION = "liqstream.v1.LiquidationEvent"

# Sums of many 8-decimal values stay exact well past 10^30 USD.
decimal.getcontext().prec = 60
_USD = re.compile(r"^-?[0-9]+(\.[0-9]{1,8})?$")
_E8 = Decimal("0.00000001")


def parse_usd(s: str) -> Decimal | None:
    """Parse a contract USD string exactly; None for "" (unpriced)."""
    if s == "":
        return None
    if not _USD.match(s):
        raise ValueError(f"invalid USD value {s!r}: want digits with at most 8 decimals")
    return Decimal(s)


def fmt_usd(v: Decimal) -> str:
    """Format with exactly 8 decimals, as the contract writes USD."""
    return format(v.quantize(_E8), "f")  # str() would print 1E-8


@dataclass
class ChainTotals:
    chain: str
    chain_id: int
    events: int = 0
    collateral_usd: Decimal = field(default_factory=Decimal)
    debt_usd: Decimal = field(default_factory=Decimal)
    unpriced: int = 0

    def as_dict(self) -> dict:
        return {
            "chain": self.chain,
            "chain_id": self.chain_id,
            "events": self.events,
            "collateral_usd": fmt_usd(self.collateral_usd),
            "debt_usd": fmt_usd(self.debt_usd),
            "unpriced": self.unpriced,
        }


@dataclass
class Skipped:
    other_schema: int = 0
    undecodable: int = 0
    stale: int = 0


class Aggregator:
    """Keeps the winning revision of every event and sums them per chain."""

    def __init__(self) -> None:
        self.latest: dict[str, pb.LiquidationEvent] = {}
        self.skipped = Skipped()
        self.records = 0

    def add(self, headers: list[tuple[str, bytes]] | None, value: bytes | None) -> None:
        self.records += 1
        schema = ""
        for k, v in headers or []:
            if k == HEADER_SCHEMA:
                schema = (v or b"").decode("utf-8", "replace")
        if schema != SCHEMA_LIQUIDATION:
            self.skipped.other_schema += 1
            return
        try:
            ev = pb.LiquidationEvent.FromString(value or b"")
            parse_usd(ev.collateral_usd)
            parse_usd(ev.debt_usd)
        except (DecodeError, ValueError) as e:
            print(f"skipping undecodable LiquidationEvent: {e}", file=sys.stderr)
            self.skipped.undecodable += 1
            return
        if not ev.event_id:
            self.skipped.undecodable += 1
            return
        cur = self.latest.get(ev.event_id)
        if cur is not None and ev.revision <= cur.revision:
            self.skipped.stale += 1
            return
        self.latest[ev.event_id] = ev

    def retracted(self) -> int:
        return sum(1 for ev in self.latest.values() if ev.status == pb.STATUS_RETRACTED)

    def totals(self) -> list[ChainTotals]:
        by_chain: dict[tuple[int, str], ChainTotals] = {}
        for ev in self.latest.values():
            if ev.status == pb.STATUS_RETRACTED:
                continue
            t = by_chain.setdefault((ev.chain_id, ev.chain), ChainTotals(ev.chain, ev.chain_id))
            t.events += 1
            coll, debt = parse_usd(ev.collateral_usd), parse_usd(ev.debt_usd)
            if coll is None or debt is None:
                t.unpriced += 1
            if coll is not None:
                t.collateral_usd += coll
            if debt is not None:
                t.debt_usd += debt
        return sorted(by_chain.values(), key=lambda t: (t.chain_id, t.chain))


def consume(brokers: str, topic: str, max_idle: float, agg: Aggregator) -> None:
    """Read every partition of topic from the beginning into agg until no
    record arrived for max_idle seconds (0: until interrupted)."""
    consumer = Consumer({
        "bootstrap.servers": brokers,
        # Required by librdkafka; nothing is committed, partitions are assigned.
        "group.id": f"liqstream-python-consumer-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "client.id": "liqstream-python-consumer",
    })
    try:
        md = consumer.list_topics(topic, timeout=10)
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None or not tmd.partitions:
            err = tmd.error if tmd is not None else "missing"
            raise SystemExit(f"topic {topic} not found on {brokers} ({err}): check --brokers and --topic")
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(tmd.partitions)])
        last = time.monotonic()
        while True:
            msgs = consumer.consume(num_messages=500, timeout=0.2)
            for m in msgs:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(m.error())
                agg.add(m.headers(), m.value())
            if msgs:
                last = time.monotonic()
            elif max_idle > 0 and time.monotonic() - last >= max_idle:
                return
    finally:
        consumer.close()


def render_table(agg: Aggregator) -> str:
    rows = [t.as_dict() for t in agg.totals()]
    total = ChainTotals("TOTAL", 0)
    for t in agg.totals():
        total.events += t.events
        total.collateral_usd += t.collateral_usd
        total.debt_usd += t.debt_usd
        total.unpriced += t.unpriced
    cols = ["chain", "chain_id", "events", "collateral_usd", "debt_usd", "unpriced"]
    body = [[str(r[c]) for c in cols] for r in rows]
    tot = total.as_dict()
    tot["chain_id"] = ""
    body.append([str(tot[c]) for c in cols])
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(cols)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(cols), line(["-" * w for w in widths])]
    out += [line(r) for r in body[:-1]]
    out += [line(["-" * w for w in widths]), line(body[-1])]
    s = agg.skipped
    out.append(f"\n{agg.records} records; {len(agg.latest)} event ids, {agg.retracted()} retracted (excluded); "
               f"skipped: {s.stale} duplicate/stale revisions, {s.other_schema} other schemas, {s.undecodable} undecodable")
    return "\n".join(out)


def render_json(agg: Aggregator) -> str:
    return json.dumps({
        "chains": [t.as_dict() for t in agg.totals()],
        "records": agg.records,
        "event_ids": len(agg.latest),
        "retracted": agg.retracted(),
        "skipped": {"stale": agg.skipped.stale, "other_schema": agg.skipped.other_schema,
                    "undecodable": agg.skipped.undecodable},
    }, indent=2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--brokers", default=os.environ.get("LIQSTREAM_KAFKA_BROKERS", "127.0.0.1:9092"),
                   help="Kafka bootstrap servers, comma-separated (env LIQSTREAM_KAFKA_BROKERS)")
    p.add_argument("--topic", default=TOPIC, help=f"topic to read (default {TOPIC})")
    p.add_argument("--max-idle", type=float, default=5.0,
                   help="stop after this many seconds without a new record; 0 runs until Ctrl-C (default 5)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    args = p.parse_args(argv)
    if args.max_idle < 0:
        p.error("--max-idle must be >= 0")
    agg = Aggregator()
    try:
        consume(args.brokers, args.topic, args.max_idle, agg)
    except KeyboardInterrupt:
        pass
    except KafkaException as e:
        print(f"error: reading {args.topic} from {args.brokers}: {e}", file=sys.stderr)
        return 1
    print(render_table(agg) if args.format == "table" else render_json(agg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
