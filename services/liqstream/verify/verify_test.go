package verify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/usd"
	"github.com/liqstream/liqstream/services/liqstream/demo"
	"github.com/liqstream/liqstream/services/liqstream/verify"
)

// The fixture: Base over 2026-01-30..2026-02-02 (the start of the wave),
// loaded once through the real pipeline (chainsim → ingest → kfake →
// aggregator → ClickHouse) by the demo, and the same chainsim served again
// for verify.
const (
	chainID = 8453
	slug    = "base"
	from    = "2026-01-30"
	to      = "2026-02-02"
)

type fixture struct {
	addr, db string
	seed     int64
	scale    float64
	rpcURL   string
	events   []sim.Event
	market   chains.Market
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	fixtureErr  error
)

func window() (time.Time, time.Time) {
	f, _ := time.Parse(time.DateOnly, from)
	t, _ := time.Parse(time.DateOnly, to)
	return f, t
}

func testLogger() *slog.Logger {
	if os.Getenv("LIQSTREAM_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// serveSim serves a chainsim of the fixture's window for Base.
func serveSim(t testing.TB, seed int64, scale float64) (*sim.Sim, string) {
	t.Helper()
	wf, wt := window()
	s, err := sim.New(sim.Config{Seed: seed, Scale: scale, From: wf, To: wt, Chains: []uint64{chainID}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	base, err := s.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return s, base + "/" + slug
}

// loadFixture runs the demo pipeline once per test binary into its own
// database (TestMain drops it when every test passed) and serves the same
// chainsim for the calling test.
func loadFixture(t *testing.T) *fixture {
	t.Helper()
	addr := testsupport.ClickHouseAddr(t)
	seed := testsupport.Seed(t)
	fixtureOnce.Do(func() {
		wf, wt := window()
		cfg := demo.DefaultConfig()
		cfg.Seed, cfg.Scale, cfg.From, cfg.To = seed, 0.3, wf, wt
		cfg.Chains = []string{slug}
		cfg.Windows = nil
		cfg.ClickHouseAddr = addr
		cfg.Database = testsupport.UniqueName("liqstream_verify")
		cfg.Timeout = 2 * time.Minute
		cfg.ProgressEvery = 0
		cfg.TopicPrefix = testsupport.UniqueName("verify") + "."
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+10*time.Second)
		defer cancel()
		start := time.Now()
		res, err := demo.Run(ctx, cfg, testLogger(), noop.NewMeterProvider().Meter("test"), io.Discard)
		if err != nil {
			fixtureErr = err
			return
		}
		if bad := res.Mismatches(); len(bad) > 0 {
			fixtureErr = fmt.Errorf("the demo load differs from chainsim's truth: %v", bad)
			return
		}
		m, _ := chains.Default().PrimaryV3Market(chainID)
		shared = &fixture{addr: addr, db: cfg.Database, seed: seed, scale: cfg.Scale, market: m}
		fmt.Fprintf(os.Stderr, "verify fixture: %d events of %s loaded into %s in %s\n", res.Published, slug, cfg.Database, time.Since(start).Round(time.Millisecond))
	})
	if fixtureErr != nil {
		t.Fatalf("loading the fixture: %v", fixtureErr)
	}
	f := *shared
	s, url := serveSim(t, f.seed, f.scale)
	f.rpcURL = url
	f.events = s.Truth().Events(chainID)
	if len(f.events) < 20 {
		t.Fatalf("chainsim has only %d events in the window", len(f.events))
	}
	return &f
}

func dropShared() {
	if shared == nil {
		return
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{shared.addr}})
	if err != nil {
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+shared.db)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		dropShared()
	}
	os.Exit(code)
}

// clone copies the fixture's liquidations (without the rows of exclude) and
// rollups into a fresh migrated database and returns it with a store on it.
func clone(t *testing.T, f *fixture, exclude string) (string, driver.Conn, *store.Store) {
	t.Helper()
	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	scfg := store.DefaultConfig()
	scfg.Addr, scfg.Database = []string{f.addr}, db
	if _, err := aggregator.Migrate(ctx, scfg, testLogger(), false); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"liquidations", "liquidations_daily", "liquidations_hourly"} {
		var cols []string
		rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = @db AND table = @t AND default_kind NOT IN ('ALIAS', 'MATERIALIZED')",
			clickhouse.Named("db", f.db), clickhouse.Named("t", table))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		rows.Close()
		list := strings.Join(cols, ", ")
		where := ""
		if table == "liquidations" && exclude != "" {
			where = " WHERE event_id != @exclude"
		}
		if err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s) SELECT %s FROM %s.%s%s", db, table, list, list, f.db, table, where),
			clickhouse.Named("exclude", exclude)); err != nil {
			t.Fatalf("copying %s: %v", table, err)
		}
	}
	st, err := store.New(scfg, testLogger(), noop.NewMeterProvider().Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return db, conn, st
}

