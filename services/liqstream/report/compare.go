package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// Metrics a published figure may name.
var metrics = []string{"events", "collateral_usd", "debt_usd", "transactions", "borrowers"}

// Figures is a file of published figures:
//
//	{"source": "...", "figures": [{"window": {"from": "2026-01-01", "to": "2026-03-01"},
//	  "chain": "polygon", "metric": "events", "value": "137187", "tolerance": "0.05"}]}
//
// chain is a slug, an id or "total" (every chain with events); metric is one
// of events, collateral_usd, debt_usd, transactions, borrowers; value and
// tolerance are decimal strings, the tolerance relative (0.05 = ±5 %). A
// figure without a window takes the report's window.
type Figures struct {
	Source  string   `json:"source"`
	Notes   string   `json:"notes,omitempty"`
	Figures []Figure `json:"figures"`
}

// Figure is one published figure.
type Figure struct {
	Window *struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"window,omitempty"`
	Chain     string `json:"chain"`
	Metric    string `json:"metric"`
	Value     string `json:"value"`
	Tolerance string `json:"tolerance"`
	Label     string `json:"label,omitempty"`
}

// LoadFigures reads and checks a figures file.
func LoadFigures(path string) (*Figures, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading --compare file: %w", ErrConfig, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f Figures
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w (see services/liqstream/report/testdata/brief_figures.json for the format)", ErrConfig, path, err)
	}
	for i, fig := range f.Figures {
		bad := func(msg string, a ...any) error {
			return fmt.Errorf("%w: %s: figures[%d]: %s", ErrConfig, path, i, fmt.Sprintf(msg, a...))
		}
		if !contains(metrics, fig.Metric) {
			return nil, bad("metric %q, want one of %s", fig.Metric, strings.Join(metrics, ", "))
		}
		if _, ok := new(big.Rat).SetString(fig.Value); !ok {
			return nil, bad("value %q is not a decimal number", fig.Value)
		}
		if t, ok := new(big.Rat).SetString(fig.Tolerance); !ok || t.Sign() < 0 {
			return nil, bad("tolerance %q, want a relative decimal like 0.05", fig.Tolerance)
		}
		if fig.Chain == "" {
			return nil, bad("chain is empty, want a slug, an id or total")
		}
		if fig.Window != nil {
			if _, _, err := fig.window(time.Time{}, time.Time{}); err != nil {
				return nil, bad("%v", err)
			}
		}
	}
	if len(f.Figures) == 0 {
		return nil, fmt.Errorf("%w: %s holds no figures", ErrConfig, path)
	}
	return &f, nil
}

func (f Figure) window(defFrom, defTo time.Time) (time.Time, time.Time, error) {
	if f.Window == nil {
		return defFrom, defTo, nil
	}
	from, err := ParseTime(f.Window.From)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("window.from: %w", err)
	}
	to, err := ParseTime(f.Window.To)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("window.to: %w", err)
	}
	if !to.After(from) {
		return time.Time{}, time.Time{}, fmt.Errorf("window.to %s is not after window.from %s", f.Window.To, f.Window.From)
	}
	return from, to, nil
}

// Compared is a published figure beside the measured one.
type Compared struct {
	Figure
	From, To time.Time
	// Measured is exact (USD in dollars, counts as integers).
	Measured *big.Rat
	// Diff is (Measured - Published) / Published; nil when Published is 0.
	Diff *big.Rat
	// OK says |Diff| <= Tolerance (or both are 0 when Published is 0).
	OK bool
}

// Compare measures every figure (its own window, or the report's) from the
// per-chain summary of every chain (the report's --chain and --protocol
// filters do not apply: a figure names its chain or "total") and sets the
// result on r. It returns whether every
// figure is within tolerance.
func (r *Report) Compare(ctx context.Context, conn driver.Conn, figs *Figures) (bool, error) {
	reg := chains.Default()
	cache := map[[2]time.Time][]query.ChainSummary{}
	all := true
	r.Comparison = nil
	for _, f := range figs.Figures {
		from, to, err := f.window(r.From, r.To)
		if err != nil {
			return false, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		sums, ok := cache[[2]time.Time{from, to}]
		if !ok {
			if aligned(from, time.Hour) && aligned(to, time.Hour) {
				sums, err = query.CycleSummary(ctx, conn, from, to)
			} else {
				sums, err = query.CycleSummaryRaw(ctx, conn, from, to)
			}
			if err != nil {
				return false, fmt.Errorf("measuring [%s, %s) for --compare: %w", fmtTime(from), fmtTime(to), err)
			}
			cache[[2]time.Time{from, to}] = sums
		}
		var pick func(query.ChainSummary) bool
		if strings.EqualFold(f.Chain, "total") {
			pick = func(query.ChainSummary) bool { return true }
		} else {
			c, err := reg.Lookup(f.Chain)
			if err != nil {
				return false, fmt.Errorf("%w: --compare figure: %w", ErrConfig, err)
			}
			pick = func(s query.ChainSummary) bool { return s.ChainID == c.ID }
		}
		m := new(big.Rat)
		for _, s := range sums {
			if pick(s) {
				m.Add(m, metric(s, f.Metric))
			}
		}
		pub, _ := new(big.Rat).SetString(f.Value)
		tol, _ := new(big.Rat).SetString(f.Tolerance)
		c := Compared{Figure: f, From: from, To: to, Measured: m}
		if pub.Sign() == 0 {
			c.OK = m.Sign() == 0
		} else {
			c.Diff = new(big.Rat).Quo(new(big.Rat).Sub(m, pub), pub)
			c.OK = new(big.Rat).Abs(c.Diff).Cmp(tol) <= 0
		}
		all = all && c.OK
		r.Comparison = append(r.Comparison, c)
	}
	return all, nil
}

// metric returns one figure of s; USD in dollars, exact.
func metric(s query.ChainSummary, name string) *big.Rat {
	switch name {
	case "collateral_usd":
		return new(big.Rat).SetFrac(s.CollateralUSD, usd.Pow10(usd.Decimals))
	case "debt_usd":
		return new(big.Rat).SetFrac(s.DebtUSD, usd.Pow10(usd.Decimals))
	case "events":
		return new(big.Rat).SetUint64(s.Events)
	case "transactions":
		return new(big.Rat).SetUint64(s.Txs)
	case "borrowers":
		return new(big.Rat).SetUint64(s.Borrowers)
	}
	return new(big.Rat)
}

func (r *Report) comparisonTable() table {
	t := table{name: "comparison", title: "Published figures beside the measured ones (diff = measured / published - 1)",
		columns: []string{"chain", "metric", "from", "to", "published", "measured", "diff", "tolerance", "status"}}
	for _, c := range r.Comparison {
		pub, _ := new(big.Rat).SetString(c.Value)
		diff := text("n/a")
		if c.Diff != nil {
			e := c.Diff.FloatString(8)
			pct := new(big.Rat).Mul(c.Diff, big.NewRat(100, 1)).FloatString(2) + "%"
			diff = cell{exact: e, human: pct, json: e, right: true}
		}
		status := "ok"
		if !c.OK {
			status = "OUT OF TOLERANCE"
		}
		t.rows = append(t.rows, []cell{text(c.Chain), text(c.Metric), text(fmtTime(c.From)), text(fmtTime(c.To)),
			figure(c.Metric, pub), figure(c.Metric, c.Measured), diff, text(c.Tolerance), text(status)})
	}
	return t
}

// figure renders a metric value: USD as money, counts as integers.
func figure(m string, v *big.Rat) cell {
	if m == "collateral_usd" || m == "debt_usd" {
		e8 := new(big.Rat).Mul(v, new(big.Rat).SetInt(usd.Pow10(usd.Decimals)))
		n := new(big.Int).Quo(e8.Num(), e8.Denom())
		return money(n)
	}
	e := v.RatString()
	return cell{exact: e, human: e, json: e, right: true}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
