-- Bad debt written off (DeficitCreated) per wave window and chain, beside the
-- collateral liquidated in the same window, from bad_debt FINAL and
-- liquidations FINAL (confirmed records at their highest revision; exact for
-- any bounds). Waves are given as two parallel arrays; a record counts in
-- every wave whose [start, end) holds its block time. Every row is repeated
-- once per wave by ARRAY JOIN and the window test lives in -If combinators
-- (18.16 lambdas cannot read columns, so arrayFilter over the windows is not
-- an option); keep the number of waves small.
-- Parameters: @wave_starts, @wave_ends Array(DateTime) (same length, UTC).
-- Output: wave UInt32 (1-based index into the arrays), chain_id UInt64,
-- chain, bad_debt_usd (exact sum as text), bad_debt_events UInt64,
-- bad_debt_borrowers UInt64, collateral_usd (exact sum as text), events
-- UInt64 (liquidations); rows with neither bad debt nor liquidations are left
-- out; ordered by wave, chain_id.
SELECT
    wave,
    chain_id,
    max(chain) AS chain,
    toString(sumIf(bad_debt, kind = 1 AND in_wave)) AS bad_debt_usd,
    countIf(kind = 1 AND in_wave) AS bad_debt_events,
    toUInt64(uniqExactIf(borrower, kind = 1 AND in_wave)) AS bad_debt_borrowers,
    toString(sumIf(coll, kind = 0 AND in_wave)) AS collateral_usd,
    countIf(kind = 0 AND in_wave) AS events
FROM
(
    SELECT
        wave, chain_id, chain, kind, borrower, coll, bad_debt,
        confirmed AND block_time >= wave_start AND block_time < wave_end AS in_wave
    FROM
    (
        SELECT
            chain_id, chain, block_time, toUInt8(0) AS kind, status = 'CONFIRMED' AS confirmed,
            collateral_usd AS coll, toDecimal128(0, 8) AS bad_debt, borrower
        FROM liquidations FINAL
        WHERE block_date >= toDate(arrayReduce('min', CAST(@wave_starts AS Array(DateTime))))
          AND block_date <= toDate(arrayReduce('max', CAST(@wave_ends AS Array(DateTime))))
        UNION ALL
        SELECT
            chain_id, chain, block_time, toUInt8(1), status = 'CONFIRMED',
            toDecimal128(0, 8), amount_usd, borrower
        FROM bad_debt FINAL
        WHERE block_date >= toDate(arrayReduce('min', CAST(@wave_starts AS Array(DateTime))))
          AND block_date <= toDate(arrayReduce('max', CAST(@wave_ends AS Array(DateTime))))
    )
    ARRAY JOIN
        CAST(@wave_starts AS Array(DateTime)) AS wave_start,
        CAST(@wave_ends AS Array(DateTime)) AS wave_end,
        arrayEnumerate(CAST(@wave_starts AS Array(DateTime))) AS wave
)
GROUP BY wave, chain_id
HAVING events > 0 OR bad_debt_events > 0
ORDER BY wave, chain_id
