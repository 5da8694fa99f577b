package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Only sort-key columns (chain_id, block_date) are filtered before FINAL;
// the block range and pool are applied in Go. Decimals are read as text.
const sqlRows = `
SELECT event_id, block_date, revision, toString(status), block_number, block_hash, block_time,
       tx_hash, tx_index, log_index, pool, borrower, liquidator, collateral_token, debt_token,
       collateral_amount_raw, debt_amount_raw, receive_a_token
FROM liquidations FINAL
WHERE chain_id = @chain_id AND block_date >= toDate(@d0) AND block_date <= toDate(@d1)`

// Raw rows (no FINAL) sharing a sort key (block_date, event_id) and a
// revision with different contents: FINAL returns an arbitrary one of them.
// Rows of one event on different block dates never compete in FINAL (the
// store's tombstones share the winner's revision on other dates). Nullable
// columns go through ifNull: cityHash64 of a NULL is NULL.
const sqlConflicts = `
SELECT event_id, block_date, revision, count() AS n,
       uniqExact(cityHash64(block_number, block_hash, tx_hash, tx_index, log_index, pool, borrower, liquidator,
           collateral_token, debt_token, collateral_amount_raw, debt_amount_raw, receive_a_token, toString(status),
           toString(collateral_usd), toString(debt_usd), ifNull(toString(collateral_price_usd), 'NULL'),
           ifNull(toString(debt_price_usd), 'NULL'), toString(block_time))) AS variants
FROM liquidations
WHERE chain_id = @chain_id AND block_date >= toDate(@d0) AND block_date <= toDate(@d1)
  AND block_number >= @from AND block_number < @to
GROUP BY event_id, block_date, revision
HAVING variants > 1`

// The raw aggregate of each bucket, computed as schemas/queries/rollup_*.sql
// compute the rollups (from liquidations FINAL, status in -If combinators),
// grouped by key columns only.
const sqlRawAggregate = `
SELECT %[1]s AS bucket,
       toString(sumIf(collateral_usd, status = 'CONFIRMED')),
       toString(sumIf(debt_usd, status = 'CONFIRMED')),
       toString(sumIf(assumeNotNull(bonus_usd), status = 'CONFIRMED' AND isNotNull(bonus_usd))),
       toString(sumIf(assumeNotNull(protocol_fee_usd), status = 'CONFIRMED' AND isNotNull(protocol_fee_usd))),
       toUInt64(countIf(status = 'CONFIRMED')),
       toUInt64(countIf(status = 'CONFIRMED' AND (isNull(collateral_price_usd) OR isNull(debt_price_usd)))),
       toUInt64(countIf(status = 'RETRACTED')),
       toUInt64(uniqExactIf(tx_hash, status = 'CONFIRMED')),
       toUInt64(uniqExactIf(borrower, status = 'CONFIRMED')),
       toUInt64(uniqExactIf(liquidator, status = 'CONFIRMED'))
FROM
(
    SELECT block_date, block_time, status, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd,
           collateral_price_usd, debt_price_usd, tx_hash, borrower, liquidator
    FROM liquidations FINAL
    WHERE chain_id = @chain_id AND block_date >= toDate(@d0) AND block_date <= toDate(@d1)
)
GROUP BY bucket`

// A rollup read with FINAL holds one row per key: its columns are read as
// they are (finalizeAggregation for the distinct states), no aggregation.
const sqlRollup = `
SELECT %[2]s AS bucket, toString(collateral_usd), toString(debt_usd), toString(bonus_usd), toString(protocol_fee_usd),
       events, unpriced_events, retracted_events,
       toUInt64(finalizeAggregation(txs)), toUInt64(finalizeAggregation(borrowers)), toUInt64(finalizeAggregation(liquidators))
FROM %[1]s FINAL
WHERE chain_id = @chain_id AND %[3]s`

// chReader runs the verification queries of one chain over [d0, d1] dates.
type chReader struct {
	conn    driver.Conn
	chainID uint64
	timeout time.Duration
}

func (c chReader) dates(d0, d1 time.Time) []any {
	return []any{clickhouse.Named("chain_id", c.chainID), clickhouse.Named("d0", d0.Format(time.DateOnly)),
		clickhouse.Named("d1", d1.Format(time.DateOnly))}
}

