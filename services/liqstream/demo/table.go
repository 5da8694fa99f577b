package demo

import (
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/liqstream/liqstream/services/lib/usd"
	"github.com/liqstream/liqstream/services/liqstream/report"
)

// Figures are the cycle figures of one chain over a window or a day.
type Figures struct {
	CollateralUSD *big.Int // 1e-8 USD
	DebtUSD       *big.Int // 1e-8 USD
	Events        uint64
	Txs           uint64
	Borrowers     uint64
}

// Equal reports whether two sets of figures are exactly the same.
func (f Figures) Equal(g Figures) bool {
	return cmpBig(f.CollateralUSD, g.CollateralUSD) && cmpBig(f.DebtUSD, g.DebtUSD) &&
		f.Events == g.Events && f.Txs == g.Txs && f.Borrowers == g.Borrowers
}

func cmpBig(a, b *big.Int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil || (a == nil && b.Sign() == 0) || (b == nil && a.Sign() == 0)
	}
	return a.Cmp(b) == 0
}

// Diff describes how got differs from want, or "" when they are equal.
func (f Figures) Diff(want Figures) string {
	var d []string
	if !cmpBig(f.CollateralUSD, want.CollateralUSD) {
		d = append(d, fmt.Sprintf("collateral USD %s, want %s", usd.Format(f.CollateralUSD), usd.Format(want.CollateralUSD)))
	}
	if !cmpBig(f.DebtUSD, want.DebtUSD) {
		d = append(d, fmt.Sprintf("debt USD %s, want %s", usd.Format(f.DebtUSD), usd.Format(want.DebtUSD)))
	}
	if f.Events != want.Events {
		d = append(d, fmt.Sprintf("events %d, want %d", f.Events, want.Events))
	}
	if f.Txs != want.Txs {
		d = append(d, fmt.Sprintf("transactions %d, want %d", f.Txs, want.Txs))
	}
	if f.Borrowers != want.Borrowers {
		d = append(d, fmt.Sprintf("borrowers %d, want %d", f.Borrowers, want.Borrowers))
	}
	return strings.Join(d, "; ")
}

// ChainResult is one chain's measured and true figures for the window.
type ChainResult struct {
	Chain    string
	ChainID  uint64
	From, To time.Time
	Measured Figures
	Truth    Figures
}

// DayResult is one chain's measured and true figures for one UTC day.
type DayResult struct {
	Chain    string
	Day      time.Time
	Measured Figures
	Truth    Figures
}

// Result is what a demo run measured.
type Result struct {
	From, To time.Time
	Chains   []ChainResult
	Days     []DayResult
	// Windows are the extra windows of Config.Windows, per chain.
	Windows []ChainResult
	Elapsed time.Duration
	// Published is the number of events the ingests published (duplicates
	// after a restart included).
	Published uint64
}

// Mismatches lists every chain-window and chain-day whose figures differ
// from the ground truth.
func (r *Result) Mismatches() []string {
	var out []string
	for _, c := range append(append([]ChainResult(nil), r.Chains...), r.Windows...) {
		if d := c.Measured.Diff(c.Truth); d != "" {
			out = append(out, fmt.Sprintf("%s %s..%s: %s", c.Chain, day(c.From), day(c.To), d))
		}
	}
	for _, c := range r.Days {
		if d := c.Measured.Diff(c.Truth); d != "" {
			out = append(out, fmt.Sprintf("%s %s: %s", c.Chain, day(c.Day), d))
		}
	}
	return out
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// WriteTable prints the cycle table: ClickHouse's figures and the ground
// truth per chain, a total row, and whether each chain matches.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "chain\tsource\tcollateral USD\tdebt USD\tevents\ttransactions\tborrowers\tmatch\t\n")
	var totM, totT Figures
	totM.CollateralUSD, totM.DebtUSD = new(big.Int), new(big.Int)
	totT.CollateralUSD, totT.DebtUSD = new(big.Int), new(big.Int)
	row := func(chain, src string, f Figures, match string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t\n", chain, src, money(f.CollateralUSD), money(f.DebtUSD), f.Events, f.Txs, f.Borrowers, match)
	}
	for _, c := range r.Chains {
		match := "yes"
		if !c.Measured.Equal(c.Truth) {
			match = "NO"
		}
		row(c.Chain, "clickhouse", c.Measured, match)
		row("", "truth", c.Truth, "")
		add(&totM, c.Measured)
		add(&totT, c.Truth)
	}
	// Distinct counts do not add up across chains (a borrower address may
	// appear on several); the total row sums per-chain figures, as the
	// per-chain table of a cycle report does.
	row("total", "clickhouse", totM, "")
	row("", "truth", totT, "")
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "window %s..%s (UTC, half-open); also compared: %d chain-days, %d chain-windows; elapsed %s\n",
		day(r.From), day(r.To), len(r.Days), len(r.Windows), r.Elapsed.Round(100*time.Millisecond))
	return err
}

func add(dst *Figures, f Figures) {
	if f.CollateralUSD != nil {
		dst.CollateralUSD.Add(dst.CollateralUSD, f.CollateralUSD)
	}
	if f.DebtUSD != nil {
		dst.DebtUSD.Add(dst.DebtUSD, f.DebtUSD)
	}
	dst.Events += f.Events
	dst.Txs += f.Txs
	dst.Borrowers += f.Borrowers
}

// money formats 1e-8 USD as dollars and cents, rounded like every report;
// the exact values are what is compared.
func money(v *big.Int) string {
	if v == nil {
		return "-"
	}
	return report.Money(v)
}
