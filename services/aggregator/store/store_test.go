package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/usd"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newStore migrates a fresh database and returns a store writing to it.
func newStore(t testing.TB) (*store.Store, driver.Conn) {
	t.Helper()
	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := migrate.Run(ctx, conn, db, quietLog()); err != nil {
		t.Fatalf("migrating %s: %v", db, err)
	}
	cfg := store.DefaultConfig()
	cfg.Database = db
	s, err := store.NewWithConn(cfg, quietLog(), noop.NewMeterProvider().Meter("test"), conn)
	if err != nil {
		t.Fatalf("store.NewWithConn: %v", err)
	}
	return s, conn
}

func rows(t testing.TB, evs []*liqstreamv1.LiquidationEvent, offset int64) []store.Row {
	t.Helper()
	out := make([]store.Row, len(evs))
	for i, ev := range evs {
		r, err := store.NewRow(ev, store.Coordinates{Topic: "t", Partition: int32(i % 12), Offset: offset + int64(i)})
		if err != nil {
			t.Fatalf("NewRow(%s): %v", ev.GetEventId(), err)
		}
		out[i] = r
	}
	return out
}

func TestWriteBatchReplaysRevisionsAndRetractionsStayExact(t *testing.T) {
	s, conn := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	seed := testsupport.Seed(t)
	g := synth.New(seed)
	rng := rand.New(rand.NewSource(seed))
	start := time.Date(2026, 1, 30, 22, 30, 0, 0, time.UTC)
	span := 50 * time.Hour
	first := g.Events(3000, start, span)

	// A lone event on an earlier day, retracted below: its day and hour must
	// read as empty afterwards.
	lone := g.Events(1, start.Add(-48*time.Hour), time.Minute)[0]
	first = append(first, lone)

	if err := s.WriteBatch(ctx, rows(t, first, 0)); err != nil {
		t.Fatalf("first WriteBatch: %v", err)
	}
	all := append([]*liqstreamv1.LiquidationEvent(nil), first...)
	check(ctx, t, conn, all, time.Date(2026, 1, 27, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC))

	// The same batch again, plus higher revisions (some moved to another hour
	// of the same day), retractions (some of revised events), and old
	// revisions arriving after newer ones.
	second := append([]*liqstreamv1.LiquidationEvent(nil), first...)
	var revised []*liqstreamv1.LiquidationEvent
	for _, ev := range first[:len(first)-1] {
		switch rng.Intn(10) {
		case 0, 1:
			r := g.Revise(ev)
			if bt := r.GetBlockTime().AsTime(); bt.Hour() < 23 && rng.Intn(2) == 0 {
				r.BlockTime = timestamppb.New(bt.Add(time.Hour))
			}
			revised = append(revised, r)
			if rng.Intn(4) == 0 {
				revised = append(revised, synth.Retract(r))
			}
		case 2:
			revised = append(revised, synth.Retract(ev))
		}
	}
	revised = append(revised, synth.Retract(lone))
	second = append(second, revised...)
	rng.Shuffle(len(second), func(i, j int) { second[i], second[j] = second[j], second[i] })
	if err := s.WriteBatch(ctx, rows(t, second, 10_000)); err != nil {
		t.Fatalf("second WriteBatch: %v", err)
	}
	all = append(all, revised...)
	// Replaying the first batch (older revisions only) changes nothing.
	if err := s.WriteBatch(ctx, rows(t, first, 0)); err != nil {
		t.Fatalf("replayed WriteBatch: %v", err)
	}
	check(ctx, t, conn, all, time.Date(2026, 1, 27, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC))

	var raw, final uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM liquidations").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM liquidations FINAL").Scan(&final); err != nil {
		t.Fatal(err)
	}
	t.Logf("raw rows written %d, after FINAL %d, distinct confirmed %d", raw, final, len(synth.Latest(all)))
}

