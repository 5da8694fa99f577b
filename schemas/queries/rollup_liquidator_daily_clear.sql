-- Clear half of a liquidator rollup recomputation, run after the data half
-- (rollup_liquidator_daily.sql, which writes the liquidators that have events
-- at @version + 1): an empty row at version @version for every liquidator of
-- the touched (chain_id, day) buckets that has a row but none at a version
-- above @version, i.e. a liquidator whose events all moved away, so it reads
-- as empty. Liquidators the data half rewrote get no row.
-- Parameters: as in rollup_stage.sql (@chain_ids, @days, @chain_set,
-- @day_set) and @version (as in rollup_daily.sql).
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
HAVING max(version) <= toUInt64(@version)
