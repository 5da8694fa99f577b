-- The daily rollup gains the bad debt written off in the bucket (from
-- bad_debt FINAL, confirmed records at their highest revision). One ALTER per
-- migration: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so a migration
-- holding a single statement is the unit that is applied and recorded.
ALTER TABLE {{database}}.liquidations_daily
    ADD COLUMN bad_debt_usd Decimal(38, 8) AFTER protocol_fee_usd,
    ADD COLUMN bad_debt_events UInt64 AFTER retracted_events;
