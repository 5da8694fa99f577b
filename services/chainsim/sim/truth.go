package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// DayTruth is the ground truth of one chain on one UTC day.
type DayTruth struct {
	ChainID uint64
	Day     time.Time // UTC midnight
	// Events counts LiquidationCall logs; Txs and Borrowers are distinct
	// transactions and borrowers that day.
	Events, Txs, Borrowers uint64
	// DebtUSD and CollateralUSD are exact sums of per-event values, 1e-8 USD.
	DebtUSD, CollateralUSD *big.Int
}

// WindowTruth is the ground truth of one chain over a time window; counts are
// distinct over the whole window, not sums of days.
type WindowTruth struct {
	ChainID                uint64
	Events, Txs, Borrowers uint64
	DebtUSD, CollateralUSD *big.Int
}

// Truth is everything a Sim generated, over its whole window regardless of
// the head. It is safe for concurrent use; Sim.Reorg replaces the events of
// the reorged blocks.
type Truth struct {
	mu       sync.RWMutex
	cfg      Config
	chains   []uint64
	pools    map[uint64]common.Address
	events   map[uint64][]Event
	deficits map[uint64][]Deficit
}

// Deficits returns a chain's DeficitCreated (bad debt) logs sorted by
// (block, log index); empty unless Config.DeficitShare is set.
func (t *Truth) Deficits(chainID uint64) []Deficit {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]Deficit(nil), t.deficits[chainID]...)
}

// Chains returns the simulated chain ids.
func (t *Truth) Chains() []uint64 { return append([]uint64(nil), t.chains...) }

// Events returns a chain's liquidations sorted by (block, log index). The
// slice is a copy; its big ints are shared and must not be modified.
func (t *Truth) Events(chainID uint64) []Event {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]Event(nil), t.events[chainID]...)
}

// Days returns one DayTruth per UTC day overlapping the window, zero days
// included, in order.
func (t *Truth) Days(chainID uint64) []DayTruth {
	days := windowDays(t.cfg.From, t.cfg.To)
	out := make([]DayTruth, len(days))
	idx := map[time.Time]int{}
	for i, d := range days {
		idx[d] = i
	}
	acc := make([]accumulator, len(days))
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i := range t.events[chainID] {
		ev := &t.events[chainID][i]
		if i, ok := idx[ev.BlockTime.Truncate(day)]; ok {
			acc[i].add(ev)
		}
	}
	for i, d := range days {
		w := acc[i].result(chainID)
		out[i] = DayTruth{ChainID: chainID, Day: d, Events: w.Events, Txs: w.Txs, Borrowers: w.Borrowers,
			DebtUSD: w.DebtUSD, CollateralUSD: w.CollateralUSD}
	}
	return out
}

// Window returns the truth of events whose block timestamp is in [from, to).
func (t *Truth) Window(chainID uint64, from, to time.Time) WindowTruth {
	var acc accumulator
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i := range t.events[chainID] {
		ev := &t.events[chainID][i]
		if !ev.BlockTime.Before(from) && ev.BlockTime.Before(to) {
			acc.add(ev)
		}
	}
	return acc.result(chainID)
}

// accumulator sums events and counts distinct transactions and borrowers.
type accumulator struct {
	events           uint64
	txs              map[common.Hash]struct{}
	borrowers        map[common.Address]struct{}
	debt, collateral big.Int
}

func (a *accumulator) add(ev *Event) {
	if a.txs == nil {
		a.txs, a.borrowers = map[common.Hash]struct{}{}, map[common.Address]struct{}{}
	}
	a.events++
	a.txs[ev.TxHash] = struct{}{}
	a.borrowers[ev.Borrower] = struct{}{}
	a.debt.Add(&a.debt, ev.DebtUSD)
	a.collateral.Add(&a.collateral, ev.CollateralUSD)
}

func (a *accumulator) result(chainID uint64) WindowTruth {
	return WindowTruth{ChainID: chainID, Events: a.events, Txs: uint64(len(a.txs)), Borrowers: uint64(len(a.borrowers)),
		DebtUSD: new(big.Int).Set(&a.debt), CollateralUSD: new(big.Int).Set(&a.collateral)}
}

