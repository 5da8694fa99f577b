package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/usd"
	"github.com/liqstream/liqstream/services/liqstream/command"
	"github.com/liqstream/liqstream/services/liqstream/report"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }

// truth is what the report must show, computed in Go from the events
// written (confirmed, highest revision) over [Jan 1, Feb 10).
type truth struct {
	coll, debt, bad map[string]*big.Int
	events          map[string]uint64
	txs, borrowers  map[string]map[string]bool
	collByToken     map[string]*big.Int // chain/token
	liquidator      map[string]*big.Int
}

type fixture struct {
	addr, db string
	conn     driver.Conn
	want     truth
}

var testChains = []struct {
	id   uint64
	slug string
}{{1, "ethereum"}, {137, "polygon"}, {42161, "arbitrum"}}

// newFixture writes ~600 events over Jan 1..Feb 9 2026 on three chains with
// a wave on Jan 31..Feb 2, one retraction per 25 events, and bad debt in
// some transactions, through the store.
func newFixture(t *testing.T) fixture {
	t.Helper()
	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := migrate.Run(ctx, conn, db, log); err != nil {
		t.Fatalf("migrating %s: %v", db, err)
	}
	cfg := store.DefaultConfig()
	cfg.Database = db
	s, err := store.NewWithConn(cfg, log, noop.NewMeterProvider().Meter("test"), conn)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(testsupport.Seed(t)))
	hex := func(n int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, n)
		for i := range b {
			b[i] = digits[rng.Intn(16)]
		}
		return "0x" + string(b)
	}
	tokens := []struct{ addr, sym string }{{"0x00000000000000000000000000000000000000e1", "WETH"}, {"0x00000000000000000000000000000000000000e2", "WBTC"}, {"0x00000000000000000000000000000000000000c1", "USDC"}}
	liqs := []string{hex(40), hex(40), hex(40), hex(40)}
	borrowers := make([]string, 30)
	for i := range borrowers {
		borrowers[i] = hex(40)
	}
	w := truth{coll: map[string]*big.Int{}, debt: map[string]*big.Int{}, bad: map[string]*big.Int{}, events: map[string]uint64{},
		txs: map[string]map[string]bool{}, borrowers: map[string]map[string]bool{}, collByToken: map[string]*big.Int{}, liquidator: map[string]*big.Int{}}
	add := func(m map[string]*big.Int, k string, v *big.Int) {
		if m[k] == nil {
			m[k] = new(big.Int)
		}
		m[k].Add(m[k], v)
	}
	var rows []store.Row
	var bad []store.BadDebt
	n := 0
	for d := day(1, 1); d.Before(day(2, 10)); d = d.AddDate(0, 0, 1) {
		per := 5 + rng.Intn(5)
		if !d.Before(day(1, 31)) && d.Before(day(2, 3)) {
			per = 60 + rng.Intn(10)
		}
		for i := 0; i < per; i++ {
			c := testChains[rng.Intn(len(testChains))]
			tx := hex(64)
			bt := d.Add(time.Duration(rng.Int63n(int64(24 * time.Hour)))).Truncate(time.Second)
			ct, dt := tokens[rng.Intn(2)], tokens[2]
			coll := new(big.Int).Rand(rng, big.NewInt(1e15))
			debt := new(big.Int).Rand(rng, big.NewInt(1e15))
			ev := &liqstreamv1.LiquidationEvent{
				ChainId: c.id, Chain: c.slug, Protocol: "aave-v3", Market: "AaveV3Test", Pool: "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2",
				BlockNumber: uint64(1_000_000 + n), BlockHash: hex(64), BlockTime: timestamppb.New(bt), TxHash: tx, LogIndex: 3,
				CollateralAsset: &liqstreamv1.Asset{Address: ct.addr, Symbol: ct.sym, Decimals: 18},
				DebtAsset:       &liqstreamv1.Asset{Address: dt.addr, Symbol: dt.sym, Decimals: 6},
				Borrower:        borrowers[rng.Intn(len(borrowers))], Liquidator: liqs[min(3, rng.Intn(6))],
				DebtToCover: "1000000", LiquidatedCollateralAmount: "1000000000000000000",
				CollateralUsd: usd.Format(coll), DebtUsd: usd.Format(debt),
				EventId: fmt.Sprintf("%d:%s:3", c.id, tx), Revision: 1, Status: liqstreamv1.Status_STATUS_CONFIRMED,
				MethodVersion: "aave-v3/1", ObservedAt: timestamppb.New(bt),
			}
			n++
			r, err := store.NewRow(ev, store.Coordinates{Topic: "t", Offset: int64(n)})
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, r)
			if n%25 == 0 { // retracted at revision 2: counts nowhere
				rev := proto.Clone(ev).(*liqstreamv1.LiquidationEvent)
				rev.Revision, rev.Status = 2, liqstreamv1.Status_STATUS_RETRACTED
				r, err := store.NewRow(rev, store.Coordinates{Topic: "t", Offset: int64(100_000 + n)})
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, r)
				continue
			}
			add(w.coll, c.slug, coll)
			add(w.debt, c.slug, debt)
			w.events[c.slug]++
			if w.txs[c.slug] == nil {
				w.txs[c.slug], w.borrowers[c.slug] = map[string]bool{}, map[string]bool{}
			}
			w.txs[c.slug][tx] = true
			w.borrowers[c.slug][ev.Borrower] = true
			add(w.collByToken, c.slug+"/"+ct.addr, coll)
			add(w.liquidator, ev.Liquidator, coll)
			if n%7 == 0 {
				amt := new(big.Int).Rand(rng, big.NewInt(1e9))
				bad = append(bad, store.BadDebt{ChainID: c.id, Chain: c.slug, Protocol: "aave-v3", Market: "AaveV3Test", Pool: ev.Pool,
					BlockTime: bt, BlockNumber: ev.BlockNumber, BlockHash: ev.BlockHash, TxHash: tx, LogIndex: 4, Borrower: ev.Borrower,
					DebtToken: dt.addr, DebtSymbol: dt.sym, DebtDecimals: 6, AmountRaw: amt.String(), DebtPriceUSD: "1.00000000",
					DebtPriceSource: "ORACLE_AT_BLOCK", AmountUSD: usd.Format(new(big.Int).Mul(amt, big.NewInt(100))),
					EventID: fmt.Sprintf("%d:%s:4", c.id, tx), Revision: 1, MethodVersion: "aave-v3.3/1",
					KafkaCoordinates: store.Coordinates{Topic: "bd", Offset: int64(n)}})
				add(w.bad, c.slug, new(big.Int).Mul(amt, big.NewInt(100)))
			}
		}
	}
	if err := s.WriteBatch(ctx, rows); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	if err := s.WriteBadDebt(ctx, bad); err != nil {
		t.Fatalf("WriteBadDebt: %v", err)
	}
	return fixture{addr: testsupport.ClickHouseAddr(t), db: db, conn: conn, want: w}
}

