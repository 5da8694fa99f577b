package query_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// readonlyCode is ClickHouse's READONLY error ("Cannot ... in readonly mode").
const readonlyCode = 164

// TestAnalystReadOnly connects to the real ClickHouse as the read-only
// analyst user of the shipped server config over the native protocol: the
// query library reads the schema and returns what the default user sees;
// INSERT, CREATE, DROP, ALTER, SET and a per-query setting fail with
// ClickHouse's readonly error and change nothing; a wrong password is refused
// without being echoed.
func TestAnalystReadOnly(t *testing.T) {
	addr, password := testsupport.ClickHouseAnalyst(t)
	db, admin := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := migrate.Run(ctx, admin, db, log); err != nil {
		t.Fatalf("migrating %s: %v", db, err)
	}
	cfg := store.DefaultConfig()
	cfg.Database = db
	s, err := store.NewWithConn(cfg, log, noop.NewMeterProvider().Meter("test"), admin)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(48 * time.Hour)
	evs := synth.New(testsupport.Seed(t)).Events(200, from, 24*time.Hour)
	rows := make([]store.Row, len(evs))
	for i, ev := range evs {
		if rows[i], err = store.NewRow(ev, store.Coordinates{Topic: "t", Offset: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteBatch(ctx, rows); err != nil {
		t.Fatal(err)
	}

	analyst, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr},
		Auth: clickhouse.Auth{Database: db, Username: testsupport.ClickHouseAnalystUser, Password: password.Reveal()}})
	if err != nil {
		t.Fatal(err)
	}
	defer analyst.Close()

	// Reads: the query library, and plain SELECT / SHOW / DESCRIBE.
	want, err := query.CycleSummary(ctx, admin, from, to)
	if err != nil {
		t.Fatal(err)
	}
	got, err := query.CycleSummary(ctx, analyst, from, to)
	if err != nil {
		t.Fatalf("CycleSummary as analyst: %v", err)
	}
	if len(got) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("CycleSummary as analyst = %+v\nas default = %+v", got, want)
	}
	if _, err := query.TopLiquidators(ctx, analyst, from, to, 5); err != nil {
		t.Fatalf("TopLiquidators as analyst: %v", err)
	}
	count := func(c driver.Conn) uint64 {
		t.Helper()
		var n uint64
		if err := c.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.liquidations", db)).Scan(&n); err != nil {
			t.Fatalf("counting rows: %v", err)
		}
		return n
	}
	if n := count(analyst); n != uint64(len(evs)) {
		t.Fatalf("analyst counts %d rows, want %d", n, len(evs))
	}
	for _, q := range []string{"SHOW TABLES FROM " + db, "DESCRIBE TABLE " + db + ".liquidations", "EXISTS TABLE " + db + ".bad_debt"} {
		r, err := analyst.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s as analyst: %v", q, err)
		}
		_ = r.Close()
	}

	// Writes, DDL and settings changes.
	batch, err := analyst.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.liquidations (chain_id, event_id)", db))
	if err == nil {
		if err = batch.Append(uint64(1), "analyst-insert"); err == nil {
			err = batch.Send()
		}
	}
	wantReadonly(t, "INSERT", err)
	for _, q := range []string{
		fmt.Sprintf("CREATE TABLE %s.analyst_made (a UInt8) ENGINE = Memory", db),
		fmt.Sprintf("DROP TABLE %s.liquidations", db),
		fmt.Sprintf("TRUNCATE TABLE %s.liquidations", db),
		fmt.Sprintf("ALTER TABLE %s.liquidations DELETE WHERE 1", db),
		"CREATE DATABASE " + db + "_analyst",
		"SET max_memory_usage = 1",
	} {
		wantReadonly(t, q, analyst.Exec(ctx, q))
	}
	// A setting sent with a query: current ClickHouse refuses it with the
	// readonly error, 18.16 drops it; either way it does not apply.
	var threads string
	if err := admin.QueryRow(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": 1})),
		"SELECT value FROM system.settings WHERE name = 'max_threads'").Scan(&threads); err != nil || threads != "1" {
		t.Fatalf("the default user's max_threads = 1 gave %q, %v: the check below would prove nothing", threads, err)
	}
	err = analyst.QueryRow(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": 1})),
		"SELECT value FROM system.settings WHERE name = 'max_threads'").Scan(&threads)
	if err != nil {
		wantReadonly(t, "SELECT with max_threads = 1", err)
	} else if threads == "1" {
		t.Fatal("a query setting (max_threads = 1) applied for the read-only analyst")
	}
	if n := count(admin); n != uint64(len(evs)) {
		t.Fatalf("after the analyst's attempts the table holds %d rows, want %d", n, len(evs))
	}

	// A wrong password is refused, and not echoed.
	const wrong = "wrong-analyst-password-c0ffee"
	bad, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr},
		Auth: clickhouse.Auth{Database: db, Username: testsupport.ClickHouseAnalystUser, Password: wrong}})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "password") || strings.Contains(err.Error(), wrong) ||
		strings.Contains(err.Error(), password.Reveal()) {
		t.Fatalf("wrong password: %v; want a refusal that does not echo it", err)
	}
}

func wantReadonly(t *testing.T, what string, err error) {
	t.Helper()
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != readonlyCode {
		t.Fatalf("%s as analyst: %v; want ClickHouse's readonly error (code %d)", what, err, readonlyCode)
	}
	t.Logf("%s: %s", what, ex.Message)
}
