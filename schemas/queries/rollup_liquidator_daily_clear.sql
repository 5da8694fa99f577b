-- First half of a liquidator rollup recomputation: an empty row at version
-- @version for every liquidator that already has a row in the touched
-- (chain_id, day) buckets, so a liquidator whose events all moved away reads
-- as empty; the second half (rollup_liquidator_daily.sql) writes the
-- liquidators that have events at @version + 1.
-- Parameters: as in rollup_daily.sql (@chain_ids, @days, @chain_set,
-- @day_set, @version).
-- Output: empty rows inserted into liquidations_liquidator_daily.
INSERT INTO liquidations_liquidator_daily
    (chain_id, chain, day, liquidator, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd,
     events, unpriced_events, retracted_events, txs, borrowers, version, computed_at)
SELECT
    chain_id,
    any(chain),
    day,
    liquidator,
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toUInt64(0),
    toUInt64(0),
    toUInt64(0),
    uniqExactStateIf(chain, 0),
    uniqExactStateIf(chain, 0),
    toUInt64(@version),
    now()
FROM liquidations_liquidator_daily
WHERE chain_id IN @chain_set
  AND day IN @day_set
  AND (chain_id, day) IN (
      SELECT chain_id, day FROM system.one
      ARRAY JOIN CAST(@chain_ids AS Array(UInt64)) AS chain_id, CAST(@days AS Array(Date)) AS day)
GROUP BY chain_id, day, liquidator
