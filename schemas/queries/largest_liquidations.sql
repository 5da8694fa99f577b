-- The largest liquidation events by collateral seized (USD) in [@from, @to)
-- (any bounds), from liquidations FINAL: confirmed events at their highest
-- revision. Only sort-key columns (block_date) are filtered before FINAL; the
-- status and exact window are computed inside and filtered outside, after the
-- collapse (an outer WHERE stays after FINAL on 18.16 and on current
-- releases, where WHERE is not moved to PREWHERE under FINAL).
-- Parameters: @from, @to DateTime; @limit UInt64 (rows to return).
-- Output: chain_id UInt64, chain, block_time DateTime, block_number UInt64,
-- tx_hash, log_index UInt32, event_id, borrower, liquidator,
-- collateral_symbol, debt_symbol, collateral_amount_raw, debt_amount_raw,
-- collateral_usd, debt_usd (Decimal(38, 8) as text), bonus_usd (text, ''
-- when unknown), revision UInt64, method_version; ordered by collateral_usd
-- descending, then event_id.
SELECT
    chain_id, chain, block_time, block_number, tx_hash, log_index, event_id, borrower, liquidator,
    collateral_symbol, debt_symbol, collateral_amount_raw, debt_amount_raw,
    toString(coll) AS collateral_usd,
    toString(debt) AS debt_usd,
    bonus AS bonus_usd,
    revision, method_version
FROM
(
    SELECT
        chain_id, chain, block_time, block_number, tx_hash, log_index, event_id, borrower, liquidator,
        collateral_symbol, debt_symbol, collateral_amount_raw, debt_amount_raw,
        collateral_usd AS coll, debt_usd AS debt, ifNull(toString(bonus_usd), '') AS bonus,
        revision, method_version,
        status = 'CONFIRMED' AND block_time >= @from AND block_time < @to AS ok
    FROM liquidations FINAL
    WHERE block_date >= toDate(@from) AND block_date <= toDate(@to)
)
WHERE ok
ORDER BY coll DESC, event_id
LIMIT @limit
