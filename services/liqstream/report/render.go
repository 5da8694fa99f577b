package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/liqstream/liqstream/services/lib/usd"
)

// Format is an output format of Write.
type Format string

// Output formats.
const (
	// FormatTable is an aligned terminal table with money rounded to cents.
	FormatTable Format = "table"
	// FormatCSV writes one block per section, exact 8-decimal USD.
	FormatCSV Format = "csv"
	// FormatJSON writes one object, exact 8-decimal USD strings.
	FormatJSON Format = "json"
	// FormatMarkdown writes GitHub tables with money rounded to cents.
	FormatMarkdown Format = "markdown"
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatTable, FormatCSV, FormatJSON, FormatMarkdown:
		return f, nil
	}
	return "", fmt.Errorf("%w: format %q, want table, csv, json or markdown", ErrConfig, s)
}

// USDShown says which USD the per-chain table and shares are.
const USDShown = "collateral_usd: liquidated value = collateral seized by liquidators, in USD at the event's block; debt_usd = debt repaid"

// cell is one value with its exact (CSV, JSON) and human (table, Markdown)
// forms.
type cell struct {
	exact, human string
	json         any
	right        bool
}

func text(s string) cell { return cell{exact: s, human: s, json: s} }

func count(n uint64) cell {
	return cell{exact: strconv.FormatUint(n, 10), human: group(strconv.FormatUint(n, 10)), json: n, right: true}
}

func money(v *big.Int) cell {
	if v == nil {
		v = new(big.Int)
	}
	e := usd.Format(v)
	return cell{exact: e, human: Money(v), json: e, right: true}
}

// share formats part/total exactly to 8 decimals (exact) and as a percent
// with one decimal (human).
func share(part, total *big.Int) cell {
	r := new(big.Rat)
	if total.Sign() != 0 {
		r.SetFrac(part, total)
	}
	pct := new(big.Rat).Mul(r, big.NewRat(100, 1))
	e := r.FloatString(8)
	return cell{exact: e, human: pct.FloatString(1) + "%", json: e, right: true}
}

// Money formats 1e-8 USD as $1,234.56, rounded half away from zero to cents.
func Money(e8 *big.Int) string {
	neg := e8.Sign() < 0
	c := new(big.Int).Abs(e8)
	c.Add(c, big.NewInt(500_000))
	c.Quo(c, big.NewInt(1_000_000))
	s := c.String()
	if len(s) < 3 {
		s = strings.Repeat("0", 3-len(s)) + s
	}
	out := "$" + group(s[:len(s)-2]) + "." + s[len(s)-2:]
	if neg && c.Sign() != 0 {
		out = "-" + out
	}
	return out
}

// group inserts thousands separators into a string of digits.
func group(d string) string {
	if len(d) <= 3 {
		return d
	}
	var b strings.Builder
	pre := len(d) % 3
	if pre > 0 {
		b.WriteString(d[:pre])
	}
	for i := pre; i < len(d); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d[i : i+3])
	}
	return b.String()
}

// table is one section of the report.
type table struct {
	name, title string
	columns     []string
	rows        [][]cell
	// notes follow the table (human formats) or sit beside it (JSON).
	notes []string
}