// eventOf builds the event ingest publishes for a chainsim event.
func eventOf(f *fixture, w sim.Event) *liqstreamv1.LiquidationEvent {
	lower := func(s interface{ Hex() string }) string { return strings.ToLower(s.Hex()) }
	tx := lower(w.TxHash)
	return &liqstreamv1.LiquidationEvent{
		ChainId: chainID, Chain: slug, Protocol: "aave-v3", Market: f.market.Name, Pool: lower(w.Pool),
		BlockNumber: w.BlockNumber, BlockHash: lower(w.BlockHash), BlockTime: timestamppb.New(w.BlockTime),
		TxHash: tx, TxIndex: uint32(w.TxIndex), LogIndex: uint32(w.LogIndex),
		CollateralAsset:            &liqstreamv1.Asset{Address: lower(w.CollateralAsset), Symbol: w.CollateralSymbol, Decimals: uint32(w.CollateralDecimals)},
		DebtAsset:                  &liqstreamv1.Asset{Address: lower(w.DebtAsset), Symbol: w.DebtSymbol, Decimals: uint32(w.DebtDecimals)},
		Borrower:                   lower(w.Borrower),
		Liquidator:                 lower(w.Liquidator),
		DebtToCover:                w.DebtToCover.String(),
		LiquidatedCollateralAmount: w.LiquidatedCollateralAmount.String(),
		ReceiveAToken:              w.ReceiveAToken,
		CollateralPrice:            &liqstreamv1.Price{Usd: usd.Format(w.CollateralPriceE8), Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: w.BlockNumber},
		DebtPrice:                  &liqstreamv1.Price{Usd: usd.Format(w.DebtPriceE8), Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: w.BlockNumber},
		DebtUsd:                    usd.Format(w.DebtUSD),
		CollateralUsd:              usd.Format(w.CollateralUSD),
		EventId:                    fmt.Sprintf("%d:%s:%d", chainID, tx, w.LogIndex),
		Revision:                   1,
		Status:                     liqstreamv1.Status_STATUS_CONFIRMED,
		MethodVersion:              ingest.MethodVersion,
		ObservedAt:                 timestamppb.Now(),
	}
}

