-- daily_series.sql computed from the raw table (same filters as
-- cycle_summary_raw.sql), to cross-check the daily rollup; partial first and
-- last days count only the window's part.
-- Parameters: @from, @to DateTime (any).
-- Output: as daily_series.sql.
SELECT
    chain_id,
    max(chain) AS chain,
    block_date AS day,
    toString(sumIf(collateral_usd, ok)) AS collateral_usd,
    toString(sumIf(debt_usd, ok)) AS debt_usd,
    countIf(ok) AS events,
    toUInt64(uniqExactIf(tx_hash, ok)) AS txs,
    toUInt64(uniqExactIf(borrower, ok)) AS borrowers
FROM
(
    SELECT
        chain_id, chain, block_date, collateral_usd, debt_usd, tx_hash, borrower,
        status = 'CONFIRMED' AND block_time >= @from AND block_time < @to AS ok
    FROM liquidations FINAL
    WHERE block_date >= toDate(@from) AND block_date <= toDate(@to)
)
GROUP BY chain_id, day
HAVING events > 0
ORDER BY chain_id, day
