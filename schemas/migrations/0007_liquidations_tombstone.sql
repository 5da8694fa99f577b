-- liquidations gains `tombstone`: 1 on the RETRACTED rows the store writes on
-- the other UTC days of an event that a later revision moved across midnight
-- (schemas/README.md, "One row per event: tombstones"), 0 on every consumed
-- record. The store's lookup takes an event's winning revision from real rows
-- only, so a tombstone never lands at a real row's revision on the real row's
-- day. One ALTER per migration (18.16 has no ADD COLUMN IF NOT EXISTS).
ALTER TABLE {{database}}.liquidations
    ADD COLUMN tombstone UInt8 DEFAULT 0 AFTER status;
