// Package synth generates synthetic LiquidationEvent records for the
// aggregator's tests and computes, in Go with exact integer math, what the
// ClickHouse tables must report for them: the ground truth the tests compare
// the raw table, the rollups and the queries against.
package synth

import (
	"fmt"
	"math/big"
	"math/rand"
	"sort"
	"time"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/usd"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Chains the generator spreads events over.
var Chains = []struct {
	ID   uint64
	Slug string
}{{1, "ethereum"}, {137, "polygon"}, {42161, "arbitrum"}}

// Gen generates events from a seeded source.
type Gen struct {
	rng *rand.Rand
	n   int
}

// New returns a generator; the same seed gives the same events.
func New(seed int64) *Gen { return &Gen{rng: rand.New(rand.NewSource(seed))} }

func (g *Gen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.Intn(16)]
	}
	return "0x" + string(b)
}

func (g *Gen) usd() string {
	// Up to ~10M USD with 8 decimals; sometimes tiny.
	v := new(big.Int).Rand(g.rng, big.NewInt(1_000_000_000_000_000))
	return usd.Format(v)
}

// Events returns n confirmed events at revision 1 with block times spread
// uniformly over [start, start+span). Several events share a transaction and
// borrowers repeat, so distinct counts differ from event counts; a few events
// are unpriced.
func (g *Gen) Events(n int, start time.Time, span time.Duration) []*liqstreamv1.LiquidationEvent {
	out := make([]*liqstreamv1.LiquidationEvent, 0, n)
	borrowers := make([]string, 40)
	for i := range borrowers {
		borrowers[i] = g.hex(40)
	}
	for len(out) < n {
		c := Chains[g.rng.Intn(len(Chains))]
		tx := g.hex(64)
		bt := start.Add(time.Duration(g.rng.Int63n(int64(span)))).UTC().Truncate(time.Second)
		block := uint64(1_000_000 + g.rng.Intn(1_000_000))
		logs := 1 + g.rng.Intn(3)
		for li := 0; li < logs && len(out) < n; li++ {
			g.n++
			logIndex := uint32(li*7 + g.rng.Intn(5))
			ev := &liqstreamv1.LiquidationEvent{
				ChainId: c.ID, Chain: c.Slug, Protocol: "aave-v3", Market: "AaveV3Synthetic",
				Pool: "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2", BlockNumber: block, BlockHash: g.hex(64),
				BlockTime: timestamppb.New(bt), TxHash: tx, TxIndex: uint32(g.rng.Intn(200)), LogIndex: logIndex,
				CollateralAsset: &liqstreamv1.Asset{Address: g.hex(40), Symbol: "WETH", Decimals: 18},
				DebtAsset:       &liqstreamv1.Asset{Address: g.hex(40), Symbol: "USDC", Decimals: 6},
				Borrower:        borrowers[g.rng.Intn(len(borrowers))], Liquidator: g.hex(40),
				DebtToCover:                new(big.Int).Rand(g.rng, big.NewInt(1e15)).String(),
				LiquidatedCollateralAmount: new(big.Int).Lsh(new(big.Int).Rand(g.rng, big.NewInt(1e18)), 40).String(),
				CollateralPrice:            &liqstreamv1.Price{Usd: "2450.12345678", Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: block},
				DebtPrice:                  &liqstreamv1.Price{Usd: "1.00000000", Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: block},
				DebtUsd:                    g.usd(), CollateralUsd: g.usd(),
				EventId:       fmt.Sprintf("%d:%s:%d", c.ID, tx, logIndex),
				Revision:      1,
				Status:        liqstreamv1.Status_STATUS_CONFIRMED,
				MethodVersion: "aave-v3/1",
				LogTopics:     []string{"0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286", g.hex(64), g.hex(64), g.hex(64)},
				LogData:       g.hex(256),
				ObservedAt:    timestamppb.New(bt.Add(time.Minute)),
			}
			if g.rng.Intn(20) == 0 { // unpriced: USD values empty
				ev.CollateralPrice.Usd, ev.DebtPrice.Usd, ev.CollateralUsd, ev.DebtUsd = "", "", "", ""
			}
			if g.rng.Intn(3) == 0 {
				ev.BonusUsd = g.usd()
			}
			out = append(out, ev)
		}
	}
	return out
}

