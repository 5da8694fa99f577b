package migrate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liqstream/liqstream/schemas"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

func TestRunTwiceAppliesNothingTheSecondTime(t *testing.T) {
	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	pend, err := Pending(ctx, conn, db)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if len(pend) != len(schemas.Migrations()) {
		t.Fatalf("Pending on a fresh database = %d migrations, want %d", len(pend), len(schemas.Migrations()))
	}
	first, err := Run(ctx, conn, db, log)
	if err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if len(first) != len(schemas.Migrations()) {
		t.Fatalf("first Run applied %d, want %d", len(first), len(schemas.Migrations()))
	}
	second, err := Run(ctx, conn, db, log)
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if len(second) != 0 {
		t.Fatalf("second Run applied %v, want nothing", second)
	}
	if pend, err := Pending(ctx, conn, db); err != nil || len(pend) != 0 {
		t.Fatalf("Pending after Run = %v, %v; want none", pend, err)
	}
	for _, table := range []string{"liquidations", "liquidations_daily", "liquidations_hourly", "bad_debt", "liquidations_pair_daily", "liquidations_liquidator_daily", "schema_migrations"} {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s.%s: count %d, err %v", db, table, n, err)
		}
	}

	// An edited applied migration is refused.
	edited := schemas.Migrations()
	edited[0].SQL += "\n-- edited\n"
	if _, err := run(ctx, conn, db, log, edited); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("run with an edited migration: %v, want ErrChecksumMismatch", err)
	}
	// A new migration is applied alone.
	more := append(schemas.Migrations(), schemas.Migration{Version: 99, Name: "0099_extra", SQL: "CREATE TABLE IF NOT EXISTS {{database}}.extra (a UInt8) ENGINE = Log;\n"})
	applied, err := run(ctx, conn, db, log, more)
	if err != nil || len(applied) != 1 || applied[0].Version != 99 {
		t.Fatalf("run with one new migration = %v, %v", applied, err)
	}
}

func TestRejectsBadDatabaseName(t *testing.T) {
	for _, name := range []string{"", "a-b", "x; DROP TABLE y", "1abc"} {
		t.Run(name, func(t *testing.T) {
			if _, err := Run(context.Background(), nil, name, slog.New(slog.NewTextHandler(io.Discard, nil))); !errors.Is(err, ErrBadDatabase) {
				t.Fatalf("Run(%q) = %v, want ErrBadDatabase", name, err)
			}
		})
	}
}
