-- Per chain figures of two windows side by side ("before" and "after", e.g.
-- a quiet month and a wave, or the same weeks of two years), from the hourly
-- rollup (confirmed events at their highest revision). Distinct counts merge
-- the hourly uniqExact states of each window, so they are exact per window.
-- The windows may overlap; hour is the rollup's sort key, so filtering it
-- before FINAL is safe.
-- Parameters: @before_from, @before_to, @after_from, @after_to DateTime on
-- whole UTC hours (each from inclusive, to exclusive).
-- Output: chain_id UInt64, chain, then for before_ and after_:
-- collateral_usd, debt_usd, bad_debt_usd (exact sums as text), events,
-- txs, borrowers, liquidators (UInt64); chains with no event in either
-- window are left out; ordered by chain_id.
SELECT
    chain_id,
    max(chain) AS chain,
    toString(sumIf(collateral_usd, in_before)) AS before_collateral_usd,
    toString(sumIf(debt_usd, in_before)) AS before_debt_usd,
    toString(sumIf(bad_debt_usd, in_before)) AS before_bad_debt_usd,
    sumIf(events, in_before) AS before_events,
    toUInt64(uniqExactMergeIf(txs, in_before)) AS before_txs,
    toUInt64(uniqExactMergeIf(borrowers, in_before)) AS before_borrowers,
    toUInt64(uniqExactMergeIf(liquidators, in_before)) AS before_liquidators,
    toString(sumIf(collateral_usd, in_after)) AS after_collateral_usd,
    toString(sumIf(debt_usd, in_after)) AS after_debt_usd,
    toString(sumIf(bad_debt_usd, in_after)) AS after_bad_debt_usd,
    sumIf(events, in_after) AS after_events,
    toUInt64(uniqExactMergeIf(txs, in_after)) AS after_txs,
    toUInt64(uniqExactMergeIf(borrowers, in_after)) AS after_borrowers,
    toUInt64(uniqExactMergeIf(liquidators, in_after)) AS after_liquidators
FROM
(
    SELECT
        chain_id, chain, collateral_usd, debt_usd, bad_debt_usd, events, txs, borrowers, liquidators,
        hour >= @before_from AND hour < @before_to AS in_before,
        hour >= @after_from AND hour < @after_to AS in_after
    FROM liquidations_hourly FINAL
    WHERE (hour >= @before_from AND hour < @before_to) OR (hour >= @after_from AND hour < @after_to)
)
GROUP BY chain_id
HAVING before_events > 0 OR after_events > 0
ORDER BY chain_id