// tables returns the report's sections in order.
func (r *Report) tables() []table {
	var out []table
	t := table{name: "chains", title: "Liquidations per chain (USD shown: collateral seized = liquidated value; share = share of the collateral USD of the chains shown)",
		columns: []string{"chain", "collateral_usd", "debt_usd", "events", "transactions", "borrowers", "share"}}
	for _, s := range r.Chains {
		t.rows = append(t.rows, []cell{text(s.Chain), money(s.CollateralUSD), money(s.DebtUSD), count(s.Events), count(s.Txs), count(s.Borrowers), share(s.CollateralUSD, r.Total.CollateralUSD)})
	}
	tt := r.Total
	t.rows = append(t.rows, []cell{text("total"), money(tt.CollateralUSD), money(tt.DebtUSD), count(tt.Events), count(tt.Txs), count(tt.Borrowers), share(tt.CollateralUSD, tt.CollateralUSD)})
	t.notes = []string{"total transactions and borrowers add up the per-chain distinct counts."}
	out = append(out, t)

	bd := table{name: "bad_debt", title: "Bad debt written off (DeficitCreated) beside the collateral liquidated, whole window and each wave",
		columns: []string{"window", "from", "to", "chain", "bad_debt_usd", "bad_debt_events", "bad_debt_borrowers", "collateral_usd", "events"}}
	for _, b := range r.BadDebt {
		w := r.BadDebtWindows[b.Wave]
		label := "window"
		if b.Wave > 0 {
			label = fmt.Sprintf("wave %d", b.Wave)
		}
		bd.rows = append(bd.rows, []cell{text(label), text(fmtTime(w.From)), text(fmtTime(w.To)), text(b.Chain), money(b.BadDebtUSD),
			count(b.BadDebtEvents), count(b.BadDebtBorrowers), money(b.CollateralUSD), count(b.Events)})
	}
	out = append(out, bd)

	if r.Waves != nil {
		wt := table{name: "waves", title: "Waves (runs of wave days; peak = the day with the most collateral USD)",
			columns: []string{"wave", "from", "to", "days", "peak_day", "peak_collateral_usd", "events", "collateral_usd", "debt_usd"}}
		peakUSD := map[string]*big.Int{}
		for _, d := range r.Waves.Days {
			peakUSD[fmtTime(d.Day)] = d.CollateralUSD
		}
		for i, w := range r.Waves.Waves {
			wt.rows = append(wt.rows, []cell{count(uint64(i + 1)), text(fmtTime(w.From)), text(fmtTime(w.To)), count(uint64(w.Days)),
				text(fmtTime(w.Peak)), money(peakUSD[fmtTime(w.Peak)]), count(w.Events), money(w.CollateralUSD), money(w.DebtUSD)})
		}
		out = append(out, wt)
	}
	if r.CollateralAssets != nil || r.DebtAssets != nil {
		for _, a := range []struct {
			name, title, col string
			list             []Asset
		}{
			{"collateral_assets", "Top collateral assets (collateral seized)", "collateral_usd", r.CollateralAssets},
			{"debt_assets", "Top debt assets (debt repaid)", "debt_usd", r.DebtAssets},
		} {
			at := table{name: a.name, title: a.title, columns: []string{"rank", "chain", "symbol", "token", a.col, "events"}}
			for i, x := range a.list {
				at.rows = append(at.rows, []cell{count(uint64(i + 1)), text(x.Chain), text(x.Symbol), text(x.Token), money(x.USD), count(x.Events)})
			}
			out = append(out, at)
		}
	}
	if l := r.Liquidators; l != nil {
		lt := table{name: "liquidators", title: "Top liquidators (all chains; share of the collateral seized)",
			columns: []string{"rank", "liquidator", "chains", "collateral_usd", "debt_usd", "events", "share"}}
		for i, x := range l.Top {
			lt.rows = append(lt.rows, []cell{count(uint64(i + 1)), text(x.Liquidator), count(x.Chains), money(x.CollateralUSD), money(x.DebtUSD),
				count(x.Events), share(x.CollateralUSD, l.TotalCollateralUSD)})
		}
		lt.notes = []string{fmt.Sprintf("%d liquidators; the top %d seized %.2f%% of the collateral; HHI %.4f (%.0f on the 10,000 scale).",
			l.Liquidators, len(l.Top), 100*l.TopShare, l.HHI, 10000*l.HHI)}
		out = append(out, lt)
	}
	if len(r.Comparison) > 0 {
		out = append(out, r.comparisonTable())
	}
	return out
}

// Write renders the report in format f.
func (r *Report) Write(w io.Writer, f Format) error {
	switch f {
	case FormatCSV:
		return r.writeCSV(w)
	case FormatJSON:
		return r.writeJSON(w)
	case FormatMarkdown:
		return r.writeMarkdown(w)
	case FormatTable:
		return r.writeTable(w)
	}
	return fmt.Errorf("%w: format %q", ErrConfig, f)
}

func (r *Report) heading() string {
	return fmt.Sprintf("Liquidation report [%s, %s) UTC", fmtTime(r.From), fmtTime(r.To))
}

