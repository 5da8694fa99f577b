package dashboards

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"go.opentelemetry.io/otel/metric/noop"
)

// result is what one panel query returned.
type result struct {
	names []string
	types []string
	rows  [][]any
}

func (r result) col(name string) int {
	for i, n := range r.names {
		if n == name {
			return i
		}
	}
	return -1
}

func isNumeric(typ string) bool {
	typ = strings.TrimSuffix(strings.TrimPrefix(typ, "Nullable("), ")")
	return strings.HasPrefix(typ, "UInt") || strings.HasPrefix(typ, "Int") || strings.HasPrefix(typ, "Float")
}

func isTime(typ string) bool { return typ == "Date" || strings.HasPrefix(typ, "DateTime") }

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case nil:
		return 0, true
	}
	return 0, false
}

// query runs sql and reads every row generically.
func query(ctx context.Context, conn driver.Conn, sql string) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return result{}, err
	}
	defer rows.Close()
	var r result
	cts := rows.ColumnTypes()
	for _, ct := range cts {
		r.names = append(r.names, ct.Name())
		r.types = append(r.types, ct.DatabaseTypeName())
	}
	for rows.Next() {
		dst := make([]any, len(cts))
		for i, ct := range cts {
			dst[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dst...); err != nil {
			return result{}, err
		}
		row := make([]any, len(dst))
		for i, d := range dst {
			v := reflect.ValueOf(d).Elem()
			for v.Kind() == reflect.Pointer {
				if v.IsNil() {
					break
				}
				v = v.Elem()
			}
			if v.Kind() == reflect.Pointer && v.IsNil() {
				row[i] = nil
			} else {
				row[i] = v.Interface()
			}
		}
		r.rows = append(r.rows, row)
	}
	return r, rows.Err()
}

// testCase is one time range and selection every panel is run with.
type testCase struct {
	name  string
	rng   TimeRange
	sel   map[string]Selection
	empty bool // the range holds no data
}

// selected reports whether the chain and protocol of a row pass sel.
func selected(sel map[string]Selection, chain, protocol string) bool {
	in := func(name, v string) bool {
		s, ok := sel[name]
		if !ok || s.All || (len(s.Values) == 0) {
			return true
		}
		for _, x := range s.Values {
			if x == v {
				return true
			}
		}
		return false
	}
	return in("chain", chain) && in("protocol", protocol)
}

