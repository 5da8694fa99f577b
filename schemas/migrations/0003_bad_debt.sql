-- Bad debt written off by Aave V3.3+ pools: one row per consumed
-- DeficitCreated(address indexed user, address indexed debtAsset,
-- uint256 amountCreated) record (topic0 0x2bccfb3f...2699), every revision of
-- every record, replays included. Same deduplication as liquidations:
-- ReplacingMergeTree(revision) over (chain_id, block_date, event_id); read it
-- with FINAL. The event is emitted in the liquidation's transaction, so
-- (chain_id, tx_hash) joins it to liquidations. See schemas/README.md.
CREATE TABLE IF NOT EXISTS {{database}}.bad_debt
(
    chain_id          UInt64,
    chain             String,
    protocol          String,
    market            String,
    pool              String,
    block_time        DateTime('UTC'),
    block_date        Date DEFAULT toDate(block_time),
    block_number      UInt64,
    block_hash        String,
    tx_hash           String,
    tx_index          UInt32,
    log_index         UInt32,
    evt_index         UInt32 ALIAS log_index,
    borrower          String,
    debt_token        String,
    debt_symbol       String,
    debt_decimals     UInt32,
    amount_raw        String,
    amount            Float64,
    debt_price_usd    Nullable(Decimal(38, 8)),
    debt_price_source String,
    debt_price_block  UInt64,
    amount_usd        Decimal(38, 8),
    event_id          String,
    revision          UInt64,
    status            Enum8('UNSPECIFIED' = 0, 'CONFIRMED' = 1, 'RETRACTED' = 2),
    method_version    String,
    log_topics        Array(String),
    log_data          String,
    observed_at       DateTime('UTC'),
    kafka_topic       String,
    kafka_partition   Int32,
    kafka_offset      Int64,
    ingested_at       DateTime('UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(block_time)
ORDER BY (chain_id, block_date, event_id);
