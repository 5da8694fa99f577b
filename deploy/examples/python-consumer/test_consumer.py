"""Tests of consumer.py: unit tests of the exact USD handling, and an
integration test that produces known events onto a fresh topic of the real
broker (LIQSTREAM_TEST_KAFKA_BROKERS, set by scripts/python-consumer-test.sh)
and checks the per-chain totals the consumer prints, to the 1e-8 USD."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import pytest

import consumer
from consumer import Aggregator, parse_usd, pb

HERE = os.path.dirname(os.path.abspath(__file__))
BROKERS = os.environ.get("LIQSTREAM_TEST_KAFKA_BROKERS", "")
CHAINS = {1: "ethereum", 137: "polygon", 8453: "base", 43114: "avalanche"}


def event(chain_id: int, n: int, coll: str, debt: str, revision: int = 1,
          status: int = pb.STATUS_CONFIRMED) -> pb.LiquidationEvent:
    tx = "0x%064x" % n
    return pb.LiquidationEvent(
        chain_id=chain_id, chain=CHAINS[chain_id], protocol="aave-v3", market="AaveV3Test",
        block_number=1000 + n, tx_hash=tx, log_index=2, borrower="0x%040x" % n,
        collateral_usd=coll, debt_usd=debt, event_id=f"{chain_id}:{tx}:2",
        revision=revision, status=status, method_version="aave-v3/1")


def revised(ev: pb.LiquidationEvent, **changes) -> pb.LiquidationEvent:
    c = pb.LiquidationEvent()
    c.CopyFrom(ev)
    c.revision += 1
    for k, v in changes.items():
        setattr(c, k, v)
    return c


def liq(ev: pb.LiquidationEvent) -> tuple[bytes, list, bytes]:
    key = f"{ev.chain_id}:{ev.borrower}".encode()
    return key, [("liqstream-schema", b"liqstream.v1.LiquidationEvent"),
                 ("content-type", b"application/x-protobuf")], ev.SerializeToString()


def scenario() -> list[tuple[bytes, list, bytes]]:
    """Records in topic order. The expected totals below are worked out by hand."""
    e1 = event(1, 1, "1000.00000001", "990.5")
    e2 = event(1, 2, "2500000.12345678", "2400000.00000001")
    e2r2 = revised(e2, collateral_usd="2600000.00000000", debt_usd="2500000.00000000")
    e8 = event(1, 8, "9007199254740993.00000001", "0.10000000")  # beyond float64 precision
    e3 = event(137, 3, "0.00000001", "0.00000001")
    e4 = event(137, 4, "5000", "4800")
    e5 = event(8453, 5, "", "")  # unpriced
    e6 = event(8453, 6, "123.45678901", "120")
    e7 = event(43114, 7, "77", "70")
    e7gone = revised(e7, status=pb.STATUS_RETRACTED)
    e7back = revised(e7gone, status=pb.STATUS_CONFIRMED, collateral_usd="78", debt_usd="71")
    deficit = pb.DeficitEvent(chain_id=1, chain="ethereum", borrower=e1.borrower, amount_usd="500.00000000",
                              event_id="1:0xdef:1", revision=1, status=pb.STATUS_CONFIRMED)
    bad_usd = event(1, 9, "1.123456789", "1")  # 9 decimals breaks the contract
    return [
        liq(e1), liq(e1),  # duplicate
        liq(e2), liq(e2r2), liq(e2),  # stale copy after the revision
        liq(e8), liq(e3), liq(e4), liq(revised(e4, status=pb.STATUS_RETRACTED)),
        liq(e5), liq(e6), liq(e7), liq(e7gone), liq(e7back),
        (b"1:" + e1.borrower.encode(), [("liqstream-schema", b"liqstream.v1.DeficitEvent")], deficit.SerializeToString()),
        (b"1:0xgarbage", [("liqstream-schema", b"liqstream.v1.LiquidationEvent")], b"\xff\xff\xff"),
        liq(bad_usd),
    ]


WANT_CHAINS = [
    {"chain": "ethereum", "chain_id": 1, "events": 3, "collateral_usd": "9007199257341993.00000002",
     "debt_usd": "2500990.60000000", "unpriced": 0},
    {"chain": "polygon", "chain_id": 137, "events": 1, "collateral_usd": "0.00000001",
     "debt_usd": "0.00000001", "unpriced": 0},
    {"chain": "base", "chain_id": 8453, "events": 2, "collateral_usd": "123.45678901",
     "debt_usd": "120.00000000", "unpriced": 1},
    {"chain": "avalanche", "chain_id": 43114, "events": 1, "collateral_usd": "78.00000000",
     "debt_usd": "71.00000000", "unpriced": 0},
]
WANT_SUMMARY = {"records": 17, "event_ids": 8, "retracted": 1,
                "skipped": {"stale": 2, "other_schema": 1, "undecodable": 2}}


@pytest.mark.parametrize("text,want", [
    ("0", Decimal("0")), ("12.5", Decimal("12.5")), ("-0.00000001", Decimal("-0.00000001")),
    ("115792089237316195423570985008687907853269984665640564039457.58400791",
     Decimal("115792089237316195423570985008687907853269984665640564039457.58400791")),
    ("", None),
])
def test_parse_usd(text, want):
    assert parse_usd(text) == want


@pytest.mark.parametrize("text", ["1.123456789", "1e6", "1.", ".5", "NaN", "1,000", " 1"])
def test_parse_usd_rejects(text):
    with pytest.raises(ValueError):
        parse_usd(text)


def test_aggregate_in_process():
    agg = Aggregator()
    for _, headers, value in scenario():
        agg.add(headers, value)
    assert [t.as_dict() for t in agg.totals()] == WANT_CHAINS
    table = consumer.render_table(agg)
    assert "9007199257341993.00000002" in table
    assert table.splitlines()[-3].split()[:2] == ["TOTAL", "7"]


@pytest.fixture
def topic():
    if not BROKERS:
        pytest.skip("needs the real Kafka: run scripts/python-consumer-test.sh (it sets LIQSTREAM_TEST_KAFKA_BROKERS)")
    from confluent_kafka.admin import AdminClient, NewTopic
    name = f"liqstream_pytest_{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": BROKERS})
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(timeout=30)
    yield name
    admin.delete_topics([name])[name].result(timeout=30)


def test_consumer_on_real_kafka(topic):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": BROKERS, "partitioner": "murmur2_random",  # Java/Go-compatible keys
                  "enable.idempotence": True, "linger.ms": 5})
    errors = []
    for key, headers, value in scenario():
        p.produce(topic, value=value, key=key, headers=headers,
                  on_delivery=lambda err, _msg: err and errors.append(err))
    assert p.flush(30) == 0 and not errors, errors

    t0 = time.monotonic()
    out = subprocess.run([sys.executable, os.path.join(HERE, "consumer.py"), "--brokers", BROKERS,
                          "--topic", topic, "--max-idle", "2", "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    print(f"consumer.py drained the topic in {time.monotonic() - t0:.2f} s (incl. --max-idle 2)")
    assert got["chains"] == WANT_CHAINS
    assert {k: got[k] for k in WANT_SUMMARY} == WANT_SUMMARY


def test_consumer_missing_topic_fails():
    if not BROKERS:
        pytest.skip("needs the real Kafka: run scripts/python-consumer-test.sh")
    out = subprocess.run([sys.executable, os.path.join(HERE, "consumer.py"), "--brokers", BROKERS,
                          "--topic", f"liqstream_missing_{uuid.uuid4().hex[:8]}", "--max-idle", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "not found" in out.stderr
