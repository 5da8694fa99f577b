-- Rollups per chain and UTC day and per chain and UTC hour. They are written
-- only by the aggregator's store, which recomputes every bucket a batch touched
-- from liquidations FINAL (never by a materialized view, which would count a
-- replayed batch twice). ReplacingMergeTree(version) keeps the latest
-- recomputation of a bucket; read them with FINAL. Distinct counts are
-- uniqExact states so that any window merges them exactly with uniqExactMerge.
CREATE TABLE IF NOT EXISTS {{database}}.liquidations_daily
(
    chain_id          UInt64,
    chain             String,
    day               Date,
    collateral_usd    Decimal(38, 8),
    debt_usd          Decimal(38, 8),
    bonus_usd         Decimal(38, 8),
    protocol_fee_usd  Decimal(38, 8),
    events            UInt64,
    unpriced_events   UInt64,
    retracted_events  UInt64,
    txs               AggregateFunction(uniqExact, String),
    borrowers         AggregateFunction(uniqExact, String),
    liquidators       AggregateFunction(uniqExact, String),
    version           UInt64,
    computed_at       DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYear(day)
ORDER BY (chain_id, day);

CREATE TABLE IF NOT EXISTS {{database}}.liquidations_hourly
(
    chain_id          UInt64,
    chain             String,
    hour              DateTime('UTC'),
    collateral_usd    Decimal(38, 8),
    debt_usd          Decimal(38, 8),
    bonus_usd         Decimal(38, 8),
    protocol_fee_usd  Decimal(38, 8),
    events            UInt64,
    unpriced_events   UInt64,
    retracted_events  UInt64,
    txs               AggregateFunction(uniqExact, String),
    borrowers         AggregateFunction(uniqExact, String),
    liquidators       AggregateFunction(uniqExact, String),
    version           UInt64,
    computed_at       DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (chain_id, hour);
