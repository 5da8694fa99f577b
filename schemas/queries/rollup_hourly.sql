-- Data half of an hourly recomputation (run before rollup_hourly_clear.sql):
-- every hour of the buckets staged in {{stage}} (rollup_stage.sql) that has
-- rows there, at version @version + 1.
-- Parameters: @version (as in rollup_daily.sql).
-- Output: rows inserted into liquidations_hourly.
INSERT INTO liquidations_hourly
    (chain_id, chain, hour, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd, bad_debt_usd,
     events, unpriced_events, retracted_events, bad_debt_events, txs, borrowers, liquidators, version, computed_at)
SELECT
    chain_id,
    any(chain),
    hour,
    sumIf(collateral_usd, kind = 0 AND confirmed),
    sumIf(debt_usd, kind = 0 AND confirmed),
    sumIf(assumeNotNull(bonus_usd), kind = 0 AND confirmed AND isNotNull(bonus_usd)),
    sumIf(assumeNotNull(protocol_fee_usd), kind = 0 AND confirmed AND isNotNull(protocol_fee_usd)),
    sumIf(bad_debt_usd, kind = 1 AND confirmed),
    countIf(kind = 0 AND confirmed),
    countIf(kind = 0 AND confirmed AND unpriced),
    countIf(kind = 0 AND NOT confirmed),
    countIf(kind = 1 AND confirmed),
    uniqExactStateIf(tx_hash, kind = 0 AND confirmed),
    uniqExactStateIf(borrower, kind = 0 AND confirmed),
    uniqExactStateIf(liquidator, kind = 0 AND confirmed),
    toUInt64(@version) + 1,
    now()
FROM {{stage}}
GROUP BY chain_id, hour