// JSON shapes of WriteJSON.
type (
	truthJSON struct {
		Seed   int64            `json:"seed"`
		Scale  float64          `json:"scale"`
		From   string           `json:"from"`
		To     string           `json:"to"`
		Chains []chainTruthJSON `json:"chains"`
	}
	chainTruthJSON struct {
		ChainID uint64      `json:"chainId"`
		Slug    string      `json:"slug"`
		Pool    string      `json:"pool"`
		Window  countsJSON  `json:"window"`
		Days    []dayJSON   `json:"days"`
		Events  []eventJSON `json:"events"`
	}
	countsJSON struct {
		Events        uint64 `json:"events"`
		Txs           uint64 `json:"txs"`
		Borrowers     uint64 `json:"borrowers"`
		DebtUSD       string `json:"debtUsd"`
		CollateralUSD string `json:"collateralUsd"`
	}
	dayJSON struct {
		Day string `json:"day"`
		countsJSON
	}
	eventJSON struct {
		BlockNumber                uint64 `json:"blockNumber"`
		BlockHash                  string `json:"blockHash"`
		BlockTime                  string `json:"blockTime"`
		TxHash                     string `json:"txHash"`
		TxIndex                    uint   `json:"txIndex"`
		LogIndex                   uint   `json:"logIndex"`
		CollateralAsset            string `json:"collateralAsset"`
		CollateralSymbol           string `json:"collateralSymbol"`
		CollateralDecimals         uint8  `json:"collateralDecimals"`
		DebtAsset                  string `json:"debtAsset"`
		DebtSymbol                 string `json:"debtSymbol"`
		DebtDecimals               uint8  `json:"debtDecimals"`
		Borrower                   string `json:"borrower"`
		Liquidator                 string `json:"liquidator"`
		DebtToCover                string `json:"debtToCover"`
		LiquidatedCollateralAmount string `json:"liquidatedCollateralAmount"`
		ReceiveAToken              bool   `json:"receiveAToken"`
		CollateralPriceE8          string `json:"collateralPriceE8"`
		DebtPriceE8                string `json:"debtPriceE8"`
		DebtUSD                    string `json:"debtUsd"`
		CollateralUSD              string `json:"collateralUsd"`
	}
)

func counts(w WindowTruth) countsJSON {
	return countsJSON{Events: w.Events, Txs: w.Txs, Borrowers: w.Borrowers,
		DebtUSD: usd.Format(w.DebtUSD), CollateralUSD: usd.Format(w.CollateralUSD)}
}

func lowerHex(b interface{ Hex() string }) string { return strings.ToLower(b.Hex()) }

// WriteJSON writes the truth as one JSON document: per chain the window
// totals, every day and every event. USD values are 8-decimal strings
// (usd.Format), token amounts decimal strings, addresses lowercase hex.
func (t *Truth) WriteJSON(w io.Writer) error {
	doc := truthJSON{Seed: t.cfg.Seed, Scale: t.cfg.Scale,
		From: t.cfg.From.Format(time.RFC3339), To: t.cfg.To.Format(time.RFC3339)}
	for _, id := range t.chains {
		c := chainTruthJSON{ChainID: id, Slug: chainSpecs[id].slug, Pool: lowerHex(t.pools[id]),
			Window: counts(t.Window(id, t.cfg.From, t.cfg.To)), Days: []dayJSON{}, Events: []eventJSON{}}
		for _, d := range t.Days(id) {
			c.Days = append(c.Days, dayJSON{Day: d.Day.Format(time.DateOnly), countsJSON: counts(WindowTruth{
				Events: d.Events, Txs: d.Txs, Borrowers: d.Borrowers, DebtUSD: d.DebtUSD, CollateralUSD: d.CollateralUSD})})
		}
		for _, ev := range t.Events(id) {
			c.Events = append(c.Events, eventJSON{
				BlockNumber: ev.BlockNumber, BlockHash: ev.BlockHash.Hex(), BlockTime: ev.BlockTime.Format(time.RFC3339),
				TxHash: ev.TxHash.Hex(), TxIndex: ev.TxIndex, LogIndex: ev.LogIndex,
				CollateralAsset: lowerHex(ev.CollateralAsset), CollateralSymbol: ev.CollateralSymbol, CollateralDecimals: ev.CollateralDecimals,
				DebtAsset: lowerHex(ev.DebtAsset), DebtSymbol: ev.DebtSymbol, DebtDecimals: ev.DebtDecimals,
				Borrower: lowerHex(ev.Borrower), Liquidator: lowerHex(ev.Liquidator),
				DebtToCover: ev.DebtToCover.String(), LiquidatedCollateralAmount: ev.LiquidatedCollateralAmount.String(),
				ReceiveAToken: ev.ReceiveAToken, CollateralPriceE8: ev.CollateralPriceE8.String(), DebtPriceE8: ev.DebtPriceE8.String(),
				DebtUSD: usd.Format(ev.DebtUSD), CollateralUSD: usd.Format(ev.CollateralUSD),
			})
		}
		doc.Chains = append(doc.Chains, c)
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing truth JSON: %w", err)
	}
	return nil
}
