-- First half of a pair rollup recomputation: an empty row at version
-- @version for every (collateral_token, debt_token) pair that already has a
-- row in the touched (chain_id, day) buckets, so a pair whose events all
-- moved away (a revision that changed an asset) reads as empty; the second
-- half (rollup_pair_daily.sql) writes the pairs that have events at
-- @version + 1.
-- Parameters: as in rollup_daily.sql (@chain_ids, @days, @chain_set,
-- @day_set, @version).
-- Output: empty rows inserted into liquidations_pair_daily.
INSERT INTO liquidations_pair_daily
    (chain_id, chain, day, collateral_token, debt_token, collateral_symbol, debt_symbol,
     collateral_usd, debt_usd, bonus_usd, protocol_fee_usd,
     events, unpriced_events, retracted_events, txs, borrowers, liquidators, version, computed_at)
SELECT
    chain_id,
    any(chain),
    day,
    collateral_token,
    debt_token,
    any(collateral_symbol),
    any(debt_symbol),
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toDecimal128(0, 8),
    toUInt64(0),
    toUInt64(0),
    toUInt64(0),
    uniqExactStateIf(chain, 0),
    uniqExactStateIf(chain, 0),
    uniqExactStateIf(chain, 0),
    toUInt64(@version),
    now()
FROM liquidations_pair_daily
WHERE chain_id IN @chain_set
  AND day IN @day_set
  AND (chain_id, day) IN (
      SELECT chain_id, day FROM system.one
      ARRAY JOIN CAST(@chain_ids AS Array(UInt64)) AS chain_id, CAST(@days AS Array(Date)) AS day)
GROUP BY chain_id, day, collateral_token, debt_token
