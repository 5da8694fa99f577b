-- Liquidators ranked by collateral seized over the UTC days [@from, @to),
-- from the liquidator rollup (confirmed events at their highest revision).
-- A liquidator address active on several chains is one row (chains says on
-- how many). Every liquidator of the window is returned, so the caller can
-- compute concentration (share of the top N, HHI) over all of them; add
-- LIMIT n for a plain top list. Distinct counts merge uniqExact states, so
-- they are exact over the window.
-- Parameters: @from, @to DateTime at UTC midnights (from inclusive, to
-- exclusive).
-- Output: liquidator String, chains UInt64, collateral_usd, debt_usd,
-- bonus_usd (exact Decimal(38, 8) sums as text), events UInt64, txs UInt64,
-- borrowers UInt64; ordered by collateral_usd descending, then liquidator.
SELECT
    liquidator,
    chains,
    toString(coll) AS collateral_usd,
    toString(debt) AS debt_usd,
    toString(bonus) AS bonus_usd,
    events,
    txs,
    borrowers
FROM
(
    SELECT
        liquidator,
        toUInt64(uniqExact(chain_id)) AS chains,
        sum(collateral_usd) AS coll,
        sum(debt_usd) AS debt,
        sum(bonus_usd) AS bonus,
        sum(events) AS events,
        toUInt64(uniqExactMerge(txs)) AS txs,
        toUInt64(uniqExactMerge(borrowers)) AS borrowers
    FROM liquidations_liquidator_daily FINAL
    WHERE day >= toDate(@from) AND day < toDate(@to)
    GROUP BY liquidator
    HAVING events > 0
)
ORDER BY coll DESC, liquidator