// valueCheck compares one panel's result with the truth.
type valueCheck func(t *testing.T, tr truth, tc testCase, r result)

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-6*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// checks are keyed by dashboard uid and panel title; a listed panel that no
// longer exists fails the test, so renaming one means updating its check.
var checks = map[string]map[string]valueCheck{
	"liqstream-overview": {
		"Per-chain summary (collateral USD and debt USD)": func(t *testing.T, tr truth, tc testCase, r result) {
			type agg struct {
				coll, debt, bad float64
				n               int
			}
			want := map[string]*agg{}
			get := func(c string) *agg {
				if want[c] == nil {
					want[c] = &agg{}
				}
				return want[c]
			}
			for _, l := range tr.liqs {
				if selected(tc.sel, l.ev.GetChain(), "") {
					a := get(l.ev.GetChain())
					a.coll += l.coll
					a.debt += l.debt
					a.n++
				}
			}
			for _, b := range tr.badDebt {
				if selected(tc.sel, b.chain, "") {
					get(b.chain).bad += f8(b.usdE8)
				}
			}
			if len(r.rows) != len(want) {
				t.Errorf("%d chains, want %d", len(r.rows), len(want))
			}
			for _, row := range r.rows {
				c := row[r.col("chain")].(string)
				w := want[c]
				if w == nil {
					t.Errorf("unexpected chain %s", c)
					continue
				}
				coll, _ := num(row[r.col("liquidated_value_usd")])
				debt, _ := num(row[r.col("debt_repaid_usd")])
				bad, _ := num(row[r.col("bad_debt_usd")])
				n, _ := num(row[r.col("events")])
				if !near(coll, w.coll) || !near(debt, w.debt) || !near(bad, w.bad) || int(n) != w.n {
					t.Errorf("%s: liquidated %.2f debt %.2f bad %.2f events %d; want %.2f %.2f %.2f %d", c, coll, debt, bad, int(n), w.coll, w.debt, w.bad, w.n)
				}
			}
		},
	},
	"liqstream-cycle": {
		"Liquidations, transactions, borrowers, liquidators": func(t *testing.T, tr truth, tc testCase, r result) {
			n := 0
			for _, l := range tr.liqs {
				if selected(tc.sel, l.ev.GetChain(), l.ev.GetProtocol()) {
					n++
				}
			}
			if got, _ := num(r.rows[0][r.col("events")]); int(got) != n {
				t.Errorf("events = %v, want %d", got, n)
			}
		},
	},
	"liqstream-largest": {
		"Top 100 by liquidated value (collateral USD)": func(t *testing.T, tr truth, tc testCase, r result) {
			var best *liq
			n := 0
			for i, l := range tr.liqs {
				if selected(tc.sel, l.ev.GetChain(), "") {
					n++
					if best == nil || l.coll > best.coll {
						best = &tr.liqs[i]
					}
				}
			}
			if len(r.rows) != min(n, 100) {
				t.Errorf("%d rows, want %d", len(r.rows), min(n, 100))
			}
			if got := r.rows[0][r.col("event_id")]; got != best.ev.GetEventId() {
				t.Errorf("largest event %v, want %s ($%.2f)", got, best.ev.GetEventId(), best.coll)
			}
		},
	},
	"liqstream-liquidators": {
		"Top liquidators by liquidated value (collateral USD)": func(t *testing.T, tr truth, tc testCase, r result) {
			by := map[string]float64{}
			total := 0.0
			for _, l := range tr.liqs {
				if selected(tc.sel, l.ev.GetChain(), "") {
					by[l.ev.GetLiquidator()] += l.coll
					total += l.coll
				}
			}
			top, topV := "", -1.0
			for k, v := range by {
				if v > topV {
					top, topV = k, v
				}
			}
			if got := r.rows[0][r.col("liquidator")]; got != top {
				t.Errorf("top liquidator %v, want %s", got, top)
			}
			if got, _ := num(r.rows[0][r.col("share_pct")]); !near(got, topV/total*100) {
				t.Errorf("top share %.4f%%, want %.4f%%", got, topV/total*100)
			}
		},
	},
	"liqstream-assets": {
		"Collateral / debt pairs (collateral USD and debt USD)": func(t *testing.T, tr truth, tc testCase, r result) {
			n := 0
			for _, l := range tr.liqs {
				if selected(tc.sel, l.ev.GetChain(), "") {
					n++
				}
			}
			sum := 0.0
			for _, row := range r.rows {
				v, _ := num(row[r.col("events")])
				sum += v
			}
			if int(sum) != n {
				t.Errorf("events over all pairs %v, want %d", sum, n)
			}
		},
	},
	"liqstream-bad-debt": {
		"Largest write-offs (USD)": func(t *testing.T, tr truth, tc testCase, r result) {
			var want []badDebtRow
			for _, b := range tr.badDebt {
				if selected(tc.sel, b.chain, "") {
					want = append(want, b)
				}
			}
			sort.Slice(want, func(i, j int) bool { return want[i].usdE8 > want[j].usdE8 })
			if len(r.rows) != len(want) {
				t.Fatalf("%d write-offs, want %d (retracted ones excluded)", len(r.rows), len(want))
			}
			if got := r.rows[0][r.col("event_id")]; got != want[0].eventID {
				t.Errorf("largest write-off %v, want %s", got, want[0].eventID)
			}
		},
	},
}

