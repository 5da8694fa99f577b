-- Recomputes the daily rollup of the (chain_id, day) buckets given as two
-- parallel arrays @chain_ids and @days, from the deduplicated raw table.
-- Parameters: @chain_ids Array(UInt64), @days Array(Date) (pairs, same
-- length), @chain_set and @day_set (the same values as IN tuples, for the
-- primary key), @version UInt64 (larger than any earlier recomputation).
-- Only sort-key columns are filtered before FINAL; status lives in -If
-- combinators so a retracted highest revision is never filtered out before
-- the collapse (and an all-retracted bucket still yields a zero row).
INSERT INTO liquidations_daily
    (chain_id, chain, day, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd,
     events, unpriced_events, retracted_events, txs, borrowers, liquidators, version, computed_at)
SELECT
    chain_id,
    any(chain),
    block_date AS day,
    sumIf(collateral_usd, status = 'CONFIRMED'),
    sumIf(debt_usd, status = 'CONFIRMED'),
    sumIf(assumeNotNull(bonus_usd), status = 'CONFIRMED' AND isNotNull(bonus_usd)),
    sumIf(assumeNotNull(protocol_fee_usd), status = 'CONFIRMED' AND isNotNull(protocol_fee_usd)),
    countIf(status = 'CONFIRMED'),
    countIf(status = 'CONFIRMED' AND (isNull(collateral_price_usd) OR isNull(debt_price_usd))),
    countIf(status = 'RETRACTED'),
    uniqExactStateIf(tx_hash, status = 'CONFIRMED'),
    uniqExactStateIf(borrower, status = 'CONFIRMED'),
    uniqExactStateIf(liquidator, status = 'CONFIRMED'),
    toUInt64(@version),
    now()
FROM liquidations FINAL
WHERE chain_id IN @chain_set
  AND block_date IN @day_set
  AND (chain_id, block_date) IN (
      SELECT chain_id, day FROM system.one
      ARRAY JOIN CAST(@chain_ids AS Array(UInt64)) AS chain_id, CAST(@days AS Array(Date)) AS day)
GROUP BY chain_id, block_date
