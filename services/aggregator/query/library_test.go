package query_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/usd"
	"go.opentelemetry.io/otel/metric/noop"
)

func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }

// fixture is a database written through the store with known events: a
// baseline of ~20 events a day from Jan 1 to Feb 9 2026, waves of ~200 a day
// on Jan 31-Feb 2 and ~120 on Feb 6, a skewed set of liquidators and four
// asset pairs, revisions (some changing the liquidator or the pair), retractions,
// replays, and bad debt in some of the liquidation transactions.
type fixture struct {
	conn    driver.Conn
	latest  []*liqstreamv1.LiquidationEvent
	badDebt []store.BadDebt // highest revision of each record, retracted included
}

var (
	liquidatorPool = func() []string {
		out := make([]string, 12)
		for i := range out {
			out[i] = fmt.Sprintf("0x%040x", 0xa11ce+i)
		}
		return out
	}()
	pairPool = [][4]string{
		{"0x00000000000000000000000000000000000000e1", "WETH", "0x00000000000000000000000000000000000000c1", "USDC"},
		{"0x00000000000000000000000000000000000000e2", "WBTC", "0x00000000000000000000000000000000000000c1", "USDC"},
		{"0x00000000000000000000000000000000000000e1", "WETH", "0x00000000000000000000000000000000000000c2", "USDT"},
		{"0x00000000000000000000000000000000000000e3", "wstETH", "0x00000000000000000000000000000000000000e1", "WETH"},
	}
)

