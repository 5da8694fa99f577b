package verify

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/liqstream/liqstream/services/lib/usd"
)

// Event is the content of one liquidation that is read from the chain, as
// ingest writes it (hex lowercase, amounts as decimal text).
type Event struct {
	EventID             string    `json:"event_id"`
	BlockNumber         uint64    `json:"block_number"`
	BlockHash           string    `json:"block_hash"`
	BlockTime           time.Time `json:"block_time"`
	TxHash              string    `json:"tx_hash"`
	TxIndex             uint32    `json:"tx_index"`
	LogIndex            uint32    `json:"log_index"`
	Pool                string    `json:"pool"`
	Borrower            string    `json:"borrower"`
	Liquidator          string    `json:"liquidator"`
	CollateralToken     string    `json:"collateral_token"`
	DebtToken           string    `json:"debt_token"`
	CollateralAmountRaw string    `json:"collateral_amount_raw"`
	DebtAmountRaw       string    `json:"debt_amount_raw"`
	ReceiveAToken       bool      `json:"receive_a_token"`
}

// row is one row of liquidations FINAL.
type row struct {
	Event
	blockDate time.Time
	revision  uint64
	status    string
}

// conflict is a set of raw rows sharing an event_id, a block date and a
// revision whose contents differ.
type conflict struct {
	eventID        string
	blockDate      time.Time
	revision       uint64
	rows, variants uint64
}

// fieldDiffs lists the chain-derived fields in which got differs from want.
func fieldDiffs(got, want Event) []Field {
	var out []Field
	add := func(name, g, w string) {
		if g != w {
			out = append(out, Field{Name: name, ClickHouse: g, Expected: w})
		}
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	add("block_number", u(got.BlockNumber), u(want.BlockNumber))
	add("block_hash", got.BlockHash, want.BlockHash)
	add("block_time", got.BlockTime.UTC().Format(time.RFC3339), want.BlockTime.UTC().Format(time.RFC3339))
	add("tx_hash", got.TxHash, want.TxHash)
	add("tx_index", u(uint64(got.TxIndex)), u(uint64(want.TxIndex)))
	add("log_index", u(uint64(got.LogIndex)), u(uint64(want.LogIndex)))
	add("pool", got.Pool, want.Pool)
	add("borrower", got.Borrower, want.Borrower)
	add("liquidator", got.Liquidator, want.Liquidator)
	add("collateral_token", got.CollateralToken, want.CollateralToken)
	add("debt_token", got.DebtToken, want.DebtToken)
	add("collateral_amount_raw", got.CollateralAmountRaw, want.CollateralAmountRaw)
	add("debt_amount_raw", got.DebtAmountRaw, want.DebtAmountRaw)
	add("receive_a_token", strconv.FormatBool(got.ReceiveAToken), strconv.FormatBool(want.ReceiveAToken))
	return out
}

// eventResult is what compareEvents finds before extras are classified.
type eventResult struct {
	diffs     []Difference
	inCH      int   // CONFIRMED events of the pool in the range
	retracted int   // RETRACTED events of the pool in the range
	extras    []row // CONFIRMED in range, not on chain
}

// compareEvents diffs the chain's events of [from, to) against the rows of
// liquidations FINAL read for the range's dates and the raw-table conflicts.
// Rows are matched by event_id whatever their block number or pool, so a
// row whose block or pool is wrong is a stale revision, not a miss.
func compareEvents(chainEvents []Event, rows []row, conflicts []conflict, from, to uint64, pool string) eventResult {
	var res eventResult
	byID := map[string][]row{}
	for _, r := range rows {
		byID[r.EventID] = append(byID[r.EventID], r)
	}
	// best is the event's winning row: the highest revision, CONFIRMED
	// before RETRACTED (the store's tombstones carry the winner's revision),
	// then the later block date.
	best := make(map[string]row, len(byID))
	for id, rs := range byID {
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].revision != rs[j].revision {
				return rs[i].revision > rs[j].revision
			}
			if (rs[i].status == "CONFIRMED") != (rs[j].status == "CONFIRMED") {
				return rs[i].status == "CONFIRMED"
			}
			return rs[i].blockDate.After(rs[j].blockDate)
		})
		best[id] = rs[0]
		// The other rows sit on other block dates (FINAL keeps one row per
		// date). A RETRACTED one is a tombstone, the store's record that the
		// event moved away from that day (or an older retraction): it counts
		// nowhere. A CONFIRMED one is counted on its day besides the winner:
		// a duplicate.
		counted := 0
		for _, r := range rs[1:] {
			if r.status == "CONFIRMED" {
				counted++
			}
		}
		if counted > 0 {
			d := Difference{Kind: KindDuplicate, EventID: id, Block: rs[0].BlockNumber,
				Detail: fmt.Sprintf("%d rows after FINAL (block dates", len(rs))}
			for i, r := range rs {
				sep := " "
				if i > 0 {
					sep = ", "
				}
				d.Detail += fmt.Sprintf("%s%s rev %d %s", sep, r.blockDate.Format(time.DateOnly), r.revision, r.status)
			}
			d.Detail += fmt.Sprintf("): %d CONFIRMED rows besides the highest revision, on other block dates, are counted there too (no tombstone retracts them)", counted)
			res.diffs = append(res.diffs, d)
		}
	}
	for _, c := range conflicts {
		b, ok := best[c.eventID]
		if !ok || b.revision != c.revision || !b.blockDate.Equal(c.blockDate) {
			continue // a superseded revision or another date's tombstones: not the row readers see
		}
		res.diffs = append(res.diffs, Difference{Kind: KindDuplicate, EventID: c.eventID, Block: b.BlockNumber,
			Detail: fmt.Sprintf("%d raw rows share the highest revision %d but hold %d different contents; FINAL returns an arbitrary one",
				c.rows, c.revision, c.variants)})
	}

	onChain := make(map[string]bool, len(chainEvents))
	for _, ev := range chainEvents {
		onChain[ev.EventID] = true
		r, ok := best[ev.EventID]
		switch {
		case !ok:
			res.diffs = append(res.diffs, Difference{Kind: KindMissing, EventID: ev.EventID, Block: ev.BlockNumber,
				Detail: "on chain, no row in ClickHouse"})
		case r.status != "CONFIRMED":
			res.diffs = append(res.diffs, Difference{Kind: KindMissing, EventID: ev.EventID, Block: ev.BlockNumber,
				Detail: fmt.Sprintf("on chain, but ClickHouse's highest revision %d is %s", r.revision, r.status)})
		default:
			if fs := fieldDiffs(r.Event, ev); len(fs) > 0 {
				res.diffs = append(res.diffs, Difference{Kind: KindStale, EventID: ev.EventID, Block: ev.BlockNumber,
					Detail: fmt.Sprintf("ClickHouse's highest revision %d differs from the chain", r.revision), Fields: fs})
			}
		}
	}
	ids := make([]string, 0, len(best))
	for id := range best {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := best[id]
		if r.BlockNumber < from || r.BlockNumber >= to || r.Pool != pool {
			continue
		}
		if r.status != "CONFIRMED" {
			res.retracted++
			continue
		}
		res.inCH++
		if !onChain[id] {
			res.extras = append(res.extras, r)
		}
	}
	return res
}

