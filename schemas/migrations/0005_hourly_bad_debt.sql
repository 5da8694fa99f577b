-- The hourly rollup gains the same bad debt columns as the daily one (see
-- 0004_daily_bad_debt.sql for why this is a migration of its own).
ALTER TABLE {{database}}.liquidations_hourly
    ADD COLUMN bad_debt_usd Decimal(38, 8) AFTER protocol_fee_usd,
    ADD COLUMN bad_debt_events UInt64 AFTER retracted_events;