// TestDashboardsRunOnClickHouse expands every panel query of every dashboard
// like Grafana and the plugin do and runs it on the real ClickHouse, loaded
// with known data, for several time ranges and variable selections.
func TestDashboardsRunOnClickHouse(t *testing.T) {
	db, conn := testsupport.ClickHouseDB(t)
	seed := testsupport.Seed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
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
	tr := loadData(ctx, t, s, conn, seed)

	// The schema's Decimal columns, for Check.
	dec, err := query(ctx, conn, fmt.Sprintf("SELECT DISTINCT name FROM system.columns WHERE database = '%s' AND type LIKE '%%Decimal%%'", db))
	if err != nil {
		t.Fatal(err)
	}
	decimals := map[string]bool{}
	for _, row := range dec.rows {
		decimals[row[0].(string)] = true
	}

	ds, err := LoadDir(grafanaDir + "/dashboards")
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs := []string{"liqstream-overview", "liqstream-cycle", "liqstream-largest", "liqstream-liquidators", "liqstream-assets", "liqstream-bad-debt"}
	byUID := map[string]Dashboard{}
	for _, d := range ds {
		byUID[d.UID] = d
	}
	for _, u := range wantUIDs {
		if _, ok := byUID[u]; !ok {
			t.Errorf("dashboard %s is missing from deploy/grafana/dashboards", u)
		}
	}

	data := TimeRange{From: dataFrom, To: dataTo}
	cases := []testCase{
		{name: "all", rng: data, sel: map[string]Selection{"chain": All, "protocol": All}},
		{name: "one chain one protocol", rng: data, sel: map[string]Selection{"chain": Pick("ethereum"), "protocol": Pick("aave-v3")}},
		{name: "two chains", rng: data, sel: map[string]Selection{"chain": Pick("ethereum", "base"), "protocol": Pick("spark")}},
		{name: "empty window", rng: TimeRange{From: emptyFrom, To: emptyTo}, sel: map[string]Selection{"chain": All, "protocol": All}, empty: true},
	}

	queries := 0
	for _, d := range ds {
		t.Run(d.UID, func(t *testing.T) {
			// Variables: their own queries run first; their values are what All stands for.
			opts := map[string][]string{}
			for _, v := range d.Templating.List {
				if v.Type != "query" {
					continue
				}
				sql, err := v.SQL()
				if err != nil {
					t.Fatal(err)
				}
				if probs := Check(sql, decimals); len(probs) > 0 {
					t.Fatalf("variable %s: %s", v.Name, strings.Join(probs, "; "))
				}
				exp, err := Expand(sql, Scope{Range: data, Interval: time.Hour, Variables: d.Templating.List})
				if err != nil {
					t.Fatalf("variable %s: %v", v.Name, err)
				}
				r, err := query(ctx, conn, exp)
				queries++
				if err != nil {
					t.Fatalf("variable %s: %v\n%s", v.Name, err, exp)
				}
				if len(r.rows) == 0 || r.types[0] != "String" {
					t.Fatalf("variable %s: %d options of type %v, want at least one String", v.Name, len(r.rows), r.types)
				}
				for _, row := range r.rows {
					opts[v.Name] = append(opts[v.Name], row[0].(string))
				}
			}
			if _, ok := opts["chain"]; !ok {
				t.Errorf("dashboard has no chain variable")
			}

			seen := map[string]bool{}
			for _, p := range d.AllPanels() {
				seen[p.Title] = true
				if !strings.Contains(p.Title+p.Description, "USD") && !strings.Contains(p.Title, "per day") && !strings.Contains(p.Title, "Liquidations") {
					t.Errorf("panel %q: title or description must say which USD value it shows", p.Title)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				for _, tg := range p.Targets {
					if probs := Check(tg.RawSQL, decimals); len(probs) > 0 {
						// Not run: these could crash the shared server.
						t.Errorf("panel %q: %s", p.Title, strings.Join(probs, "; "))
						continue
					}
					for _, tc := range cases {
						sel := map[string]Selection{}
						for _, v := range d.Templating.List {
							sel[v.Name] = tc.sel[v.Name]
						}
						scope := Scope{Range: tc.rng, Interval: time.Hour, Variables: d.Templating.List, Options: opts, Selected: sel}
						exp, err := Expand(tg.RawSQL, scope)
						if err != nil {
							t.Errorf("panel %q (%s): %v", p.Title, tc.name, err)
							continue
						}
						start := time.Now()
						r, err := query(ctx, conn, exp)
						queries++
						if err != nil {
							t.Errorf("panel %q (%s): %v\n%s", p.Title, tc.name, err, exp)
							continue
						}
						if el := time.Since(start); el > 5*time.Second {
							t.Errorf("panel %q (%s) took %s", p.Title, tc.name, el)
						}
						checkShape(t, p, tg, tc, r)
						if c := checks[d.UID][p.Title]; c != nil && !tc.empty && len(r.rows) > 0 {
							// The truth filters only on the dashboard's own variables.
							dtc := tc
							dtc.sel = sel
							c(t, tr, dtc, r)
						}
					}
				}
			}
			for title := range checks[d.UID] {
				if !seen[title] {
					t.Errorf("value check for panel %q: no such panel", title)
				}
			}
		})
	}
	t.Logf("%d dashboards, %d queries run (seed %d)", len(ds), queries, seed)
}

// checkShape checks what the panel type needs from its query.
func checkShape(t *testing.T, p Panel, tg Target, tc testCase, r result) {
	t.Helper()
	where := fmt.Sprintf("panel %q (%s)", p.Title, tc.name)
	for _, c := range p.ByNameColumns() {
		if r.col(c) < 0 {
			t.Errorf("%s: override refers to column %q, the query returns %v", where, c, r.names)
		}
	}
	numeric := 0
	for i, typ := range r.types {
		if strings.Contains(typ, "Decimal") {
			t.Errorf("%s: column %s is %s: return Float64 (toFloat64) so every plugin version reads a number", where, r.names[i], typ)
		}
		if isNumeric(typ) {
			numeric++
		}
	}
	switch p.Type {
	case "timeseries":
		if tg.Format != FormatTimeSeries {
			t.Errorf("%s: time series panel with format %d, want %d", where, tg.Format, FormatTimeSeries)
		}
		if len(r.types) < 2 || !isTime(r.types[0]) || r.names[0] != "time" {
			t.Errorf("%s: want a first column \"time\" of a time type, got %v %v", where, r.names, r.types)
		}
		for i, typ := range r.types[1:] {
			if !isNumeric(typ) && typ != "String" {
				t.Errorf("%s: column %s is %s, want numbers or String labels", where, r.names[i+1], typ)
			}
		}
		// The plugin converts long frames to wide ones only when sorted by time.
		for i := 1; i < len(r.rows); i++ {
			a, _ := r.rows[i-1][0].(time.Time)
			b, _ := r.rows[i][0].(time.Time)
			if b.Before(a) {
				t.Errorf("%s: rows are not sorted by time (row %d)", where, i)
				break
			}
		}
	case "stat", "bargauge":
		for i, typ := range r.types {
			if !isNumeric(typ) && typ != "String" {
				t.Errorf("%s: column %s is %s, want numbers or String labels", where, r.names[i], typ)
			}
		}
	case "table":
	default:
		t.Errorf("%s: panel type %q is not covered by the harness", where, p.Type)
	}
	if p.Type != "table" && numeric == 0 {
		t.Errorf("%s: no numeric column in %v %v", where, r.names, r.types)
	}
	if tc.empty {
		// Nothing lies in the window: every figure must be zero.
		for _, row := range r.rows {
			for i, v := range row {
				if f, ok := num(v); ok && isNumeric(r.types[i]) && f != 0 {
					t.Errorf("%s: %s = %v in a window without data", where, r.names[i], v)
				}
			}
		}
		return
	}
	if len(r.rows) == 0 {
		t.Errorf("%s: no rows for a window and selection with data", where)
	}
}
