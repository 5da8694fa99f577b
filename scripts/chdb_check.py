#!/usr/bin/env python3
"""Run liqstream's ClickHouse schema and query library on chdb (an in-process
current ClickHouse), failing loudly on the first error.

The Go tests run the same SQL against ClickHouse 18.16 (Debian's server); this
script covers the engine chdb bundles (printed at the start), so the SQL stays
portable to current releases.

It applies every migration in schemas/migrations (the {{database}} placeholder
replaced), writes a few rows (a liquidation revised and then retracted in
separate parts, bad debt), runs every rollup recomputation (through its
staging table, {{stage}} replaced) and then every query in schemas/queries
with its @named parameters replaced by literals (the way clickhouse-go binds
them), and checks a few results that depend on the deduplication being
right. Usage: scripts/chdb-check.sh (makes the venv).
"""

import os
import re
import sys
import tempfile
import time
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(ROOT, "schemas")
DB = "liqstream"
STAGE = "rollup_stage_chdb"

# Literal values for every named parameter the queries use, written the way
# clickhouse-go binds Go values (time.Time -> toDateTime('...'), []T -> [..],
# clickhouse.GroupSet -> (..)). A query using a name not listed here fails.
PARAMS = {
    "from": "toDateTime('2026-01-31 00:00:00')",
    "to": "toDateTime('2026-02-02 00:00:00')",
    "before_from": "toDateTime('2026-01-30 00:00:00')",
    "before_to": "toDateTime('2026-01-31 00:00:00')",
    "after_from": "toDateTime('2026-01-31 00:00:00')",
    "after_to": "toDateTime('2026-02-02 00:00:00')",
    "limit": "10",
    "wave_starts": "[toDateTime('2026-01-31 00:00:00'), toDateTime('2026-02-01 00:00:00')]",
    "wave_ends": "[toDateTime('2026-02-01 00:00:00'), toDateTime('2026-02-02 00:00:00')]",
    "chain_ids": "[1, 137, 1]",
    "days": "['2026-01-31', '2026-01-31', '2026-02-01']",
    "chain_set": "(1, 137)",
    "day_set": "('2026-01-31', '2026-02-01')",
    "version": "2",
}

# Rollup recomputations, in the order the aggregator's store runs them: the
# staging table first (created from the raw tables), then every rollup from
# it.
ROLLUPS = [
    "rollup_stage",
    "rollup_daily",
    "rollup_hourly",
    "rollup_hourly_clear",
    "rollup_pair_daily",
    "rollup_pair_daily_clear",
    "rollup_liquidator_daily",
    "rollup_liquidator_daily_clear",
]

LIQ_COLUMNS = (
    "chain_id, chain, protocol, market, pool, block_time, block_number, block_hash, tx_hash, tx_index, "
    "log_index, borrower, liquidator, collateral_token, collateral_symbol, collateral_decimals, debt_token, "
    "debt_symbol, debt_decimals, collateral_amount_raw, debt_amount_raw, collateral_amount, debt_amount, "
    "receive_a_token, collateral_price_usd, collateral_price_source, collateral_price_block, debt_price_usd, "
    "debt_price_source, debt_price_block, collateral_usd, debt_usd, bonus_usd, protocol_fee_amount_raw, "
    "protocol_fee_usd, event_id, revision, status, method_version, log_topics, log_data, observed_at, "
    "kafka_topic, kafka_partition, kafka_offset, ingested_at"
)


def liquidation(chain_id, chain, ts, tx, log_index, liquidator, coll_usd, revision, status):
    return (
        f"INSERT INTO {DB}.liquidations ({LIQ_COLUMNS}) SELECT {chain_id}, '{chain}', 'aave-v3', 'M', '0xpool', "
        f"toDateTime('{ts}'), 100, '0xblock', '{tx}', 0, {log_index}, '0xborrower{log_index}', '{liquidator}', "
        f"'0xweth', 'WETH', 18, '0xusdc', 'USDC', 6, '1000', '2000', 1e-15, 2e-3, 0, "
        f"toDecimal128('2450.5', 8), 'ORACLE_AT_BLOCK', 100, toDecimal128('1', 8), 'ORACLE_AT_BLOCK', 100, "
        f"toDecimal128('{coll_usd}', 8), toDecimal128('{coll_usd}', 8), NULL, '', NULL, "
        f"'{chain_id}:{tx}:{log_index}', {revision}, '{status}', 'aave-v3/1', ['0xe413'], '0x', "
        f"toDateTime('{ts}'), 't', 0, 0, now()"
    )


BAD_DEBT = (
    f"INSERT INTO {DB}.bad_debt (chain_id, chain, protocol, market, pool, block_time, block_number, block_hash, "
    "tx_hash, tx_index, log_index, borrower, debt_token, debt_symbol, debt_decimals, amount_raw, amount, "
    "debt_price_usd, debt_price_source, debt_price_block, amount_usd, event_id, revision, status, method_version, "
    "log_topics, log_data, observed_at, kafka_topic, kafka_partition, kafka_offset, ingested_at) "
    "SELECT 1, 'ethereum', 'aave-v3', 'M', '0xpool', toDateTime('2026-01-31 10:00:00'), 100, '0xblock', '0xtx1', 0, 9, "
    "'0xborrower1', '0xusdc', 'USDC', 6, '7000000', 7, toDecimal128('1', 8), 'ORACLE_AT_BLOCK', 100, "
    "toDecimal128('7.25', 8), '1:0xtx1:9', 1, 'CONFIRMED', 'aave-v3/1', ['0x2bcc'], '0x', now(), 't', 0, 0, now()"
)


