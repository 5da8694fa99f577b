-- Raw liquidation events: one row per record consumed from
-- liqstream.liquidations.v1 (every revision of every event, replays included);
-- ReplacingMergeTree(revision) collapses rows of one (chain_id, block_date,
-- event_id) to the highest revision when parts merge, and FINAL does the same
-- at read time. See schemas/README.md for every column.
CREATE TABLE IF NOT EXISTS {{database}}.liquidations
(
    chain_id                     UInt64,
    chain                        String,
    protocol                     String,
    market                       String,
    pool                         String,
    block_time                   DateTime('UTC'),
    block_date                   Date DEFAULT toDate(block_time),
    block_number                 UInt64,
    block_hash                   String,
    tx_hash                      String,
    tx_index                     UInt32,
    log_index                    UInt32,
    evt_index                    UInt32 ALIAS log_index,
    borrower                     String,
    liquidator                   String,
    collateral_token             String,
    collateral_symbol            String,
    collateral_decimals          UInt32,
    debt_token                   String,
    debt_symbol                  String,
    debt_decimals                UInt32,
    collateral_amount_raw        String,
    debt_amount_raw              String,
    collateral_amount            Float64,
    debt_amount                  Float64,
    receive_a_token              UInt8,
    collateral_price_usd         Nullable(Decimal(38, 8)),
    collateral_price_source      String,
    collateral_price_block       UInt64,
    debt_price_usd               Nullable(Decimal(38, 8)),
    debt_price_source            String,
    debt_price_block             UInt64,
    collateral_usd               Decimal(38, 8),
    debt_usd                     Decimal(38, 8),
    bonus_usd                    Nullable(Decimal(38, 8)),
    protocol_fee_amount_raw      String,
    protocol_fee_usd             Nullable(Decimal(38, 8)),
    event_id                     String,
    revision                     UInt64,
    status                       Enum8('UNSPECIFIED' = 0, 'CONFIRMED' = 1, 'RETRACTED' = 2),
    method_version               String,
    log_topics                   Array(String),
    log_data                     String,
    observed_at                  DateTime('UTC'),
    kafka_topic                  String,
    kafka_partition              Int32,
    kafka_offset                 Int64,
    ingested_at                  DateTime('UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(block_time)
ORDER BY (chain_id, block_date, event_id);
