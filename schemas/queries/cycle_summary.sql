-- Per chain totals over the window [@from, @to) from the hourly rollup: both
-- bounds must fall on whole UTC hours. Distinct counts merge the hourly
-- uniqExact states, so they are exact over the window (never summed).
-- USD sums are returned as strings so no float ever touches them.
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