func setPair(ev *liqstreamv1.LiquidationEvent, p [4]string) {
	ev.CollateralAsset = &liqstreamv1.Asset{Address: p[0], Symbol: p[1], Decimals: 18}
	ev.DebtAsset = &liqstreamv1.Asset{Address: p[2], Symbol: p[3], Decimals: 6}
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
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
	seed := testsupport.Seed(t)
	g := synth.New(seed)
	rng := rand.New(rand.NewSource(seed))

	var first []*liqstreamv1.LiquidationEvent
	for d := day(1, 1); d.Before(day(2, 10)); d = d.AddDate(0, 0, 1) {
		n := 15 + rng.Intn(11)
		switch {
		case !d.Before(day(1, 31)) && d.Before(day(2, 3)):
			n = 180 + rng.Intn(40)
		case d.Equal(day(2, 6)):
			n = 120
		}
		first = append(first, g.Events(n, d, 24*time.Hour)...)
	}
	for _, ev := range first {
		// Skewed: liquidator i with weight ~ 1/(i+1).
		ev.Liquidator = liquidatorPool[min(len(liquidatorPool)-1, int(float64(len(liquidatorPool))*rng.Float64()*rng.Float64()))]
		setPair(ev, pairPool[rng.Intn(len(pairPool))])
	}
	write := func(evs []*liqstreamv1.LiquidationEvent, offset int64) {
		t.Helper()
		rows := make([]store.Row, len(evs))
		for i, ev := range evs {
			r, err := store.NewRow(ev, store.Coordinates{Topic: "t", Partition: int32(i % 3), Offset: offset + int64(i)})
			if err != nil {
				t.Fatalf("NewRow: %v", err)
			}
			rows[i] = r
		}
		if err := s.WriteBatch(ctx, rows); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
	}
	write(first, 0)
	all := append([]*liqstreamv1.LiquidationEvent(nil), first...)

	var revised []*liqstreamv1.LiquidationEvent
	for _, ev := range first {
		switch rng.Intn(12) {
		case 0:
			revised = append(revised, g.Revise(ev))
		case 1: // a revision that moves the event to another liquidator and pair
			r := g.Revise(ev)
			r.Liquidator = liquidatorPool[rng.Intn(len(liquidatorPool))]
			setPair(r, pairPool[rng.Intn(len(pairPool))])
			revised = append(revised, r)
		case 2:
			revised = append(revised, synth.Retract(ev))
		}
	}
	second := append(append([]*liqstreamv1.LiquidationEvent(nil), first[:len(first)/2]...), revised...)
	rng.Shuffle(len(second), func(i, j int) { second[i], second[j] = second[j], second[i] })
	write(second, 100_000)
	all = append(all, revised...)
	write(first[len(first)/2:], 0) // replay of old revisions changes nothing

	// Bad debt in ~1 of 8 liquidation transactions, plus revisions, one
	// retraction per 10 records, and a replay.
	byID := map[string]store.BadDebt{}
	var bd []store.BadDebt
	for i, ev := range first {
		if rng.Intn(8) != 0 {
			continue
		}
		amt := new(big.Int).Rand(rng, big.NewInt(5e12))
		b := store.BadDebt{
			ChainID: ev.GetChainId(), Chain: ev.GetChain(), Protocol: "aave-v3", Market: ev.GetMarket(), Pool: ev.GetPool(),
			BlockTime: ev.GetBlockTime().AsTime(), BlockNumber: ev.GetBlockNumber(), BlockHash: ev.GetBlockHash(),
			TxHash: ev.GetTxHash(), TxIndex: ev.GetTxIndex(), LogIndex: ev.GetLogIndex() + 1, Borrower: ev.GetBorrower(),
			DebtToken: ev.GetDebtAsset().GetAddress(), DebtSymbol: ev.GetDebtAsset().GetSymbol(), DebtDecimals: 6,
			AmountRaw: amt.String(), DebtPriceUSD: "1.00000000", DebtPriceSource: "ORACLE_AT_BLOCK",
			AmountUSD: usd.Format(new(big.Int).Mul(amt, big.NewInt(100))), // 6 decimals -> 1e-8 USD at $1
			EventID:   fmt.Sprintf("%d:%s:%d", ev.GetChainId(), ev.GetTxHash(), ev.GetLogIndex()+1), Revision: 1,
			MethodVersion: "aave-v3.3/1", KafkaCoordinates: store.Coordinates{Topic: "bd", Offset: int64(i)},
		}
		bd = append(bd, b)
		byID[b.EventID] = b
	}
	if err := s.WriteBadDebt(ctx, bd); err != nil {
		t.Fatalf("WriteBadDebt: %v", err)
	}
	var bd2 []store.BadDebt
	for i, b := range bd {
		switch i % 10 {
		case 3:
			b.Revision, b.AmountUSD = 2, usd.Format(big.NewInt(int64(rng.Intn(1e12))))
		case 7:
			b.Revision, b.Retracted = 2, true
		default:
			continue
		}
		bd2 = append(bd2, b)
		byID[b.EventID] = b
	}
	if err := s.WriteBadDebt(ctx, append(bd2, bd...)); err != nil {
		t.Fatalf("second WriteBadDebt: %v", err)
	}
	f := fixture{conn: conn, latest: synth.Latest(all)}
	for _, b := range byID {
		f.badDebt = append(f.badDebt, b)
	}
	return f
}

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

func in(t time.Time, w query.Window) bool { return !t.Before(w.From) && t.Before(w.To) }

