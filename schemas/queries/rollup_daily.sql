-- Data of a daily rollup recomputation: one row per (chain_id, day) bucket
-- staged in {{stage}} (rollup_stage.sql: the deduplicated rows of the
-- touched buckets of liquidations FINAL and bad_debt FINAL, told apart by
-- `kind`), at version @version. GROUP BY on keys only: ClickHouse 18.16
-- crashes grouping by a Decimal.
-- Parameters: @version UInt64 (larger than any earlier recomputation).
-- Output: one row per bucket that has rows in either raw table, inserted
-- into liquidations_daily (columns as in schemas/README.md). The daily key
-- is the bucket itself, so it needs no clear half: an all-retracted bucket
-- still has staged rows and gets a zero row.
INSERT INTO liquidations_daily
    (chain_id, chain, day, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd, bad_debt_usd,
     events, unpriced_events, retracted_events, bad_debt_events, txs, borrowers, liquidators, version, computed_at)
SELECT
    chain_id,
    any(chain),
    day,
    sumIf(collateral_usd, kind = 0 AND confirmed),
    sumIf(debt_usd, kind = 0 AND confirmed),
    sumIf(assumeNotNull(bonus_usd), kind = 0 AND confirmed AND isNotNull(bonus_usd)),
    sumIf(assumeNotNull(protocol_fee_usd), kind = 0 AND confirmed AND isNotNull(protocol_fee_usd)),
    sumIf(bad_debt_usd, kind = 1 AND confirmed),
    countIf(kind = 0 AND confirmed),
    countIf(kind = 0 AND confirmed AND unpriced),
    countIf(kind = 0 AND NOT confirmed),
    countIf(kind = 1 AND confirmed),
    uniqExactStateIf(tx_hash, kind = 0 AND confirmed),
    uniqExactStateIf(borrower, kind = 0 AND confirmed),
    uniqExactStateIf(liquidator, kind = 0 AND confirmed),
    toUInt64(@version),
    now()
FROM {{stage}}
GROUP BY chain_id, day
