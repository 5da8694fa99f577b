-- Liquidations per chain and (collateral, debt) asset pair over the UTC days
-- [@from, @to), from the pair rollup (confirmed events at their highest
-- revision). Token addresses identify a pair (symbols are for reading: two
-- tokens may share one). Distinct counts are exact over the window.
-- Parameters: @from, @to DateTime at UTC midnights.
-- Output: chain_id UInt64, chain, collateral_token, debt_token,
-- collateral_symbol, debt_symbol, collateral_usd, debt_usd (exact sums as
-- text), events, txs, borrowers, liquidators (UInt64); ordered by
-- collateral_usd descending, then chain_id, collateral_token, debt_token.
SELECT
    chain_id, chain, collateral_token, debt_token, collateral_symbol, debt_symbol,
    toString(coll) AS collateral_usd,
    toString(debt) AS debt_usd,
    events, txs, borrowers, liquidators
FROM
(
    SELECT
        chain_id,
        max(chain) AS chain,
        collateral_token,
        debt_token,
        max(collateral_symbol) AS collateral_symbol,
        max(debt_symbol) AS debt_symbol,
        sum(collateral_usd) AS coll,
        sum(debt_usd) AS debt,
        sum(events) AS events,
        toUInt64(uniqExactMerge(txs)) AS txs,
        toUInt64(uniqExactMerge(borrowers)) AS borrowers,
        toUInt64(uniqExactMerge(liquidators)) AS liquidators
    FROM liquidations_pair_daily FINAL
    WHERE day >= toDate(@from) AND day < toDate(@to)
    GROUP BY chain_id, collateral_token, debt_token
    HAVING events > 0
)
ORDER BY coll DESC, chain_id, collateral_token, debt_token