// TestQueryLibrary checks every query of the library against values computed
// in Go from the events written.
func TestQueryLibrary(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	wave := query.Window{From: day(1, 31), To: day(2, 3)}

	t.Run("CycleSummary shares", func(t *testing.T) {
		want := synth.Group(f.latest, wave.From, wave.To, nil)
		coll, debt, events := new(big.Int), new(big.Int), uint64(0)
		for _, w := range want {
			coll.Add(coll, w.CollateralUSD)
			debt.Add(debt, w.DebtUSD)
			events += w.Events
		}
		for name, fn := range map[string]func(context.Context, driver.Conn, time.Time, time.Time) ([]query.ChainSummary, error){
			"CycleSummary": query.CycleSummary, "CycleSummaryRaw": query.CycleSummaryRaw,
		} {
			got, err := fn(ctx, f.conn, wave.From, wave.To)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %d chains, want %d", name, len(got), len(want))
			}
			var sum float64
			for _, c := range got {
				w := want[synth.Key{ChainID: c.ChainID}]
				wantShare, _ := new(big.Rat).SetFrac(w.CollateralUSD, coll).Float64()
				wantDebt, _ := new(big.Rat).SetFrac(w.DebtUSD, debt).Float64()
				wantEv, _ := big.NewRat(int64(w.Events), int64(events)).Float64()
				if c.CollateralUSD.Cmp(w.CollateralUSD) != 0 || c.Events != w.Events ||
					c.CollateralShare != wantShare || c.DebtShare != wantDebt || c.EventsShare != wantEv {
					t.Errorf("%s chain %d: got %+v, want %v shares %v %v %v", name, c.ChainID, c, w, wantShare, wantDebt, wantEv)
				}
				sum += c.CollateralShare
			}
			if sum < 0.999999 || sum > 1.000001 {
				t.Errorf("%s: shares add up to %v", name, sum)
			}
		}
	})

	t.Run("DailyWaves", func(t *testing.T) {
		from, to := day(1, 20), day(2, 10)
		rep, err := query.DailyWaves(ctx, f.conn, from, to, query.DefaultWaveConfig())
		if err != nil {
			t.Fatal(err)
		}
		// Independent expectation: integer math, K = 3, N = 14.
		perDay := map[time.Time]uint64{}
		collDay := map[time.Time]*big.Int{}
		for k, v := range synth.Group(f.latest, day(1, 1), to, synth.Day) {
			perDay[k.Start] += v.Events
			if collDay[k.Start] == nil {
				collDay[k.Start] = new(big.Int)
			}
			collDay[k.Start].Add(collDay[k.Start], v.CollateralUSD)
		}
		var wantWaves []query.Window
		i := 0
		for d := from; d.Before(to); d, i = d.AddDate(0, 0, 1), i+1 {
			var evs []uint64
			var colls []*big.Int
			for j := 1; j <= 14; j++ {
				p := d.AddDate(0, 0, -j)
				evs = append(evs, perDay[p])
				c := collDay[p]
				if c == nil {
					c = new(big.Int)
				}
				colls = append(colls, c)
			}
			sort.Slice(evs, func(a, b int) bool { return evs[a] < evs[b] })
			sort.Slice(colls, func(a, b int) bool { return colls[a].Cmp(colls[b]) < 0 })
			evWave := 2*perDay[d] > 3*(evs[6]+evs[7])
			c := collDay[d]
			if c == nil {
				c = new(big.Int)
			}
			mid := new(big.Int).Add(colls[6], colls[7])
			collWave := new(big.Int).Mul(c, big.NewInt(2)).Cmp(mid.Mul(mid, big.NewInt(3))) > 0
			got := rep.Days[i]
			if !got.Day.Equal(d) || got.Events != perDay[d] || got.CollateralUSD.Cmp(c) != 0 ||
				got.EventsWave != evWave || got.CollateralWave != collWave || got.Wave != (evWave || collWave) {
				t.Errorf("%s: got events %d coll %s flags %v/%v/%v, want %d %s %v/%v", d.Format(time.DateOnly), got.Events,
					usd.Format(got.CollateralUSD), got.EventsWave, got.CollateralWave, got.Wave, perDay[d], usd.Format(c), evWave, collWave)
			}
			if evWave || collWave {
				if n := len(wantWaves); n > 0 && wantWaves[n-1].To.Equal(d) {
					wantWaves[n-1].To = d.AddDate(0, 0, 1)
				} else {
					wantWaves = append(wantWaves, query.Window{From: d, To: d.AddDate(0, 0, 1)})
				}
			}
		}
		var gotWaves []query.Window
		for _, w := range rep.Waves {
			gotWaves = append(gotWaves, w.Window)
		}
		if fmt.Sprint(gotWaves) != fmt.Sprint(wantWaves) {
			t.Errorf("waves %v, want %v", gotWaves, wantWaves)
		}
		// The planted waves must be found (the data makes them > 3x).
		if len(wantWaves) == 0 || !wantWaves[0].From.Equal(day(1, 31)) {
			t.Errorf("planted wave of Jan 31 not detected: %v", wantWaves)
		}
	})

	t.Run("DailyWavesNeedAFullBaseline", func(t *testing.T) {
		// The data begins on Jan 1: the days before were not ingested, so
		// no day whose 14-day baseline reaches before Jan 1 is a wave, even
		// though its figures exceed the zeros before the data.
		rep, err := query.DailyWaves(ctx, f.conn, day(1, 1), day(1, 20), query.DefaultWaveConfig())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range rep.Days {
			full := !d.Day.Before(day(1, 15))
			if wantDays := min(14, int(d.Day.Sub(day(1, 1))/(24*time.Hour))); d.BaselineDays != wantDays {
				t.Errorf("%s: baseline days %d, want %d", d.Day.Format(time.DateOnly), d.BaselineDays, wantDays)
			}
			if !full && d.Wave {
				t.Errorf("%s flagged as a wave without a full baseline", d.Day.Format(time.DateOnly))
			}
		}
		for _, w := range rep.Waves {
			if w.From.Before(day(1, 15)) {
				t.Errorf("wave %v starts before a full baseline exists", w.Window)
			}
		}
	})

	t.Run("TopLiquidators", func(t *testing.T) {
		type acc struct {
			coll, debt *big.Int
			events     uint64
			chains     map[uint64]bool
			txs, bors  map[string]bool
		}
		accs := map[string]*acc{}
		total := new(big.Int)
		for _, ev := range f.latest {
			if !in(ev.GetBlockTime().AsTime(), wave) {
				continue
			}
			a := accs[ev.GetLiquidator()]
			if a == nil {
				a = &acc{coll: new(big.Int), debt: new(big.Int), chains: map[uint64]bool{}, txs: map[string]bool{}, bors: map[string]bool{}}
				accs[ev.GetLiquidator()] = a
			}
			c := parse(ev.GetCollateralUsd())
			a.coll.Add(a.coll, c)
			total.Add(total, c)
			a.debt.Add(a.debt, parse(ev.GetDebtUsd()))
			a.events++
			a.chains[ev.GetChainId()] = true
			a.txs[ev.GetTxHash()] = true
			a.bors[ev.GetBorrower()] = true
		}
		names := make([]string, 0, len(accs))
		for n := range accs {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			if c := accs[names[i]].coll.Cmp(accs[names[j]].coll); c != 0 {
				return c > 0
			}
			return names[i] < names[j]
		})
		hhi := new(big.Rat)
		top3 := new(big.Int)
		for i, n := range names {
			s := new(big.Rat).SetFrac(accs[n].coll, total)
			hhi.Add(hhi, new(big.Rat).Mul(s, s))
			if i < 3 {
				top3.Add(top3, accs[n].coll)
			}
		}
		rep, err := query.TopLiquidators(ctx, f.conn, wave.From, wave.To, 3)
		if err != nil {
			t.Fatal(err)
		}
		wantHHI, _ := hhi.Float64()
		wantTop, _ := new(big.Rat).SetFrac(top3, total).Float64()
		if rep.Liquidators != len(names) || rep.TotalCollateralUSD.Cmp(total) != 0 || rep.HHI != wantHHI || rep.TopShare != wantTop || len(rep.Top) != 3 {
			t.Fatalf("report: %d liquidators total %s HHI %v top3 %v (%d rows); want %d %s %v %v",
				rep.Liquidators, usd.Format(rep.TotalCollateralUSD), rep.HHI, rep.TopShare, len(rep.Top), len(names), usd.Format(total), wantHHI, wantTop)
		}
		for i, l := range rep.Top {
			a := accs[names[i]]
			if l.Liquidator != names[i] || l.CollateralUSD.Cmp(a.coll) != 0 || l.DebtUSD.Cmp(a.debt) != 0 || l.Events != a.events ||
				l.Chains != uint64(len(a.chains)) || l.Txs != uint64(len(a.txs)) || l.Borrowers != uint64(len(a.bors)) {
				t.Errorf("top %d: got %+v, want %s %+v", i, l, names[i], a)
			}
		}
	})

	t.Run("LargestLiquidations", func(t *testing.T) {
		w := query.Window{From: day(1, 31).Add(7 * time.Hour), To: day(2, 6).Add(30 * time.Minute)}
		var want []*liqstreamv1.LiquidationEvent
		for _, ev := range f.latest {
			if in(ev.GetBlockTime().AsTime(), w) {
				want = append(want, ev)
			}
		}
		sort.Slice(want, func(i, j int) bool {
			if c := parse(want[i].GetCollateralUsd()).Cmp(parse(want[j].GetCollateralUsd())); c != 0 {
				return c > 0
			}
			return want[i].GetEventId() < want[j].GetEventId()
		})
		got, err := query.LargestLiquidations(ctx, f.conn, w.From, w.To, 25)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 25 {
			t.Fatalf("got %d rows, want 25", len(got))
		}
		for i, l := range got {
			ev := want[i]
			if l.EventID != ev.GetEventId() || l.CollateralUSD.Cmp(parse(ev.GetCollateralUsd())) != 0 ||
				l.DebtUSD.Cmp(parse(ev.GetDebtUsd())) != 0 || l.Revision != ev.GetRevision() || l.Liquidator != ev.GetLiquidator() ||
				!l.BlockTime.Equal(ev.GetBlockTime().AsTime()) || (l.BonusUSD == nil) != (ev.GetBonusUsd() == "") {
				t.Errorf("row %d: got %s rev %d %s, want %s rev %d %s", i, l.EventID, l.Revision, usd.Format(l.CollateralUSD),
					ev.GetEventId(), ev.GetRevision(), ev.GetCollateralUsd())
			}
		}
	})

	t.Run("AssetPairs", func(t *testing.T) {
		type key struct {
			chain      uint64
			coll, debt string
		}
		type acc struct {
			coll, debt                 *big.Int
			events                     uint64
			txs, bors, liqs            map[string]bool
			collSym, debtSym, chainStr string
		}
		accs := map[key]*acc{}
		for _, ev := range f.latest {
			if !in(ev.GetBlockTime().AsTime(), wave) {
				continue
			}
			k := key{ev.GetChainId(), ev.GetCollateralAsset().GetAddress(), ev.GetDebtAsset().GetAddress()}
			a := accs[k]
			if a == nil {
				a = &acc{coll: new(big.Int), debt: new(big.Int), txs: map[string]bool{}, bors: map[string]bool{}, liqs: map[string]bool{},
					collSym: ev.GetCollateralAsset().GetSymbol(), debtSym: ev.GetDebtAsset().GetSymbol(), chainStr: ev.GetChain()}
				accs[k] = a
			}
			a.coll.Add(a.coll, parse(ev.GetCollateralUsd()))
			a.debt.Add(a.debt, parse(ev.GetDebtUsd()))
			a.events++
			a.txs[ev.GetTxHash()], a.bors[ev.GetBorrower()], a.liqs[ev.GetLiquidator()] = true, true, true
		}
		got, err := query.AssetPairs(ctx, f.conn, wave.From, wave.To)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(accs) {
			t.Fatalf("%d pairs, want %d", len(got), len(accs))
		}
		for i, p := range got {
			a := accs[key{p.ChainID, p.CollateralToken, p.DebtToken}]
			if a == nil || p.CollateralUSD.Cmp(a.coll) != 0 || p.DebtUSD.Cmp(a.debt) != 0 || p.Events != a.events ||
				p.Txs != uint64(len(a.txs)) || p.Borrowers != uint64(len(a.bors)) || p.Liquidators != uint64(len(a.liqs)) ||
				p.CollateralSymbol != a.collSym || p.DebtSymbol != a.debtSym || p.Chain != a.chainStr {
				t.Errorf("pair %+v: want %+v", p, a)
			}
			if i > 0 && got[i-1].CollateralUSD.Cmp(p.CollateralUSD) < 0 {
				t.Errorf("pairs not sorted by collateral at %d", i)
			}
		}
	})

	waves := []query.Window{wave, {From: day(2, 6), To: day(2, 7)}, {From: day(1, 10).Add(90 * time.Minute), To: day(1, 12)}}
	badDebtUSD := func(chain uint64, w query.Window) (*big.Int, uint64, uint64) {
		sum, n, bors := new(big.Int), uint64(0), map[string]bool{}
		for _, b := range f.badDebt {
			if b.ChainID == chain && !b.Retracted && in(b.BlockTime, w) {
				sum.Add(sum, parse(b.AmountUSD))
				n++
				bors[b.Borrower] = true
			}
		}
		return sum, n, uint64(len(bors))
	}

	t.Run("BadDebtByWave", func(t *testing.T) {
		got, err := query.BadDebtByWave(ctx, f.conn, waves)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, r := range got {
			w := waves[r.Wave]
			bad, n, bors := badDebtUSD(r.ChainID, w)
			liq := synth.Group(f.latest, w.From, w.To, nil)[synth.Key{ChainID: r.ChainID}]
			if r.BadDebtUSD.Cmp(bad) != 0 || r.BadDebtEvents != n || r.BadDebtBorrowers != bors || r.Events != liq.Events ||
				r.CollateralUSD.Cmp(liq.CollateralUSD) != 0 {
				t.Errorf("wave %d chain %d: got bad %s/%d/%d coll %s/%d, want %s/%d/%d %s/%d", r.Wave, r.ChainID,
					usd.Format(r.BadDebtUSD), r.BadDebtEvents, r.BadDebtBorrowers, usd.Format(r.CollateralUSD), r.Events,
					usd.Format(bad), n, bors, usd.Format(liq.CollateralUSD), liq.Events)
			}
			if n > 0 {
				seen++
			}
		}
		want := 0
		for _, w := range waves {
			for _, c := range synth.Chains {
				if _, n, _ := badDebtUSD(c.ID, w); n > 0 {
					want++
				}
			}
		}
		if seen != want || want == 0 {
			t.Errorf("%d (wave, chain) rows with bad debt, want %d", seen, want)
		}
	})

	t.Run("BeforeAfter and bad debt rollups", func(t *testing.T) {
		before := query.Window{From: day(1, 20), To: day(1, 27).Add(5 * time.Hour)}
		got, err := query.BeforeAfter(ctx, f.conn, before, wave)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(synth.Chains) {
			t.Fatalf("%d chains, want %d", len(got), len(synth.Chains))
		}
		figures := func(chain uint64, w query.Window) query.Figures {
			g := synth.Group(f.latest, w.From, w.To, nil)[synth.Key{ChainID: chain}]
			liqs := map[string]bool{}
			for _, ev := range f.latest {
				if ev.GetChainId() == chain && in(ev.GetBlockTime().AsTime(), w) {
					liqs[ev.GetLiquidator()] = true
				}
			}
			bad, _, _ := badDebtUSD(chain, w)
			return query.Figures{CollateralUSD: g.CollateralUSD, DebtUSD: g.DebtUSD, BadDebtUSD: bad,
				Events: g.Events, Txs: g.Txs, Borrowers: g.Borrowers, Liquidators: uint64(len(liqs))}
		}
		eq := func(a, b query.Figures) bool {
			return a.CollateralUSD.Cmp(b.CollateralUSD) == 0 && a.DebtUSD.Cmp(b.DebtUSD) == 0 && a.BadDebtUSD.Cmp(b.BadDebtUSD) == 0 &&
				a.Events == b.Events && a.Txs == b.Txs && a.Borrowers == b.Borrowers && a.Liquidators == b.Liquidators
		}
		for _, c := range got {
			wb, wa := figures(c.ChainID, before), figures(c.ChainID, wave)
			if !eq(c.Before, wb) || !eq(c.After, wa) {
				t.Errorf("chain %d: got %+v / %+v, want %+v / %+v", c.ChainID, c.Before, c.After, wb, wa)
			}
			if c.CollateralChange().Cmp(new(big.Int).Sub(wa.CollateralUSD, wb.CollateralUSD)) != 0 {
				t.Errorf("chain %d: CollateralChange %s", c.ChainID, usd.Format(c.CollateralChange()))
			}
		}
		// Daily rollup: bad_debt_usd of every (chain, day) bucket.
		rows, err := f.conn.Query(ctx, `SELECT chain_id, day, toString(sum(bad_debt_usd)), sum(bad_debt_events) AS n
			FROM liquidations_daily FINAL GROUP BY chain_id, day HAVING n > 0`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		buckets := 0
		for rows.Next() {
			var (
				chain uint64
				d     time.Time
				s     string
				n     uint64
			)
			if err := rows.Scan(&chain, &d, &s, &n); err != nil {
				t.Fatal(err)
			}
			d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
			want, wn, _ := badDebtUSD(chain, query.Window{From: d, To: d.AddDate(0, 0, 1)})
			if parse(s).Cmp(want) != 0 || n != wn {
				t.Errorf("daily bad debt %d %s: %s/%d, want %s/%d", chain, d.Format(time.DateOnly), s, n, usd.Format(want), wn)
			}
			buckets++
		}
		if buckets == 0 {
			t.Error("no daily bucket has bad debt")
		}
	})
}