func write(t *testing.T, st *store.Store, evs ...*liqstreamv1.LiquidationEvent) {
	t.Helper()
	var rows []store.Row
	for _, ev := range evs {
		r, err := store.NewRow(ev, store.Coordinates{Topic: "verify-test"})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.WriteBatch(ctx, rows); err != nil {
		t.Fatal(err)
	}
}

func exec(t *testing.T, conn driver.Conn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func runVerify(t *testing.T, f *fixture, db, rpcURL string) *verify.Report {
	t.Helper()
	cfg := verify.DefaultConfig()
	cfg.Chain, cfg.RPCURL, cfg.From, cfg.To = slug, secret.URL(rpcURL), from, to
	cfg.ClickHouse.Addr, cfg.ClickHouse.Database = []string{f.addr}, db
	v, err := verify.New(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := v.Run(ctx)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func fakeHash(n byte) string { return "0x" + strings.Repeat(fmt.Sprintf("%02x", n), 32) }

// TestVerify loads a clean copy, injects one fault per case and checks that
// verify reports exactly that fault, with the right kind and event.
func TestVerify(t *testing.T) {
	f := loadFixture(t)
	evs := f.events
	mid := evs[len(evs)/2]
	first := evs[0]
	wf, _ := window()
	if first.BlockTime.Truncate(24*time.Hour) != wf {
		t.Fatalf("chainsim's first event is on %s, want one on %s", first.BlockTime, wf)
	}
	idOf := func(w sim.Event) string { return eventOf(f, w).EventId }

	type want struct {
		kind   verify.Kind
		id     string // "" for rollups
		detail string // substring of the detail or of a field name
	}
	tests := []struct {
		name    string
		exclude string
		inject  func(t *testing.T, conn driver.Conn, st *store.Store)
		want    []want
		// maybe lists kinds also allowed for the same event: FINAL picks an
		// arbitrary row among equal revisions.
		maybe verify.Kind
	}{
		{name: "clean"},
		{name: "deleted row", exclude: idOf(mid),
			inject: func(t *testing.T, _ driver.Conn, st *store.Store) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				wf, wt := window()
				if err := st.Recompute(ctx, map[uint64]string{chainID: slug}, wf, wt); err != nil {
					t.Fatal(err)
				}
			},
			want: []want{{verify.KindMissing, idOf(mid), "no row"}}},
		{name: "extra confirmed event not on chain",
			inject: func(t *testing.T, _ driver.Conn, st *store.Store) {
				ev := eventOf(f, mid)
				ev.TxHash = fakeHash(0xee)
				ev.EventId = fmt.Sprintf("%d:%s:%d", chainID, ev.TxHash, ev.LogIndex)
				write(t, st, ev)
			},
			want: []want{{verify.KindExtra, fmt.Sprintf("%d:%s:%d", chainID, fakeHash(0xee), mid.LogIndex), "not on chain"}}},
		{name: "reorged out, retraction not applied",
			inject: func(t *testing.T, _ driver.Conn, st *store.Store) {
				ev := eventOf(f, mid)
				ev.TxHash, ev.BlockHash = fakeHash(0xdd), fakeHash(0xdc)
				ev.EventId = fmt.Sprintf("%d:%s:%d", chainID, ev.TxHash, ev.LogIndex)
				write(t, st, ev)
			},
			want: []want{{verify.KindExtra, fmt.Sprintf("%d:%s:%d", chainID, fakeHash(0xdd), mid.LogIndex), "retraction not applied"}}},
		{name: "stale revision",
			inject: func(t *testing.T, _ driver.Conn, st *store.Store) {
				ev := eventOf(f, mid)
				ev.Revision = 2
				ev.DebtToCover = new(big.Int).Add(mid.DebtToCover, big.NewInt(1)).String()
				write(t, st, ev)
			},
			want: []want{{verify.KindStale, idOf(mid), "debt_amount_raw"}}},
		{name: "conflicting rows at the highest revision",
			inject: func(t *testing.T, _ driver.Conn, st *store.Store) {
				ev := eventOf(f, mid)
				ev.Liquidator = "0x" + strings.Repeat("ab", 20)
				write(t, st, ev)
			},
			want: []want{{verify.KindDuplicate, idOf(mid), "different contents"}}, maybe: verify.KindStale},
		{name: "revision stored under another day is tombstoned by the store",
			inject: func(t *testing.T, _ driver.Conn, st *store.Store) {
				ev := eventOf(f, first)
				ev.Revision = 2
				ev.BlockTime = timestamppb.New(first.BlockTime.Add(24 * time.Hour))
				write(t, st, ev)
			},
			want: []want{{verify.KindStale, idOf(first), "block_time"}}},
		{name: "revision under another day without a tombstone",
			inject: func(t *testing.T, conn driver.Conn, st *store.Store) {
				// What a store without tombstones wrote: a CONFIRMED higher
				// revision on the next day, the first day's row left as it is.
				exec(t, conn, `INSERT INTO liquidations (chain_id, chain, protocol, market, pool, block_time, block_number, block_hash,
					tx_hash, tx_index, log_index, borrower, liquidator, collateral_token, debt_token, collateral_amount_raw,
					debt_amount_raw, receive_a_token, collateral_usd, debt_usd, event_id, revision, status)
					SELECT chain_id, chain, protocol, market, pool, block_time + 86400, block_number, block_hash,
					tx_hash, tx_index, log_index, borrower, liquidator, collateral_token, debt_token, collateral_amount_raw,
					debt_amount_raw, receive_a_token, collateral_usd, debt_usd, event_id, revision + 1, status
					FROM liquidations FINAL WHERE chain_id = @c AND block_date = toDate(@d) AND event_id = @id`,
					clickhouse.Named("c", uint64(chainID)), clickhouse.Named("d", first.BlockTime.Format(time.DateOnly)),
					clickhouse.Named("id", idOf(first)))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				wf, wt := window()
				if err := st.Recompute(ctx, map[uint64]string{chainID: slug}, wf, wt.Add(24*time.Hour)); err != nil {
					t.Fatal(err)
				}
			},
			want: []want{{verify.KindDuplicate, idOf(first), "rows after FINAL"}, {verify.KindStale, idOf(first), "block_time"}}},
		{name: "daily rollup tampered",
			inject: func(t *testing.T, conn driver.Conn, _ *store.Store) {
				exec(t, conn, `INSERT INTO liquidations_daily (chain_id, chain, day, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd,
					events, unpriced_events, retracted_events, txs, borrowers, liquidators, version, computed_at)
					SELECT chain_id, chain, day, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd, events + 1, unpriced_events,
					retracted_events, txs, borrowers, liquidators, version + 1, computed_at
					FROM liquidations_daily FINAL WHERE chain_id = @c AND day = toDate(@d)`,
					clickhouse.Named("c", uint64(chainID)), clickhouse.Named("d", mid.BlockTime.Format(time.DateOnly)))
			},
			want: []want{{verify.KindRollup, "", "events"}}},
		{name: "hourly rollup tampered",
			inject: func(t *testing.T, conn driver.Conn, _ *store.Store) {
				exec(t, conn, `INSERT INTO liquidations_hourly (chain_id, chain, hour, collateral_usd, debt_usd, bonus_usd, protocol_fee_usd,
					events, unpriced_events, retracted_events, txs, borrowers, liquidators, version, computed_at)
					SELECT chain_id, chain, hour, toDecimal128(0, 8), debt_usd, bonus_usd, protocol_fee_usd, events, unpriced_events,
					retracted_events, txs, borrowers, liquidators, version + 1, computed_at
					FROM liquidations_hourly FINAL WHERE chain_id = @c AND hour = @h`,
					clickhouse.Named("c", uint64(chainID)), clickhouse.Named("h", mid.BlockTime.Truncate(time.Hour)))
			},
			want: []want{{verify.KindRollup, "", "collateral_usd"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, conn, st := clone(t, f, tc.exclude)
			if tc.inject != nil {
				tc.inject(t, conn, st)
			}
			rep := runVerify(t, f, db, f.rpcURL)
			t.Log(rep.Summary())
			if rep.ChainEvents != len(evs) {
				t.Fatalf("%d events on chain, chainsim truth has %d", rep.ChainEvents, len(evs))
			}
			matched := make([]bool, len(rep.Differences))
			for _, w := range tc.want {
				found := false
				for i, d := range rep.Differences {
					text := d.String()
					if d.Kind == w.kind && d.EventID == w.id && strings.Contains(text, w.detail) && !matched[i] {
						matched[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("no %s difference for %q mentioning %q", w.kind, w.id, w.detail)
				}
			}
			for i, d := range rep.Differences {
				if !matched[i] && !(tc.maybe != "" && d.Kind == tc.maybe && len(tc.want) > 0 && d.EventID == tc.want[0].id) {
					t.Errorf("unexpected difference: %s", d)
				}
			}
			if t.Failed() {
				var b strings.Builder
				_ = rep.WriteText(&b)
				t.Log(b.String())
			}
			if len(tc.want) == 0 && (!rep.OK() || rep.ClickHouseEvents != len(evs)) {
				t.Fatalf("clean load: %s", rep.Summary())
			}
		})
	}
}

// TestVerifyOtherChain verifies the clean load against a chainsim with
// another seed: every event on that chain is missing and every event in
// ClickHouse is extra, reorged out (its block hash is not canonical).
func TestVerifyOtherChain(t *testing.T) {
	f := loadFixture(t)
	db, _, _ := clone(t, f, "")
	_, url := serveSim(t, f.seed+1, f.scale)
	rep := runVerify(t, f, db, url)
	c := rep.Counts()
	if rep.ChainEvents == 0 || c[verify.KindMissing] != rep.ChainEvents || c[verify.KindExtra] != rep.ClickHouseEvents ||
		rep.ClickHouseEvents != len(f.events) || len(rep.Differences) != rep.ChainEvents+rep.ClickHouseEvents {
		t.Fatalf("against another chain: %s", rep.Summary())
	}
	for _, d := range rep.Differences {
		if d.Kind == verify.KindExtra && !strings.Contains(d.Detail, "reorged out") {
			t.Fatalf("extra not classified as reorged out: %s", d)
		}
	}
	t.Log(rep.Summary())
}
