-- Rollups per chain x (collateral, debt) asset pair x UTC day and per
-- liquidator x chain x UTC day. Same design as liquidations_daily: written only
-- by the aggregator's store, which recomputes every (chain, day) bucket a batch
-- touched from liquidations FINAL; ReplacingMergeTree(version) keeps the latest
-- recomputation; read with FINAL; distinct counts are uniqExact states.
CREATE TABLE IF NOT EXISTS {{database}}.liquidations_pair_daily
(
    chain_id           UInt64,
    chain              String,
    day                Date,
    collateral_token   String,
    debt_token         String,
    collateral_symbol  String,
    debt_symbol        String,
    collateral_usd     Decimal(38, 8),
    debt_usd           Decimal(38, 8),
    bonus_usd          Decimal(38, 8),
    protocol_fee_usd   Decimal(38, 8),
    events             UInt64,
    unpriced_events    UInt64,
    retracted_events   UInt64,
    txs                AggregateFunction(uniqExact, String),
    borrowers          AggregateFunction(uniqExact, String),
    liquidators        AggregateFunction(uniqExact, String),
    version            UInt64,
    computed_at        DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYear(day)
ORDER BY (chain_id, day, collateral_token, debt_token);

CREATE TABLE IF NOT EXISTS {{database}}.liquidations_liquidator_daily
(
    chain_id           UInt64,
    chain              String,
    day                Date,
    liquidator         String,
    collateral_usd     Decimal(38, 8),
    debt_usd           Decimal(38, 8),
    bonus_usd          Decimal(38, 8),
    protocol_fee_usd   Decimal(38, 8),
    events             UInt64,
    unpriced_events    UInt64,
    retracted_events   UInt64,
    txs                AggregateFunction(uniqExact, String),
    borrowers          AggregateFunction(uniqExact, String),
    version            UInt64,
    computed_at        DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYear(day)
ORDER BY (chain_id, day, liquidator);
