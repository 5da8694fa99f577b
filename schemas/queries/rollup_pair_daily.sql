-- Data half of a pair rollup recomputation (before rollup_pair_daily_clear.sql):
-- one row per (chain_id, day, collateral_token, debt_token) of the
-- liquidations staged in {{stage}} (rollup_stage.sql, kind = 0), at version
-- @version + 1. Grouped by keys only (never by a Decimal).
-- Parameters: @version (as in rollup_daily.sql).
-- Output: rows inserted into liquidations_pair_daily.
INSERT INTO liquidations_pair_daily
    (chain_id, chain, day, collateral_token, debt_token, collateral_symbol, debt_symbol,
     collateral_usd, debt_usd, bonus_usd, protocol_fee_usd,
     events, unpriced_events, retracted_events, txs, borrowers, liquidators, version, computed_at)
SELECT
    chain_id,
    any(chain),
    day,
    collateral_token,
    debt_token,
    any(collateral_symbol),
    any(debt_symbol),
    sumIf(collateral_usd, confirmed),
    sumIf(debt_usd, confirmed),
    sumIf(assumeNotNull(bonus_usd), confirmed AND isNotNull(bonus_usd)),
    sumIf(assumeNotNull(protocol_fee_usd), confirmed AND isNotNull(protocol_fee_usd)),
    countIf(confirmed),
    countIf(confirmed AND unpriced),
    countIf(retracted),
    uniqExactStateIf(tx_hash, confirmed),
    uniqExactStateIf(borrower, confirmed),
    uniqExactStateIf(liquidator, confirmed),
    toUInt64(@version) + 1,
    now()
FROM {{stage}}
WHERE kind = 0
GROUP BY chain_id, day, collateral_token, debt_token