// extraDiffs classifies rows confirmed in ClickHouse that the chain lacks,
// by the canonical hash of their block (missing from canonical when the
// block is above the head).
func extraDiffs(extras []row, canonical map[uint64]string) []Difference {
	var out []Difference
	for _, r := range extras {
		d := Difference{Kind: KindExtra, EventID: r.EventID, Block: r.BlockNumber}
		h, ok := canonical[r.BlockNumber]
		switch {
		case !ok:
			d.Detail = fmt.Sprintf("CONFIRMED in ClickHouse (revision %d) at a block the chain does not have", r.revision)
		case h != r.BlockHash:
			d.Detail = fmt.Sprintf("CONFIRMED in ClickHouse (revision %d) in block hash %s, but the canonical block is %s: reorged out, retraction not applied",
				r.revision, r.BlockHash, h)
		default:
			d.Detail = fmt.Sprintf("CONFIRMED in ClickHouse (revision %d), but the canonical block has no such LiquidationCall from the pool: not on chain", r.revision)
		}
		out = append(out, d)
	}
	return out
}

// aggregate is one rollup bucket's figures, as a rollup row holds them or as
// the raw table's deduplicated aggregate yields them.
type aggregate struct {
	collateralUSD, debtUSD, bonusUSD, feeUSD string
	events, unpriced, retracted              uint64
	txs, borrowers, liquidators              uint64
}

// rollupDiffs compares rollup buckets with the raw aggregates of the same
// keys; a bucket absent on one side counts as zero there (an emptied hour's
// zero row equals no row).
func rollupDiffs(table string, rollup, raw map[string]aggregate) []Difference {
	keys := map[string]bool{}
	for k := range rollup {
		keys[k] = true
	}
	for k := range raw {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []Difference
	for _, k := range sorted {
		got, have := rollup[k]
		want := raw[k]
		var fs []Field
		money := func(name, g, w string) {
			if !usdEqual(g, w) {
				fs = append(fs, Field{Name: name, ClickHouse: orZero(g), Expected: orZero(w)})
			}
		}
		count := func(name string, g, w uint64) {
			if g != w {
				fs = append(fs, Field{Name: name, ClickHouse: strconv.FormatUint(g, 10), Expected: strconv.FormatUint(w, 10)})
			}
		}
		money("collateral_usd", got.collateralUSD, want.collateralUSD)
		money("debt_usd", got.debtUSD, want.debtUSD)
		money("bonus_usd", got.bonusUSD, want.bonusUSD)
		money("protocol_fee_usd", got.feeUSD, want.feeUSD)
		count("events", got.events, want.events)
		count("unpriced_events", got.unpriced, want.unpriced)
		count("retracted_events", got.retracted, want.retracted)
		count("txs", got.txs, want.txs)
		count("borrowers", got.borrowers, want.borrowers)
		count("liquidators", got.liquidators, want.liquidators)
		if len(fs) == 0 {
			continue
		}
		detail := fmt.Sprintf("%s differs from the deduplicated raw aggregate", table)
		if !have {
			detail = fmt.Sprintf("%s has no row for a bucket with raw events", table)
		}
		out = append(out, Difference{Kind: KindRollup, Bucket: k, Detail: detail, Fields: fs})
	}
	return out
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// usdEqual compares two 8-decimal USD texts numerically ("" is zero).
func usdEqual(a, b string) bool {
	pa, ea := usd.Parse(orZero(a))
	pb, eb := usd.Parse(orZero(b))
	if ea != nil || eb != nil {
		return a == b
	}
	return pa.Cmp(pb) == 0
}
