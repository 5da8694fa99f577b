package dashboards

import (
	"context"
	"fmt"
	"math/big"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/usd"
	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The synthetic data: a few chains, protocols, liquidators and asset pairs
// over five UTC days, some events revised or retracted, and bad debt on every
// chain.
var (
	dataFrom = time.Date(2026, 1, 30, 0, 0, 0, 0, time.UTC)
	dataTo   = time.Date(2026, 2, 4, 0, 0, 0, 0, time.UTC)
	// emptyFrom..emptyTo holds no row at all.
	emptyFrom = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	emptyTo   = time.Date(2025, 6, 8, 0, 0, 0, 0, time.UTC)

	testChains = []struct {
		id   uint64
		slug string
	}{{1, "ethereum"}, {137, "polygon"}, {8453, "base"}}
	testPairs = [][2]struct {
		sym string
		dec uint32
	}{
		{{"WETH", 18}, {"USDC", 6}}, {{"WBTC", 8}, {"USDT", 6}}, {{"wstETH", 18}, {"WETH", 18}}, {{"LINK", 18}, {"DAI", 18}},
	}
)

// liq is the truth about one liquidation at its latest revision.
type liq struct {
	ev                *liqstreamv1.LiquidationEvent
	coll, debt, bonus float64
}

// badDebtRow is one bad_debt record.
type badDebtRow struct {
	chainID                      uint64
	chain, protocol, eventID, tx string
	borrower, symbol             string
	at                           time.Time
	usdE8                        int64
	revision                     uint64
	status                       string
}

// truth is what the tables must report.
type truth struct {
	liqs    []liq        // latest confirmed
	badDebt []badDebtRow // latest confirmed
}

func hexOf(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rng.Intn(16)]
	}
	return "0x" + string(b)
}

func e8(v int64) string  { return usd.Format(big.NewInt(v)) }
func f8(v int64) float64 { return float64(v) / 1e8 }
func tokenAddr(chain uint64, sym string) string {
	return fmt.Sprintf("0x%040x", new(big.Int).SetBytes([]byte(fmt.Sprint(chain, sym))))
}