func (c chReader) query(ctx context.Context, what, sql string, args []any, scan func(driver.Rows) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rows, err := c.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%w: reading %s: %w", ErrClickHouse, what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("%w: reading %s: %w", ErrClickHouse, what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: reading %s: %w", ErrClickHouse, what, err)
	}
	return nil
}

// rows returns liquidations FINAL of the chain for block dates [d0, d1].
func (c chReader) rows(ctx context.Context, d0, d1 time.Time) ([]row, error) {
	var out []row
	err := c.query(ctx, "liquidations FINAL", sqlRows, c.dates(d0, d1), func(rs driver.Rows) error {
		var r row
		var receive uint8
		if err := rs.Scan(&r.EventID, &r.blockDate, &r.revision, &r.status, &r.BlockNumber, &r.BlockHash, &r.BlockTime,
			&r.TxHash, &r.TxIndex, &r.LogIndex, &r.Pool, &r.Borrower, &r.Liquidator, &r.CollateralToken, &r.DebtToken,
			&r.CollateralAmountRaw, &r.DebtAmountRaw, &receive); err != nil {
			return err
		}
		r.ReceiveAToken = receive != 0
		r.BlockTime = r.BlockTime.UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}

// conflicts returns raw rows of blocks [from, to) sharing an event_id, a
// block date and a revision with different contents.
func (c chReader) conflicts(ctx context.Context, d0, d1 time.Time, from, to uint64) ([]conflict, error) {
	args := append(c.dates(d0, d1), clickhouse.Named("from", from), clickhouse.Named("to", to))
	var out []conflict
	err := c.query(ctx, "conflicting raw rows", sqlConflicts, args, func(rs driver.Rows) error {
		var k conflict
		if err := rs.Scan(&k.eventID, &k.blockDate, &k.revision, &k.rows, &k.variants); err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	return out, err
}

// Bucket key formats of daily and hourly rollups.
const (
	dayKey  = "2006-01-02"
	hourKey = "2006-01-02T15:04Z"
)

// rollups returns the rollup rows and the raw aggregates of the UTC days
// [d0, d1], daily and hourly, keyed "daily <day>" / "hourly <hour>".
func (c chReader) rollups(ctx context.Context, d0, d1 time.Time) (rollup, raw map[string]aggregate, err error) {
	rollup, raw = map[string]aggregate{}, map[string]aggregate{}
	lo, hi := d0, d1.AddDate(0, 0, 1)
	for _, t := range []struct {
		name, table, key, filter, rawKey, format string
		lo, hi                                   any
	}{
		{"daily", "liquidations_daily", "day", "day >= toDate(@lo) AND day < toDate(@hi)", "block_date", dayKey,
			lo.Format(time.DateOnly), hi.Format(time.DateOnly)},
		{"hourly", "liquidations_hourly", "hour", "hour >= @lo AND hour < @hi", "toStartOfHour(block_time)", hourKey, lo, hi},
	} {
		add := func(into map[string]aggregate) func(driver.Rows) error {
			return func(rs driver.Rows) error {
				var a aggregate
				var key time.Time
				if err := rs.Scan(&key, &a.collateralUSD, &a.debtUSD, &a.bonusUSD, &a.feeUSD, &a.events, &a.unpriced,
					&a.retracted, &a.txs, &a.borrowers, &a.liquidators); err != nil {
					return err
				}
				into[t.name+" "+key.UTC().Format(t.format)] = a
				return nil
			}
		}
		rawSQL := fmt.Sprintf(sqlRawAggregate, t.rawKey)
		if err := c.query(ctx, "the raw aggregate for the "+t.name+" rollup", rawSQL, c.dates(d0, d1), add(raw)); err != nil {
			return nil, nil, err
		}
		rollSQL := fmt.Sprintf(sqlRollup, t.table, t.key, t.filter)
		args := []any{clickhouse.Named("chain_id", c.chainID), clickhouse.Named("lo", t.lo), clickhouse.Named("hi", t.hi)}
		if err := c.query(ctx, t.table+" FINAL", rollSQL, args, add(rollup)); err != nil {
			return nil, nil, err
		}
	}
	return rollup, raw, nil
}
