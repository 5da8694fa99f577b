-- Stages the rows of one rollup recomputation: creates the table {{stage}}
-- (the store names it rollup_stage_<version>_<random> and drops it when the
-- recomputation is done) holding the rows of the (chain_id, day) buckets
-- given as two parallel arrays @chain_ids and @days, read once from the
-- deduplicated raw tables liquidations FINAL and bad_debt FINAL (one UNION
-- ALL, told apart by `kind`; no JOIN) and narrowed to the columns the
-- rollups read. Every rollup's data half then reads the stage instead of
-- collapsing the raw tables again: one FINAL read per recomputation, not one
-- per rollup. Log engine: written once, read concurrently, no merges, kept on
-- disk across a server restart; on 18.16 and current releases.
-- Parameters: @chain_ids Array(UInt64), @days Array(Date) (pairs, same
-- length), @chain_set and @day_set (the same values as IN tuples, for the
-- primary key).
-- Output: the table {{stage}}, one row per distinct event of the buckets at
-- its highest revision, retracted ones included. Columns: chain_id, chain,
-- day, hour; kind (0 = liquidation, 1 = bad debt); confirmed and retracted
-- (status = 'CONFIRMED' / 'RETRACTED' of the row that won the collapse);
-- unpriced (a price of the liquidation is missing); the asset, USD, tx,
-- borrower and liquidator columns of liquidations (bad debt: amount_usd in
-- bad_debt_usd, empty assets and liquidator).
-- Only sort-key columns are filtered before FINAL; status is copied, never
-- filtered, so a retracted highest revision is never dropped before the
-- collapse (and an all-retracted bucket still yields a zero row in the
-- daily rollup).
CREATE TABLE {{stage}} ENGINE = Log AS
SELECT *
FROM
(
    SELECT
        chain_id, chain, block_date AS day, toStartOfHour(block_time) AS hour, toUInt8(0) AS kind,
        status = 'CONFIRMED' AS confirmed, status = 'RETRACTED' AS retracted,
        isNull(collateral_price_usd) OR isNull(debt_price_usd) AS unpriced,
        collateral_token, debt_token, collateral_symbol, debt_symbol,
        collateral_usd, debt_usd, bonus_usd, protocol_fee_usd, toDecimal128(0, 8) AS bad_debt_usd,
        tx_hash, borrower, liquidator
    FROM liquidations FINAL
    WHERE chain_id IN @chain_set
      AND block_date IN @day_set
      AND (chain_id, block_date) IN (
          SELECT chain_id, day FROM system.one
          ARRAY JOIN CAST(@chain_ids AS Array(UInt64)) AS chain_id, CAST(@days AS Array(Date)) AS day)
    UNION ALL
    SELECT
        chain_id, chain, block_date, toStartOfHour(block_time), toUInt8(1),
        status = 'CONFIRMED', status = 'RETRACTED', toUInt8(0),
        '', '', '', '',
        toDecimal128(0, 8), toDecimal128(0, 8), CAST(NULL AS Nullable(Decimal(38, 8))), CAST(NULL AS Nullable(Decimal(38, 8))), amount_usd,
        tx_hash, borrower, ''
    FROM bad_debt FINAL
    WHERE chain_id IN @chain_set
      AND block_date IN @day_set
      AND (chain_id, block_date) IN (
          SELECT chain_id, day FROM system.one
          ARRAY JOIN CAST(@chain_ids AS Array(UInt64)) AS chain_id, CAST(@days AS Array(Date)) AS day)
)
