-- Per chain and UTC day over [@from, @to) from the daily rollup. Days
-- without confirmed events are left out. Wave detection (query.DailyWaves)
-- reads this series and computes the trailing median in Go.
-- Parameters: @from, @to DateTime at UTC midnights.
-- Output: chain_id UInt64, chain, day Date, collateral_usd, debt_usd (exact
-- sums as text), events, txs, borrowers (UInt64); ordered by chain_id, day.
SELECT
    chain_id,
    max(chain) AS chain,
    day,
    toString(sum(collateral_usd)) AS collateral_usd,
    toString(sum(debt_usd)) AS debt_usd,
    sum(events) AS events,
    toUInt64(uniqExactMerge(txs)) AS txs,
    toUInt64(uniqExactMerge(borrowers)) AS borrowers
FROM liquidations_daily FINAL
WHERE day >= toDate(@from) AND day < toDate(@to)
GROUP BY chain_id, day
HAVING events > 0
ORDER BY chain_id, day
