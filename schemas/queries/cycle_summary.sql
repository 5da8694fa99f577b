-- Per chain totals over the window [@from, @to) from the hourly rollup
-- (confirmed events at their highest revision). Distinct counts merge the
-- hourly uniqExact states, so they are exact over the window (never summed).
-- USD sums are returned as text so no float ever touches them. The share of
-- each chain among the chains shown is computed by the caller from these
-- rows (query.CycleSummary does it exactly).
-- Parameters: @from, @to DateTime on whole UTC hours.
-- Output: chain_id UInt64, chain, collateral_usd, debt_usd (exact sums as
-- text), events, txs, borrowers (UInt64); chains without events are left
-- out; ordered by chain_id.
SELECT
    chain_id,
    max(chain) AS chain,
    toString(sum(collateral_usd)) AS collateral_usd,
    toString(sum(debt_usd)) AS debt_usd,
    sum(events) AS events,
    toUInt64(uniqExactMerge(txs)) AS txs,
    toUInt64(uniqExactMerge(borrowers)) AS borrowers
FROM liquidations_hourly FINAL
WHERE hour >= @from AND hour < @to
GROUP BY chain_id
HAVING events > 0
ORDER BY chain_id