func (f fixture) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := command.Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	base := []string{"report", "--clickhouse-addr", f.addr, "--database", f.db}
	code := command.Main(context.Background(), env, append(base, args...))
	return code, out.String(), errOut.String()
}

func (w truth) total() *big.Int {
	t := new(big.Int)
	for _, v := range w.coll {
		t.Add(t, v)
	}
	return t
}

// csvSection returns the rows of one section keyed by their second field.
func csvSection(t *testing.T, out, name string) map[string][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(out))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("reading CSV: %v\n%s", err, out)
	}
	rows := map[string][]string{}
	for _, rec := range recs {
		if rec[0] == name {
			rows[rec[1]] = rec
		}
	}
	return rows
}

func TestReport(t *testing.T) {
	f := newFixture(t)
	window := []string{"--from", "2026-01-01", "--to", "2026-02-10"}
	total := f.want.total()
	share := func(v *big.Int) string { return new(big.Rat).SetFrac(v, total).FloatString(8) }

	t.Run("csv", func(t *testing.T) {
		code, out, stderr := f.run(t, append(window, "--format", "csv")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		chains := csvSection(t, out, "chains")
		for _, c := range testChains {
			want := []string{"chains", c.slug, usd.Format(f.want.coll[c.slug]), usd.Format(f.want.debt[c.slug]),
				fmt.Sprint(f.want.events[c.slug]), fmt.Sprint(len(f.want.txs[c.slug])), fmt.Sprint(len(f.want.borrowers[c.slug])), share(f.want.coll[c.slug])}
			if got := chains[c.slug]; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("chains row %s = %v, want %v", c.slug, got, want)
			}
		}
		if got := chains["total"]; len(got) < 3 || got[2] != usd.Format(total) {
			t.Errorf("total row %v, want collateral %s", got, usd.Format(total))
		}
		// Bad debt of the whole window, keyed by label; pick the window rows.
		r := csv.NewReader(strings.NewReader(out))
		r.FieldsPerRecord = -1
		recs, _ := r.ReadAll()
		badGot := map[string]string{}
		for _, rec := range recs {
			if rec[0] == "bad_debt" && rec[1] == "window" {
				badGot[rec[4]] = rec[5]
			}
		}
		for _, c := range testChains {
			if badGot[c.slug] != usd.Format(f.want.bad[c.slug]) {
				t.Errorf("bad debt %s = %q, want %s", c.slug, badGot[c.slug], usd.Format(f.want.bad[c.slug]))
			}
		}
		// Top collateral asset: the largest chain/token sum.
		var best string
		for k, v := range f.want.collByToken {
			if best == "" || v.Cmp(f.want.collByToken[best]) > 0 {
				best = k
			}
		}
		top := csvSection(t, out, "collateral_assets")["1"]
		if len(top) < 6 || top[2]+"/"+top[4] != best || top[5] != usd.Format(f.want.collByToken[best]) {
			t.Errorf("top collateral asset %v, want %s %s", top, best, usd.Format(f.want.collByToken[best]))
		}
		// The wave days of Jan 31..Feb 2 form one wave (days at the start
		// of the data, whose trailing median is 0, may form another).
		found := false
		for _, w := range csvSection(t, out, "waves") {
			found = found || (w[2] == "2026-01-31" && w[3] == "2026-02-03")
		}
		if !found {
			t.Errorf("no wave [2026-01-31, 2026-02-03) in %v", csvSection(t, out, "waves"))
		}
	})

	t.Run("json", func(t *testing.T) {
		code, out, stderr := f.run(t, append(window, "--format", "json")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var doc struct {
			USDShown string `json:"usd_shown"`
			Sections []struct {
				Name string           `json:"name"`
				Rows []map[string]any `json:"rows"`
			} `json:"sections"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("decoding JSON: %v\n%s", err, out)
		}
		if !strings.Contains(doc.USDShown, "collateral") {
			t.Errorf("usd_shown %q does not say collateral", doc.USDShown)
		}
		var liqs []string
		for l := range f.want.liquidator {
			liqs = append(liqs, l)
		}
		sort.Slice(liqs, func(i, j int) bool { return f.want.liquidator[liqs[i]].Cmp(f.want.liquidator[liqs[j]]) > 0 })
		seen := map[string]bool{}
		for _, s := range doc.Sections {
			seen[s.Name] = true
			switch s.Name {
			case "chains":
				for _, row := range s.Rows {
					c := row["chain"].(string)
					if c == "total" {
						continue
					}
					if row["collateral_usd"] != usd.Format(f.want.coll[c]) || row["debt_usd"] != usd.Format(f.want.debt[c]) ||
						row["events"] != float64(f.want.events[c]) || row["transactions"] != float64(len(f.want.txs[c])) ||
						row["borrowers"] != float64(len(f.want.borrowers[c])) || row["share"] != share(f.want.coll[c]) {
						t.Errorf("chains row %v, want coll %s debt %s events %d", row, usd.Format(f.want.coll[c]), usd.Format(f.want.debt[c]), f.want.events[c])
					}
				}
			case "liquidators":
				if row := s.Rows[0]; row["liquidator"] != liqs[0] || row["collateral_usd"] != usd.Format(f.want.liquidator[liqs[0]]) {
					t.Errorf("top liquidator %v, want %s %s", row, liqs[0], usd.Format(f.want.liquidator[liqs[0]]))
				}
			}
		}
		for _, name := range []string{"chains", "bad_debt", "waves", "collateral_assets", "debt_assets", "liquidators"} {
			if !seen[name] {
				t.Errorf("section %s missing", name)
			}
		}
	})

	for _, format := range []string{"table", "markdown"} {
		t.Run(format, func(t *testing.T) {
			code, out, stderr := f.run(t, append(window, "--format", format)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, c := range testChains {
				line := ""
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(strings.TrimLeft(l, "| "), c.slug+" ") {
						line = l
						break
					}
				}
				for _, want := range []string{report.Money(f.want.coll[c.slug]), report.Money(f.want.debt[c.slug]), fmt.Sprint(len(f.want.txs[c.slug]))} {
					if !strings.Contains(line, want) {
						t.Errorf("%s line %q lacks %s", c.slug, line, want)
					}
				}
			}
			if !strings.Contains(out, "collateral seized") {
				t.Errorf("output does not say which USD it shows:\n%s", out)
			}
		})
	}

	t.Run("chain filter", func(t *testing.T) {
		code, out, stderr := f.run(t, append(window, "--format", "csv", "--chain", "polygon,1")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		rows := csvSection(t, out, "chains")
		sub := new(big.Int).Add(f.want.coll["polygon"], f.want.coll["ethereum"])
		if _, ok := rows["arbitrum"]; ok || rows["total"][2] != usd.Format(sub) ||
			rows["polygon"][7] != new(big.Rat).SetFrac(f.want.coll["polygon"], sub).FloatString(8) {
			t.Errorf("filtered chains %v, want ethereum+polygon totalling %s", rows, usd.Format(sub))
		}
		if len(csvSection(t, out, "liquidators")) != 0 {
			t.Error("liquidators shown in a chain-filtered report")
		}
	})

	t.Run("chart", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "daily.png")
		if code, _, stderr := f.run(t, append(window, "--chart", path)...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || len(data) < 10_000 {
			t.Fatalf("chart is not a PNG of non-trivial size (%d bytes, starts %q)", len(data), data[:min(8, len(data))])
		}
		if dst := os.Getenv("LIQSTREAM_REPORT_CHART"); dst != "" {
			_ = os.WriteFile(dst, data, 0o644)
		}
	})

	t.Run("compare", func(t *testing.T) {
		poly := new(big.Rat).SetFrac(f.want.coll["polygon"], big.NewInt(1e8))
		near := new(big.Rat).Mul(poly, big.NewRat(102, 100)).FloatString(2) // measured is 2 % below
		far := new(big.Rat).Mul(poly, big.NewRat(2, 1)).FloatString(2)
		events := fmt.Sprint(f.want.events["ethereum"])
		tests := []struct {
			name, value, tol string
			code             int
			status           string
		}{
			{"within", near, "0.05", 0, "ok"},
			{"out of tolerance", far, "0.05", 3, "OUT OF TOLERANCE"},
			{"exact count", events, "0", 0, "ok"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				metric, chain := "collateral_usd", "polygon"
				if tt.value == events {
					metric, chain = "events", "ethereum"
				}
				path := filepath.Join(t.TempDir(), "figs.json")
				doc := fmt.Sprintf(`{"source":"test","figures":[{"window":{"from":"2026-01-01","to":"2026-02-10"},"chain":%q,"metric":%q,"value":%q,"tolerance":%q}]}`, chain, metric, tt.value, tt.tol)
				if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
					t.Fatal(err)
				}
				code, out, stderr := f.run(t, append(window, "--format", "csv", "--compare", path)...)
				if code != tt.code {
					t.Fatalf("exit %d, want %d: %s", code, tt.code, stderr)
				}
				row := csvSection(t, out, "comparison")[chain]
				if len(row) < 10 || row[9] != tt.status {
					t.Fatalf("comparison row %v, want status %s", row, tt.status)
				}
			})
		}
	})

	t.Run("brief figures file loads", func(t *testing.T) {
		figs, err := report.LoadFigures("testdata/brief_figures.json")
		if err != nil || len(figs.Figures) < 5 || !strings.Contains(figs.Source, "not state") {
			t.Fatalf("LoadFigures: %v, %+v", err, figs)
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			code int
			text string
		}{
			{"bad date", []string{"--from", "Jan 1", "--to", "2026-02-01"}, 2, "is not a date"},
			{"from not before to", []string{"--from", "2026-02-01", "--to", "2026-02-01"}, 2, "must be after --from"},
			{"missing to", []string{"--from", "2026-02-01"}, 2, "are required"},
			{"unknown chain", append(window, "--chain", "solana"), 2, "use one of"},
			{"unknown protocol", append(window, "--protocol", "compound-v3"), 2, "protocols present: aave-v3"},
			{"bad format", append(window, "--format", "xml"), 2, "want table, csv, json or markdown"},
			{"empty window", []string{"--from", "2025-01-01", "--to", "2025-02-01"}, 1, "no confirmed liquidation"},
			{"missing compare file", append(window, "--compare", "/nonexistent.json"), 2, "--compare"},
			{"unreachable", append(window, "--clickhouse-addr", "127.0.0.1:1"), 1, "is the server running"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, _, stderr := f.run(t, tt.args...)
				if code != tt.code || !strings.Contains(stderr, tt.text) {
					t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.text)
				}
			})
		}
	})

	t.Run("protocol filter", func(t *testing.T) {
		code, out, stderr := f.run(t, append(window, "--format", "csv", "--protocol", "aave-v3")...)
		if code != 0 || csvSection(t, out, "chains")["total"][2] != usd.Format(total) {
			t.Fatalf("exit %d %s; total %v, want %s", code, stderr, csvSection(t, out, "chains")["total"], usd.Format(total))
		}
	})
}