// loadData writes the synthetic events through the aggregator's store and
// the bad debt rows with one batch INSERT, and returns the truth.
func loadData(ctx context.Context, t *testing.T, s *store.Store, conn driver.Conn, seed int64) truth {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	liquidators := make([]string, 8)
	for i := range liquidators {
		liquidators[i] = hexOf(rng, 40)
	}
	borrowers := make([]string, 60)
	for i := range borrowers {
		borrowers[i] = hexOf(rng, 40)
	}
	var first, second []*liqstreamv1.LiquidationEvent
	latest := map[string]*liqstreamv1.LiquidationEvent{}
	span := int64(dataTo.Sub(dataFrom))
	for i := 0; i < 400; i++ {
		c := testChains[rng.Intn(len(testChains))]
		protocol, market := "aave-v3", "AaveV3"+c.slug
		if c.id != 137 && rng.Intn(3) == 0 {
			protocol, market = "spark", "Spark"+c.slug
		}
		pair := testPairs[rng.Intn(len(testPairs))]
		bt := dataFrom.Add(time.Duration(rng.Int63n(span))).Truncate(time.Second)
		tx := hexOf(rng, 64)
		block := uint64(1_000_000 + rng.Intn(1_000_000))
		coll := 10_000_000_000 + rng.Int63n(100_000_000_000_000) // $100 .. $1M
		// Liquidator 0 takes about half of the events: a concentrated market.
		lq := liquidators[0]
		if rng.Intn(2) == 0 {
			lq = liquidators[1+rng.Intn(len(liquidators)-1)]
		}
		ev := &liqstreamv1.LiquidationEvent{
			ChainId: c.id, Chain: c.slug, Protocol: protocol, Market: market,
			Pool: "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2", BlockNumber: block, BlockHash: hexOf(rng, 64),
			BlockTime: timestamppb.New(bt), TxHash: tx, TxIndex: uint32(rng.Intn(200)), LogIndex: uint32(rng.Intn(300)),
			CollateralAsset: &liqstreamv1.Asset{Address: tokenAddr(c.id, pair[0].sym), Symbol: pair[0].sym, Decimals: pair[0].dec},
			DebtAsset:       &liqstreamv1.Asset{Address: tokenAddr(c.id, pair[1].sym), Symbol: pair[1].sym, Decimals: pair[1].dec},
			Borrower:        borrowers[rng.Intn(len(borrowers))], Liquidator: lq,
			DebtToCover:                fmt.Sprint(1 + rng.Int63n(1e15)),
			LiquidatedCollateralAmount: fmt.Sprint(1 + rng.Int63n(1e17)),
			CollateralPrice:            &liqstreamv1.Price{Usd: "2450.12345678", Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: block},
			DebtPrice:                  &liqstreamv1.Price{Usd: "1.00000000", Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: block},
			CollateralUsd:              e8(coll), DebtUsd: e8(coll * 95 / 100),
			Revision: 1, Status: liqstreamv1.Status_STATUS_CONFIRMED, MethodVersion: "aave-v3/1",
			LogTopics:  []string{"0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286"},
			ObservedAt: timestamppb.New(bt.Add(time.Minute)),
		}
		ev.EventId = fmt.Sprintf("%d:%s:%d", c.id, tx, ev.LogIndex)
		if rng.Intn(2) == 0 {
			ev.BonusUsd = e8(coll / 20)
		}
		first = append(first, ev)
		latest[ev.EventId] = ev
		switch rng.Intn(10) {
		case 0: // revised with new values
			r := proto.Clone(ev).(*liqstreamv1.LiquidationEvent)
			r.Revision = 2
			v := 10_000_000_000 + rng.Int63n(100_000_000_000_000)
			r.CollateralUsd, r.DebtUsd = e8(v), e8(v*95/100)
			second = append(second, r)
			latest[ev.EventId] = r
		case 1: // retracted
			r := proto.Clone(ev).(*liqstreamv1.LiquidationEvent)
			r.Revision = 2
			r.Status = liqstreamv1.Status_STATUS_RETRACTED
			second = append(second, r)
			latest[ev.EventId] = r
		}
	}
	for i, batch := range [][]*liqstreamv1.LiquidationEvent{first, second} {
		rows := make([]store.Row, len(batch))
		for j, ev := range batch {
			r, err := store.NewRow(ev, store.Coordinates{Topic: "t", Partition: 0, Offset: int64(i*10_000 + j)})
			if err != nil {
				t.Fatalf("NewRow(%s): %v", ev.GetEventId(), err)
			}
			rows[j] = r
		}
		if err := s.WriteBatch(ctx, rows); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
	}

	var tr truth
	for _, ev := range latest {
		if ev.GetStatus() != liqstreamv1.Status_STATUS_CONFIRMED {
			continue
		}
		l := liq{ev: ev}
		for _, f := range []struct {
			s   string
			dst *float64
		}{{ev.GetCollateralUsd(), &l.coll}, {ev.GetDebtUsd(), &l.debt}, {ev.GetBonusUsd(), &l.bonus}} {
			if f.s != "" {
				v, err := usd.Parse(f.s)
				if err != nil {
					t.Fatal(err)
				}
				*f.dst = f8(v.Int64())
			}
		}
		tr.liqs = append(tr.liqs, l)
	}
	sort.Slice(tr.liqs, func(i, j int) bool { return tr.liqs[i].ev.GetEventId() < tr.liqs[j].ev.GetEventId() })

	// Bad debt: four write-offs per chain, one of them later retracted.
	var bd []badDebtRow
	for _, c := range testChains {
		for k := 0; k < 4; k++ {
			tx := hexOf(rng, 64)
			r := badDebtRow{
				chainID: c.id, chain: c.slug, protocol: "aave-v3", tx: tx, eventID: fmt.Sprintf("%d:%s:%d", c.id, tx, 7),
				borrower: borrowers[rng.Intn(len(borrowers))], symbol: testPairs[k][1].sym,
				at:    dataFrom.Add(time.Duration(rng.Int63n(span))).Truncate(time.Second),
				usdE8: 1_000_000_000 + rng.Int63n(10_000_000_000_000), revision: 1, status: "CONFIRMED",
			}
			bd = append(bd, r)
			if k == 3 {
				r.revision, r.status = 2, "RETRACTED"
				bd = append(bd, r)
			} else {
				tr.badDebt = append(tr.badDebt, r)
			}
		}
	}
	insertBadDebt(ctx, t, conn, bd)
	chains := map[uint64]string{}
	for _, c := range testChains {
		chains[c.id] = c.slug
	}
	if err := s.Recompute(ctx, chains, dataFrom, dataTo); err != nil {
		t.Fatalf("Recompute after the bad debt rows: %v", err)
	}
	return tr
}

// insertBadDebt writes bad_debt rows with one batch INSERT naming its
// columns (the store has no bad-debt writer yet).
func insertBadDebt(ctx context.Context, t *testing.T, conn driver.Conn, rows []badDebtRow) {
	t.Helper()
	b, err := conn.PrepareBatch(ctx, `INSERT INTO bad_debt (chain_id, chain, protocol, market, pool, block_time, block_number,
		block_hash, tx_hash, tx_index, log_index, borrower, debt_token, debt_symbol, debt_decimals, amount_raw, amount,
		debt_price_usd, debt_price_source, debt_price_block, amount_usd, event_id, revision, status, method_version,
		log_topics, log_data, observed_at, kafka_topic, kafka_partition, kafka_offset, ingested_at)`)
	if err != nil {
		t.Fatalf("preparing the bad_debt insert (is migration 0003_bad_debt applied?): %v", err)
	}
	for i, r := range rows {
		price := decimal.New(1, 0)
		amt := decimal.New(r.usdE8, -8)
		if err := b.Append(r.chainID, r.chain, r.protocol, "AaveV3"+r.chain, "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2",
			r.at, uint64(2_000_000+i), "0xblock", r.tx, uint32(1), uint32(7), r.borrower, tokenAddr(r.chainID, r.symbol),
			r.symbol, uint32(6), fmt.Sprint(r.usdE8/100), f8(r.usdE8), &price, "ORACLE_AT_BLOCK", uint64(2_000_000+i),
			amt, r.eventID, r.revision, r.status, "aave-v3/1", []string{"0x2bccfb3f"}, "0x", r.at, "t", int32(0), int64(i),
			time.Now().UTC().Truncate(time.Second)); err != nil {
			t.Fatalf("appending bad_debt row: %v", err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatalf("inserting bad_debt rows: %v", err)
	}
}