// Revise returns a copy of ev at the next revision with new USD values.
func (g *Gen) Revise(ev *liqstreamv1.LiquidationEvent) *liqstreamv1.LiquidationEvent {
	c := proto.Clone(ev).(*liqstreamv1.LiquidationEvent)
	c.Revision++
	c.DebtUsd, c.CollateralUsd = g.usd(), g.usd()
	return c
}

// Retract returns a copy of ev at the next revision with status RETRACTED.
func Retract(ev *liqstreamv1.LiquidationEvent) *liqstreamv1.LiquidationEvent {
	c := proto.Clone(ev).(*liqstreamv1.LiquidationEvent)
	c.Revision++
	c.Status = liqstreamv1.Status_STATUS_RETRACTED
	return c
}

// Totals are the figures a rollup bucket or a window reports for one chain.
type Totals struct {
	Chain         string
	CollateralUSD *big.Int
	DebtUSD       *big.Int
	Events        uint64
	Txs           uint64
	Borrowers     uint64
}

func (t Totals) String() string {
	return fmt.Sprintf("{%s coll=%s debt=%s events=%d txs=%d borrowers=%d}", t.Chain,
		usd.Format(t.CollateralUSD), usd.Format(t.DebtUSD), t.Events, t.Txs, t.Borrowers)
}

// Equal compares every field.
func (t Totals) Equal(o Totals) bool {
	return t.Chain == o.Chain && t.CollateralUSD.Cmp(o.CollateralUSD) == 0 && t.DebtUSD.Cmp(o.DebtUSD) == 0 &&
		t.Events == o.Events && t.Txs == o.Txs && t.Borrowers == o.Borrowers
}

// Latest returns, per (chain_id, event_id), the highest revision among
// events, dropping those whose highest revision is retracted. This is what
// the tables must reflect however often events were written.
func Latest(events []*liqstreamv1.LiquidationEvent) []*liqstreamv1.LiquidationEvent {
	best := map[string]*liqstreamv1.LiquidationEvent{}
	for _, ev := range events {
		k := fmt.Sprint(ev.GetChainId(), "/", ev.GetEventId())
		if cur, ok := best[k]; !ok || ev.GetRevision() > cur.GetRevision() {
			best[k] = ev
		}
	}
	out := make([]*liqstreamv1.LiquidationEvent, 0, len(best))
	for _, ev := range best {
		if ev.GetStatus() == liqstreamv1.Status_STATUS_CONFIRMED {
			out = append(out, ev)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetEventId() < out[j].GetEventId() })
	return out
}

// Key identifies a group: a chain, and a bucket start (zero for a window).
type Key struct {
	ChainID uint64
	Start   time.Time
}

// Group sums latest events with block time in [from, to) by chain and by the
// bucket bucketOf returns (nil groups the whole window per chain).
func Group(latest []*liqstreamv1.LiquidationEvent, from, to time.Time, bucketOf func(time.Time) time.Time) map[Key]Totals {
	type acc struct {
		t         Totals
		txs, bors map[string]bool
	}
	accs := map[Key]*acc{}
	for _, ev := range latest {
		bt := ev.GetBlockTime().AsTime().UTC()
		if bt.Before(from) || !bt.Before(to) {
			continue
		}
		k := Key{ChainID: ev.GetChainId()}
		if bucketOf != nil {
			k.Start = bucketOf(bt)
		}
		a := accs[k]
		if a == nil {
			a = &acc{t: Totals{Chain: ev.GetChain(), CollateralUSD: new(big.Int), DebtUSD: new(big.Int)}, txs: map[string]bool{}, bors: map[string]bool{}}
			accs[k] = a
		}
		a.t.CollateralUSD.Add(a.t.CollateralUSD, parse(ev.GetCollateralUsd()))
		a.t.DebtUSD.Add(a.t.DebtUSD, parse(ev.GetDebtUsd()))
		a.t.Events++
		a.txs[ev.GetTxHash()] = true
		a.bors[ev.GetBorrower()] = true
	}
	out := make(map[Key]Totals, len(accs))
	for k, a := range accs {
		a.t.Txs, a.t.Borrowers = uint64(len(a.txs)), uint64(len(a.bors))
		out[k] = a.t
	}
	return out
}

// Day and Hour are bucket functions for Group.
func Day(t time.Time) time.Time  { return t.UTC().Truncate(24 * time.Hour) }
func Hour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

func parse(s string) *big.Int {
	if s == "" {
		return new(big.Int)
	}
	v, err := usd.Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}