func (r *Report) writeTable(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nUSD shown: %s\n", r.heading(), USDShown)
	for _, t := range r.tables() {
		fmt.Fprintf(&b, "\n%s\n", t.title)
		if len(t.rows) == 0 {
			b.WriteString("  (none)\n")
			continue
		}
		width := make([]int, len(t.columns))
		for i, c := range t.columns {
			width[i] = utf8.RuneCountInString(c)
		}
		for _, row := range t.rows {
			for i, c := range row {
				width[i] = max(width[i], utf8.RuneCountInString(c.human))
			}
		}
		line := func(cells []string, right []bool) {
			for i, s := range cells {
				pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
				if i > 0 {
					b.WriteString("  ")
				}
				if right[i] {
					b.WriteString(pad + s)
				} else if i < len(cells)-1 {
					b.WriteString(s + pad)
				} else {
					b.WriteString(s)
				}
			}
			b.WriteString("\n")
		}
		right := make([]bool, len(t.columns))
		for i := range right {
			right[i] = t.rows[0][i].right
		}
		line(t.columns, right)
		seps := make([]string, len(t.columns))
		for i := range seps {
			seps[i] = strings.Repeat("-", width[i])
		}
		line(seps, right)
		for _, row := range t.rows {
			hs := make([]string, len(row))
			for i, c := range row {
				hs[i] = c.human
			}
			line(hs, right)
		}
		for _, n := range t.notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	r.writeNotes(&b, "Notes:\n", "  - ")
	_, err := w.Write(b.Bytes())
	return err
}

func (r *Report) writeNotes(b *bytes.Buffer, head, bullet string) {
	fmt.Fprintf(b, "\n%s", head)
	for _, n := range r.Notes {
		fmt.Fprintf(b, "%s%s\n", bullet, n)
	}
	if len(r.Protocols) > 0 {
		var ps []string
		for _, c := range sortedKeysOf(r.Protocols) {
			ps = append(ps, c+": "+strings.Join(r.Protocols[c], ", "))
		}
		fmt.Fprintf(b, "%sProtocols present: %s.\n", bullet, strings.Join(ps, "; "))
	}
}

func (r *Report) writeMarkdown(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\nUSD shown: %s.\n", r.heading(), USDShown)
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, t := range r.tables() {
		fmt.Fprintf(&b, "\n## %s\n\n", esc(t.title))
		if len(t.rows) == 0 {
			b.WriteString("(none)\n")
			continue
		}
		b.WriteString("| " + strings.Join(t.columns, " | ") + " |\n|")
		for i := range t.columns {
			if t.rows[0][i].right {
				b.WriteString("---:|")
			} else {
				b.WriteString("---|")
			}
		}
		b.WriteString("\n")
		for _, row := range t.rows {
			hs := make([]string, len(row))
			for i, c := range row {
				hs[i] = esc(c.human)
			}
			b.WriteString("| " + strings.Join(hs, " | ") + " |\n")
		}
		for _, n := range t.notes {
			fmt.Fprintf(&b, "\n%s\n", n)
		}
	}
	r.writeNotes(&b, "## Notes\n\n", "- ")
	_, err := w.Write(b.Bytes())
	return err
}

// writeCSV writes one block per section: a header row whose first field is
// "section", then rows whose first field is the section name; blocks are
// separated by an empty line (encoding/csv readers skip it; set
// FieldsPerRecord to -1).
func (r *Report) writeCSV(w io.Writer) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	for i, t := range r.tables() {
		if i > 0 {
			cw.Flush()
			b.WriteString("\n")
		}
		_ = cw.Write(append([]string{"section"}, t.columns...))
		for _, row := range t.rows {
			rec := []string{t.name}
			for _, c := range row {
				rec = append(rec, c.exact)
			}
			_ = cw.Write(rec)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// orderedRow marshals a row as a JSON object with keys in column order.
type orderedRow struct {
	cols  []string
	cells []cell
}

func (o orderedRow) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range o.cols {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(c)
		v, err := json.Marshal(o.cells[i].json)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type jsonSection struct {
	Name  string       `json:"name"`
	Title string       `json:"title"`
	Rows  []orderedRow `json:"rows"`
	Notes []string     `json:"notes,omitempty"`
}

type jsonReport struct {
	From      string              `json:"from"`
	To        string              `json:"to"`
	USDShown  string              `json:"usd_shown"`
	Sections  []jsonSection       `json:"sections"`
	Protocols map[string][]string `json:"protocols"`
	Notes     []string            `json:"notes"`
}

func (r *Report) writeJSON(w io.Writer) error {
	out := jsonReport{From: fmtTime(r.From), To: fmtTime(r.To), USDShown: USDShown, Protocols: r.Protocols, Notes: r.Notes}
	for _, t := range r.tables() {
		s := jsonSection{Name: t.name, Title: t.title, Notes: t.notes, Rows: []orderedRow{}}
		for _, row := range t.rows {
			s.Rows = append(s.Rows, orderedRow{cols: t.columns, cells: row})
		}
		out.Sections = append(out.Sections, s)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func sortedKeysOf(m map[string][]string) []string {
	b := map[string]bool{}
	for k := range m {
		b[k] = true
	}
	return sortedKeys(b)
}