func TestLibraryRefusesBadArguments(t *testing.T) {
	ctx := context.Background()
	mid := day(1, 1).Add(time.Hour)
	for name, err := range map[string]error{
		"TopLiquidators unaligned": func() error { _, err := query.TopLiquidators(ctx, nil, mid, day(1, 3), 3); return err }(),
		"AssetPairs empty":         func() error { _, err := query.AssetPairs(ctx, nil, day(1, 3), day(1, 3)); return err }(),
		"Largest limit 0":          func() error { _, err := query.LargestLiquidations(ctx, nil, day(1, 1), day(1, 2), 0); return err }(),
		"BadDebtByWave none":       func() error { _, err := query.BadDebtByWave(ctx, nil, nil); return err }(),
		"BeforeAfter unaligned": func() error {
			_, err := query.BeforeAfter(ctx, nil, query.Window{From: day(1, 1), To: day(1, 2)}, query.Window{From: mid.Add(time.Minute), To: day(1, 3)})
			return err
		}(),
	} {
		if !errors.Is(err, query.ErrWindow) && !errors.Is(err, query.ErrUnaligned) {
			t.Errorf("%s: %v, want ErrWindow or ErrUnaligned", name, err)
		}
	}
	bad := []query.WaveConfig{{K: 0, TrailingDays: 14, Rule: query.WaveEither}, {K: 3, TrailingDays: 0, Rule: query.WaveEither}, {K: 3, TrailingDays: 14, Rule: "most"}}
	for _, c := range bad {
		if _, err := query.DailyWaves(ctx, nil, day(1, 1), day(1, 2), c); !errors.Is(err, query.ErrWaveConfig) {
			t.Errorf("DailyWaves(%+v) = %v, want ErrWaveConfig", c, err)
		}
	}
}
