-- Clear half of an hourly recomputation, run after the data half
-- (rollup_hourly.sql, which writes the hours that have events at @version + 1):
-- writes an empty row, at version @version, for every hour of the touched
-- (chain_id, day) buckets that has a row but none at a version above
-- @version, i.e. an hour the data half did not rewrite because its events all
-- moved away (an event re-included in another hour of the same day). It reads
-- as empty instead of keeping a stale row. Hours the data half rewrote get no
-- row (an empty row at @version would lose to theirs anyway), so a
-- recomputation writes each key once.
-- Parameters: as in rollup_stage.sql (@chain_ids, @days, @chain_set,
-- @day_set) and @version (as in rollup_daily.sql).
-- Output: empty rows inserted into liquidations_hourly.
INSERT INTO liquidations_hourly
    (chain_id, chain, hour, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd, bad_debt_usd,
     events, unpriced_events, retracted_events, bad_debt_events, txs, borrowers, liquidators, version, computed_at)
SELECT
    chain_id,
    any(chain),
    hour,
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toUInt64(0),
    toUInt64(0),
    toUInt64(0),
    toUInt64(0),
    uniqExactStateIf(chain, 0),
    uniqExactStateIf(chain, 0),
    uniqExactStateIf(chain, 0),
    toUInt64(@version),
    now()
FROM liquidations_hourly
WHERE chain_id IN @chain_set
  AND toDate(hour) IN @day_set
  AND (chain_id, toDate(hour)) IN (
      SELECT chain_id, day FROM system.one
      ARRAY JOIN CAST(@chain_ids AS Array(UInt64)) AS chain_id, CAST(@days AS Array(Date)) AS day)
GROUP BY chain_id, hour
HAVING max(version) <= toUInt64(@version)
