package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// stageTables lists the staging tables of the store's database.
func stageTables(ctx context.Context, t *testing.T, conn driver.Conn) map[string]bool {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'rollup_stage%'")
	if err != nil {
		t.Fatalf("listing staging tables: %v", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[n] = true
	}
	return out
}

// A recomputation drops its staging table, and the first one of a process
// drops those a killed process left behind, but not a live one's.
func TestStagingTablesAreDropped(t *testing.T) {
	s, conn := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	stale := store.StageNameAt(time.Now().Add(-2 * time.Hour))
	live := store.StageNameAt(time.Now().Add(-time.Minute))
	for _, name := range []string{stale, live} {
		if err := conn.Exec(ctx, "CREATE TABLE "+name+" (x UInt8) ENGINE = Log"); err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
	g := synth.New(testsupport.Seed(t))
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if err := s.WriteBatch(ctx, rows(t, g.Events(200, start, 48*time.Hour), 0)); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	got := stageTables(ctx, t, conn)
	if got[stale] {
		t.Errorf("staging table %s, two hours old, was not dropped", stale)
	}
	if !got[live] {
		t.Errorf("staging table %s, a minute old (a live recomputation's), was dropped", live)
	}
	if len(got) != 1 {
		t.Errorf("staging tables after the write: %v, want only %s", got, live)
	}
}

// A fill cut short leaves rows in its staging table; the retry stages into
// the same table and must not count them: staging drops and recreates it.
func TestLeftoverStagingRowsAreNotCounted(t *testing.T) {
	s, conn := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	g := synth.New(testsupport.Seed(t))
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	evs := g.Events(600, start, 120*time.Hour)
	if err := s.WriteBatch(ctx, rows(t, evs, 0)); err != nil {
		t.Fatalf("first WriteBatch: %v", err)
	}

	// What a cut-short fill leaves: the staging table with some of the
	// buckets' rows in it (here: all of them, so a second fill would double
	// every total).
	name := store.StageNameAt(time.Now())
	store.UseStageName(s, name)
	if err := conn.Exec(ctx, `CREATE TABLE `+name+` ENGINE = Log AS
		SELECT chain_id, chain, block_date AS day, toStartOfHour(block_time) AS hour, toUInt8(0) AS kind,
		    status = 'CONFIRMED' AS confirmed, status = 'RETRACTED' AS retracted, toUInt8(0) AS unpriced,
		    collateral_token, debt_token, collateral_symbol, debt_symbol, collateral_usd, debt_usd, bonus_usd,
		    protocol_fee_usd, toDecimal128(0, 8) AS bad_debt_usd, tx_hash, borrower, liquidator
		FROM liquidations FINAL`); err != nil {
		t.Fatalf("creating the leftover staging table: %v", err)
	}

	// A replay of the batch recomputes the same buckets through that table.
	if err := s.WriteBatch(ctx, rows(t, evs, 0)); err != nil {
		t.Fatalf("replayed WriteBatch: %v", err)
	}
	check(ctx, t, conn, append([]*liqstreamv1.LiquidationEvent(nil), evs...), start, start.Add(120*time.Hour))
	if got := stageTables(ctx, t, conn); len(got) != 0 {
		t.Errorf("staging tables left: %v", got)
	}
}
