-- Data half of an hourly recomputation (run before rollup_hourly_clear.sql): every
-- hour of the touched (chain_id, day) buckets that has rows in the
-- deduplicated raw tables (liquidations FINAL and bad_debt FINAL, as in
-- rollup_daily.sql), at version @version + 1.
-- Parameters: as in rollup_daily.sql (@chain_ids, @days, @chain_set,
-- @day_set, @version).
-- Output: rows inserted into liquidations_hourly.
INSERT INTO liquidations_hourly
    (chain_id, chain, hour, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd, bad_debt_usd,
     events, unpriced_events, retracted_events, bad_debt_events, txs, borrowers, liquidators, version, computed_at)
SELECT
    chain_id,
    any(chain),
    hour,
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
    toUInt64(@version) + 1,
    now()
FROM
(
    SELECT
        chain_id, chain, toStartOfHour(block_time) AS hour, toUInt8(0) AS kind, status = 'CONFIRMED' AS confirmed,
        collateral_usd, debt_usd, bonus_usd, protocol_fee_usd,
        isNull(collateral_price_usd) OR isNull(debt_price_usd) AS unpriced,
        toDecimal128(0, 8) AS bad_debt_usd, tx_hash, borrower, liquidator
    FROM liquidations FINAL
    WHERE chain_id IN @chain_set
      AND block_date IN @day_set
      AND (chain_id, block_date) IN (
          SELECT chain_id, day FROM system.one
          ARRAY JOIN CAST(@chain_ids AS Array(UInt64)) AS chain_id, CAST(@days AS Array(Date)) AS day)
    UNION ALL
    SELECT
        chain_id, chain, toStartOfHour(block_time), toUInt8(1), status = 'CONFIRMED',
        toDecimal128(0, 8), toDecimal128(0, 8), CAST(NULL AS Nullable(Decimal(38, 8))), CAST(NULL AS Nullable(Decimal(38, 8))),
        toUInt8(0),
        amount_usd, tx_hash, borrower, ''
    FROM bad_debt FINAL
    WHERE chain_id IN @chain_set
      AND block_date IN @day_set
      AND (chain_id, block_date) IN (
          SELECT chain_id, day FROM system.one
          ARRAY JOIN CAST(@chain_ids AS Array(UInt64)) AS chain_id, CAST(@days AS Array(Date)) AS day)
)
GROUP BY chain_id, hour
