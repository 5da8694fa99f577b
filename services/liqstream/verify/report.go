package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Kind classifies a Difference; see the package documentation.
type Kind string

// The kinds of difference, in the order reports list them.
const (
	KindMissing   Kind = "missing"
	KindExtra     Kind = "extra"
	KindDuplicate Kind = "duplicate"
	KindStale     Kind = "stale_revision"
	KindRollup    Kind = "rollup_mismatch"
)

// Kinds lists every Kind in report order.
var Kinds = []Kind{KindMissing, KindExtra, KindDuplicate, KindStale, KindRollup}

// Field is one value that differs: what ClickHouse holds and what it should
// hold (the chain's value, or the raw table's aggregate for a rollup).
type Field struct {
	Name       string `json:"name"`
	ClickHouse string `json:"clickhouse"`
	Expected   string `json:"expected"`
}

// Difference is one finding.
type Difference struct {
	Kind Kind `json:"kind"`
	// EventID and Block locate an event difference; empty for rollups.
	EventID string `json:"event_id,omitempty"`
	Block   uint64 `json:"block,omitempty"`
	// Bucket names a rollup difference: "daily 2026-01-05" or
	// "hourly 2026-01-05T13:00Z".
	Bucket string `json:"bucket,omitempty"`
	// Detail says what is wrong in one sentence.
	Detail string  `json:"detail"`
	Fields []Field `json:"fields,omitempty"`
}

func (d Difference) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-15s ", d.Kind)
	switch {
	case d.EventID != "":
		fmt.Fprintf(&b, "%s (block %d): ", d.EventID, d.Block)
	case d.Bucket != "":
		b.WriteString(d.Bucket + ": ")
	}
	b.WriteString(d.Detail)
	for i, f := range d.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s in ClickHouse, want %s", f.Name, f.ClickHouse, f.Expected)
	}
	return b.String()
}

// Undecodable is a LiquidationCall log of the pool that does not decode;
// ingest sends such logs to the dead-letter topic, so they are reported but
// not expected in ClickHouse.
type Undecodable struct {
	Block    uint64 `json:"block"`
	TxHash   string `json:"tx_hash"`
	LogIndex uint   `json:"log_index"`
	Reason   string `json:"reason"`
}

// Report is the outcome of one verification.
type Report struct {
	Chain   string `json:"chain"`
	ChainID uint64 `json:"chain_id"`
	Market  string `json:"market"`
	Pool    string `json:"pool"`
	// From and To are the range [From, To) in blocks; FromTime and LastTime
	// the timestamps of blocks From and To-1.
	From     uint64    `json:"from_block"`
	To       uint64    `json:"to_block"`
	FromTime time.Time `json:"from_time"`
	LastTime time.Time `json:"last_block_time"`
	// Head and Safe are the chain's head and safe block when the run started.
	Head uint64 `json:"head"`
	Safe uint64 `json:"safe"`
	// ChainEvents counts decoded LiquidationCall logs in the range;
	// ClickHouseEvents counts distinct events of the pool in the range whose
	// highest revision is CONFIRMED; ClickHouseRetracted those RETRACTED.
	ChainEvents         int `json:"chain_events"`
	ClickHouseEvents    int `json:"clickhouse_events"`
	ClickHouseRetracted int `json:"clickhouse_retracted"`
	// RollupDays are the UTC days whose rollups were checked.
	RollupDays  []string      `json:"rollup_days"`
	Undecodable []Undecodable `json:"undecodable,omitempty"`
	Differences []Difference  `json:"differences"`
	Elapsed     time.Duration `json:"elapsed_ns"`
}

// OK reports whether ClickHouse equals the chain over the range.
func (r *Report) OK() bool { return len(r.Differences) == 0 }

// Counts returns the number of differences per kind.
func (r *Report) Counts() map[Kind]int {
	out := map[Kind]int{}
	for _, d := range r.Differences {
		out[d.Kind]++
	}
	return out
}

// Summary is the one-line result.
func (r *Report) Summary() string {
	s := fmt.Sprintf("%d events on chain, %d in ClickHouse, %d differences", r.ChainEvents, r.ClickHouseEvents, len(r.Differences))
	if len(r.Differences) > 0 {
		var parts []string
		c := r.Counts()
		for _, k := range Kinds {
			if c[k] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c[k], k))
			}
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// MaxTextDifferences bounds the differences WriteText lists; --json lists all.
const MaxTextDifferences = 100

// WriteText writes the human-readable report. When ClickHouse equals the
// chain it is one line: the summary and the range. Otherwise the range,
// warnings, every difference (up to MaxTextDifferences) and the summary line
// last.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	scope := fmt.Sprintf("%s (chain %d) market %s pool %s, blocks [%d, %d) = %s .. %s, rollup days %s",
		r.Chain, r.ChainID, r.Market, r.Pool, r.From, r.To, r.FromTime.UTC().Format(time.RFC3339),
		r.LastTime.UTC().Format(time.RFC3339), dayRange(r.RollupDays))
	if r.OK() && len(r.Undecodable) == 0 && r.To <= r.Safe+1 {
		_, err := fmt.Fprintf(w, "%s: %s\n", r.Summary(), scope)
		return err
	}
	b.WriteString("verified " + scope + "\n")
	if r.To > r.Safe+1 {
		fmt.Fprintf(&b, "warning: the range ends above the safe block %d; recent blocks may still reorg\n", r.Safe)
	}
	if n := len(r.Undecodable); n > 0 {
		fmt.Fprintf(&b, "note: %d log(s) of the pool do not decode (ingest dead-letters them; not expected in ClickHouse)\n", n)
	}
	if len(r.Differences) > 0 {
		fmt.Fprintf(&b, "DIFFERENCES:\n")
		for i, d := range r.Differences {
			if i == MaxTextDifferences {
				fmt.Fprintf(&b, "  ... and %d more (--json lists all)\n", len(r.Differences)-i)
				break
			}
			b.WriteString("  " + d.String() + "\n")
		}
	}
	b.WriteString(r.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	out := *r
	if out.Differences == nil {
		out.Differences = []Difference{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		OK      bool   `json:"ok"`
		Summary string `json:"summary"`
	}{&out, r.OK(), r.Summary()})
}

func dayRange(days []string) string {
	switch len(days) {
	case 0:
		return "none"
	case 1:
		return days[0]
	}
	return days[0] + ".." + days[len(days)-1]
}

// sortDifferences orders differences by kind, then block, event and bucket.
func sortDifferences(ds []Difference) {
	rank := map[Kind]int{}
	for i, k := range Kinds {
		rank[k] = i
	}
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Kind != b.Kind {
			return rank[a.Kind] < rank[b.Kind]
		}
		if a.Block != b.Block {
			return a.Block < b.Block
		}
		if a.EventID != b.EventID {
			return a.EventID < b.EventID
		}
		return a.Bucket < b.Bucket
	})
}
