-- cycle_summary.sql computed from the raw table, for any window [@from, @to)
-- (no alignment needed) and to cross-check the rollups. Filters before FINAL
-- use sort-key columns only (chain_id, block_date); the exact window and the
-- status live in -If combinators, after the collapse to the highest revision.
-- Parameters: @from, @to DateTime (any).
-- Output: as cycle_summary.sql.
SELECT
    chain_id,
    max(chain) AS chain,
    toString(sumIf(collateral_usd, ok)) AS collateral_usd,
    toString(sumIf(debt_usd, ok)) AS debt_usd,
    countIf(ok) AS events,
    toUInt64(uniqExactIf(tx_hash, ok)) AS txs,
    toUInt64(uniqExactIf(borrower, ok)) AS borrowers
FROM
(
    SELECT
        chain_id, chain, collateral_usd, debt_usd, tx_hash, borrower,
        status = 'CONFIRMED' AND block_time >= @from AND block_time < @to AS ok
    FROM liquidations FINAL
    WHERE block_date >= toDate(@from) AND block_date <= toDate(@to)
)
GROUP BY chain_id
HAVING events > 0
ORDER BY chain_id
