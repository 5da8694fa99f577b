-- Data half of a pair rollup recomputation (before rollup_pair_daily_clear.sql):
-- one row per (chain_id, day, collateral_token, debt_token) of the touched
-- (chain_id, day) buckets that has rows in liquidations FINAL, at version
-- @version + 1. Grouped by keys only (never by a Decimal).
-- Parameters: as in rollup_daily.sql (@chain_ids, @days, @chain_set,
-- @day_set, @version).
-- Output: rows inserted into liquidations_pair_daily.
INSERT INTO liquidations_pair_daily
    (chain_id, chain, day, collateral_token, debt_token, collateral_symbol, debt_symbol,
     collateral_usd, debt_usd, bonus_usd, protocol_fee_usd,
     events, unpriced_events, retracted_events, txs, borrowers, liquidators, version, computed_at)
SELECT
    chain_id,
    any(chain),
    block_date AS day,
    collateral_token,
    debt_token,
    any(collateral_symbol),
    any(debt_symbol),
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
    toUInt64(@version) + 1,
    now()
FROM liquidations FINAL
WHERE chain_id IN @chain_set
  AND block_date IN @day_set
  AND (chain_id, block_date) IN (
      SELECT chain_id, day FROM system.one
      ARRAY JOIN CAST(@chain_ids AS Array(UInt64)) AS chain_id, CAST(@days AS Array(Date)) AS day)
GROUP BY chain_id, block_date, collateral_token, debt_token