// check compares the hourly and daily rollups and the window queries with
// the ground truth computed in Go.
func check(ctx context.Context, t *testing.T, conn driver.Conn, all []*liqstreamv1.LiquidationEvent, from, to time.Time) {
	t.Helper()
	latest := synth.Latest(all)

	// Hourly rollup, every bucket.
	got := map[synth.Key]synth.Totals{}
	rows, err := conn.Query(ctx, `SELECT chain_id, max(chain), hour, toString(sum(collateral_usd)), toString(sum(debt_usd)),
		sum(events) AS n, toUInt64(uniqExactMerge(txs)), toUInt64(uniqExactMerge(borrowers))
		FROM liquidations_hourly FINAL GROUP BY chain_id, hour HAVING n > 0`)
	if err != nil {
		t.Fatalf("reading hourly rollup: %v", err)
	}
	for rows.Next() {
		var (
			k          synth.Key
			tot        synth.Totals
			coll, debt string
		)
		if err := rows.Scan(&k.ChainID, &tot.Chain, &k.Start, &coll, &debt, &tot.Events, &tot.Txs, &tot.Borrowers); err != nil {
			t.Fatal(err)
		}
		tot.CollateralUSD, _ = usd.Parse(coll)
		tot.DebtUSD, _ = usd.Parse(debt)
		k.Start = k.Start.UTC()
		got[k] = tot
	}
	rows.Close()
	synth.Compare(t, "hourly rollup", got, synth.Group(latest, from, to, synth.Hour))

	// Daily rollup through DailySeries, and the raw variant.
	for name, fn := range map[string]func(context.Context, driver.Conn, time.Time, time.Time) ([]query.DailyPoint, error){
		"DailySeries": query.DailySeries, "DailySeriesRaw": query.DailySeriesRaw,
	} {
		pts, err := fn(ctx, conn, from, to)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[synth.Key]synth.Totals{}
		for _, p := range pts {
			got[synth.Key{ChainID: p.ChainID, Start: p.Day}] = synth.FromSummary(p.ChainSummary)
		}
		synth.Compare(t, name, got, synth.Group(latest, from, to, synth.Day))
	}

	// Windows: the whole range and an hour-aligned part of it; exact
	// distinct counts over the window, not sums of buckets.
	mid0, mid1 := from.Add(75*time.Hour), from.Add(99*time.Hour)
	synth.CompareWindows(ctx, t, conn, latest, [][2]time.Time{{from, to}, {mid0, mid1}})
}

func TestUnalignedWindowsAreRefused(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)
	if _, err := query.CycleSummary(context.Background(), nil, from, from.Add(time.Hour)); !errors.Is(err, query.ErrUnaligned) {
		t.Errorf("CycleSummary at :30 = %v, want ErrUnaligned", err)
	}
	if _, err := query.DailySeries(context.Background(), nil, from.Truncate(time.Hour), from.Add(24*time.Hour)); !errors.Is(err, query.ErrUnaligned) {
		t.Errorf("DailySeries at 00:00..next 00:30 = %v, want ErrUnaligned", err)
	}
	if _, err := query.CycleSummaryRaw(context.Background(), nil, from, from); !errors.Is(err, query.ErrWindow) {
		t.Errorf("empty window = %v, want ErrWindow", err)
	}
}

func TestSchemaErrorSaysRunMigrate(t *testing.T) {
	db, conn := testsupport.ClickHouseDB(t) // not migrated
	cfg := store.DefaultConfig()
	cfg.Database = db
	cfg.MaxAttempts = 1
	s, err := store.NewWithConn(cfg, quietLog(), noop.NewMeterProvider().Meter("test"), conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = s.WriteBatch(ctx, rows(t, synth.New(1).Events(3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour), 0))
	var we *store.WriteError
	if !errors.As(err, &we) || store.IsRetryable(err) || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("WriteBatch on an empty database = %v; want a non-retryable WriteError that says to run migrate", err)
	}
}

// TestWriteBatchThroughput writes 30,000 events in batches of 10,000 (the
// demo's size and the consumer's default batch) and logs the rate.
func TestWriteBatchThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("measures throughput; skipped with -short")
	}
	s, _ := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	evs := synth.New(testsupport.Seed(t)).Events(30_000, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), 6*24*time.Hour)
	all := rows(t, evs, 0)
	begin := time.Now()
	for i := 0; i < len(all); i += 10_000 {
		if err := s.WriteBatch(ctx, all[i:i+10_000]); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(begin)
	t.Logf("wrote %d events in 3 batches in %s: %.0f events/s (raw insert + rollup recomputation)", len(all), took, float64(len(all))/took.Seconds())

	// The tombstone lookup's cost: a raw insert of 2,000 replayed first
	// revisions (no lookup) against 2,000 second revisions (one lookup over
	// the events' days ±7).
	g := synth.New(testsupport.Seed(t) + 1)
	revised := make([]*liqstreamv1.LiquidationEvent, 2000)
	for i := range revised {
		revised[i] = g.Revise(evs[i])
	}
	for _, b := range []struct {
		what string
		rows []store.Row
	}{{"first revisions (no lookup)", all[:2000]}, {"second revisions (lookup)", rows(t, revised, 50_000)}} {
		var u store.Unsettled
		begin := time.Now()
		if err := s.Insert(ctx, b.rows, &u); err != nil {
			t.Fatal(err)
		}
		t.Logf("raw insert of 2000 %s into %d rows: %s", b.what, len(all), time.Since(begin))
		if err := s.Settle(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
}