def statements(sql):
    """Split a migration like schemas.Migration.Statements: a statement ends
    with a line ending in ';'; comment-only statements are dropped."""
    out, cur = [], []
    for line in sql.split("\n"):
        cur.append(line)
        if line.strip().endswith(";"):
            out.append("\n".join(cur))
            cur = []
    out.append("\n".join(cur))
    keep = []
    for s in out:
        s = s.strip().rstrip(";").strip()
        if any(l.strip() and not l.strip().startswith("--") and l.strip() != ";" for l in s.split("\n")):
            keep.append(s.replace("{{database}}", DB))
    return keep


def bind(name, sql):
    def sub(m):
        key = m.group(1)
        if key not in PARAMS:
            raise SystemExit(f"FAIL {name}: parameter @{key} has no literal in PARAMS (add one to scripts/chdb_check.py)")
        return PARAMS[key]

    # Comments may mention @names; bind only the code. The store names each
    # recomputation's staging table in place of {{stage}}.
    code = "\n".join(l for l in sql.split("\n") if not l.lstrip().startswith("--"))
    return re.sub(r"@([A-Za-z_][A-Za-z0-9_]*)", sub, code).replace("{{stage}}", STAGE)


def norm(v):
    """Normalises decimal text: current releases print toString(Decimal)
    without trailing zeros (output_format_decimal_trailing_zeros = 0), 18.16
    with all 8 decimals; usd.Parse reads both."""
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str) and re.fullmatch(r"-?\d+\.\d+", v):
        return str(Decimal(v).normalize())
    return v


def main():
    try:
        import chdb
        from chdb import session as chs
    except ImportError:
        raise SystemExit("FAIL: chdb is not installed: run scripts/chdb-check.sh, which installs it in .data/venv")

    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="liqstream-chdb-")
    sess = chs.Session(tmp)

    def run(what, sql, fmt="TSV"):
        try:
            res = sess.query(sql, fmt)
        except Exception as e:  # chdb raises on any server-side error
            raise SystemExit(f"FAIL {what}: {e}\n--- SQL ---\n{sql}")
        return str(res)

    engine = run("version", "SELECT version()").strip()
    print(f"chdb {chdb.__version__}, ClickHouse engine {engine}")

    run("create database", f"CREATE DATABASE IF NOT EXISTS {DB}")
    mig_dir = os.path.join(SCHEMAS, "migrations")
    migs = sorted(f for f in os.listdir(mig_dir) if f.endswith(".sql"))
    n_stmts = 0
    for f in migs:
        with open(os.path.join(mig_dir, f)) as fh:
            for i, s in enumerate(statements(fh.read()), 1):
                run(f"migration {f} statement {i}", s)
                n_stmts += 1
    print(f"ok  {len(migs)} migrations, {n_stmts} statements")

    # Each INSERT is its own part: the retraction sits in a newer part than
    # the row it retracts, so only FINAL's collapse can hide it.
    for s in [
        liquidation(1, "ethereum", "2026-01-31 10:00:00", "0xtx1", 1, "0xliqA", "100.5", 1, "CONFIRMED"),
        liquidation(1, "ethereum", "2026-01-31 10:00:00", "0xtx1", 1, "0xliqA", "120.25", 2, "CONFIRMED"),
        liquidation(1, "ethereum", "2026-01-31 11:00:00", "0xtx2", 2, "0xliqB", "5000", 1, "CONFIRMED"),
        liquidation(1, "ethereum", "2026-01-31 11:00:00", "0xtx2", 2, "0xliqB", "5000", 2, "RETRACTED"),
        liquidation(137, "polygon", "2026-01-31 12:00:00", "0xtx3", 3, "0xliqA", "30", 1, "CONFIRMED"),
        liquidation(1, "ethereum", "2026-02-01 01:00:00", "0xtx4", 4, "0xliqB", "10", 1, "CONFIRMED"),
        BAD_DEBT,
    ]:
        run("inserting test rows", s)

    qdir = os.path.join(SCHEMAS, "queries")
    names = sorted(f[:-4] for f in os.listdir(qdir) if f.endswith(".sql"))
    missing = [r for r in ROLLUPS if r not in names]
    if missing:
        raise SystemExit(f"FAIL: rollup queries {missing} are missing from schemas/queries")
    run("USE", f"USE {DB}")
    results = {}
    for name in ROLLUPS + [n for n in names if n not in ROLLUPS]:
        with open(os.path.join(qdir, name + ".sql")) as fh:
            sql = bind(name, fh.read())
        out = run(f"query {name}", sql)
        results[name] = [l.split("\t") for l in out.strip().split("\n") if l]
        print(f"ok  {name}: {len(results[name])} rows")
        if name == ROLLUPS[-1]:
            run("drop staging table", f"DROP TABLE {STAGE}")

    # Results that only hold when revisions and retractions collapse.
    checks = [
        ("cycle_summary ethereum", results["cycle_summary"][0][:5], ["1", "ethereum", "130.25000000", "130.25000000", "2"]),
        ("cycle_summary_raw equals cycle_summary", results["cycle_summary_raw"], results["cycle_summary"]),
        ("largest_liquidations skips the retracted 5000", results["largest_liquidations"][0][6], "1:0xtx1:1"),
        ("top_liquidators first", results["top_liquidators"][0][:3], ["0xliqA", "2", "150.25000000"]),
        ("bad_debt_by_wave wave 1 ethereum", results["bad_debt_by_wave"][0][:5], ["1", "1", "ethereum", "7.25000000", "1"]),
        ("daily rollup bad debt", run("daily", "SELECT toString(sum(bad_debt_usd)) FROM liquidations_daily FINAL").strip(), "7.25000000"),
    ]
    for what, got, want in checks:
        if norm(got) != norm(want):
            raise SystemExit(f"FAIL {what}: got {got}, want {want}")
        print(f"ok  {what}")
    print(f"chdb check passed on ClickHouse {engine} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
