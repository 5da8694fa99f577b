package sim

import (
	"cmp"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// Event is one generated LiquidationCall with everything a consumer should
// recover from the chain. USD values are in 1e-8 USD; prices are the
// oracle's at the event's block. Big ints are shared: do not modify them.
type Event struct {
	ChainID     uint64
	Pool        common.Address
	BlockNumber uint64
	BlockHash   common.Hash
	BlockTime   time.Time
	TxHash      common.Hash
	TxIndex     uint
	LogIndex    uint

	CollateralAsset    common.Address
	CollateralSymbol   string
	CollateralDecimals uint8
	DebtAsset          common.Address
	DebtSymbol         string
	DebtDecimals       uint8
	Borrower           common.Address // topics[3], "user"
	Liquidator         common.Address

	DebtToCover                *big.Int
	LiquidatedCollateralAmount *big.Int
	ReceiveAToken              bool

	CollateralPriceE8 *big.Int
	DebtPriceE8       *big.Int
	DebtUSD           *big.Int // usd.Value(DebtToCover, DebtPriceE8, DebtDecimals)
	CollateralUSD     *big.Int // usd.Value(LiquidatedCollateralAmount, CollateralPriceE8, CollateralDecimals)

	// ProtocolFeeAmount (collateral base units), ProtocolFeeUSD and BonusUSD
	// (the liquidator's share of the bonus) follow from the collateral
	// reserve's served configuration (ReserveConfig) with Aave's arithmetic.
	ProtocolFeeAmount *big.Int
	ProtocolFeeUSD    *big.Int
	BonusUSD          *big.Int
}

// logKind is the event a pool log carries.
type logKind uint8

const (
	kindLiquidation logKind = iota
	kindReserveDataUpdated
	kindSupply
	kindBorrow
)

// draftLog is a log before its block position is known.
type draftLog struct {
	kind  logKind
	event *Event // kindLiquidation
	asset *Asset // reserve of the other kinds
	user  common.Address
	wei   *big.Int
}

// draftTx is one generated transaction.
type draftTx struct {
	block uint64
	pos   int // drawn position in the block, made strictly increasing later
	seq   int // creation order, the final tie-break
	logs  []draftLog
}

// chainGen generates one chain's transactions.
type chainGen struct {
	cfg         Config
	id          uint64
	spec        chainSpec
	clk         clock
	hash        hasher
	pool        common.Address
	assets      []Asset
	prices      pricer
	r           *rand.Rand
	borrowers   int
	liquidators []common.Address
	txs         []*draftTx
}

// generate returns a chain's liquidation events and every pool log, both
// sorted by (block, log index).
func generate(cfg Config, id uint64, pool common.Address, assets []Asset, prices pricer, days []time.Time, counts []int) ([]Event, []servedLog) {
	spec := chainSpecs[id]
	g := &chainGen{cfg: cfg, id: id, spec: spec, clk: clock{spec.anchorN, spec.blockMs},
		hash: hasher{cfg.Seed, id}, pool: pool, assets: assets, prices: prices,
		r: newRand(cfg.Seed, id, "events")}
	g.borrowers = max(50, int(spec.volume*cfg.Scale*0.45))
	for i := range 8 {
		g.liquidators = append(g.liquidators, derivedAddress(cfg.Seed, id, "liquidator", uint64(i)))
	}
	winLo, winHi := g.clk.blockAt(cfg.From.Unix()), g.clk.blockAt(cfg.To.Unix())
	for i, d := range days {
		lo := max(g.clk.blockAt(d.Unix()), winLo)
		hi := min(g.clk.blockAt(d.Add(day).Unix()), winHi)
		if hi <= lo {
			continue
		}
		g.day(lo, hi, counts[i])
	}
	return g.finish()
}

// day generates n liquidations and some unrelated pool activity in blocks [lo, hi).
func (g *chainGen) day(lo, hi uint64, n int) {
	r := g.r
	noise := r.IntN(3) + int(0.3*float64(n))
	for n > 0 {
		size := 1
		switch x := r.Float64(); {
		case x < 0.09:
			size = 3
		case x < 0.25:
			size = 2
		}
		size = min(size, n)
		n -= size
		tx := g.newTx(lo + r.Uint64N(hi-lo))
		liquidator := g.liquidators[pickWeighted(r, len(g.liquidators), func(i int) int { return 64 >> i }, -1)]
		for range size {
			ev := g.event(tx.block, liquidator)
			if r.IntN(2) == 0 {
				debt := g.assetByAddr(ev.DebtAsset)
				tx.logs = append(tx.logs, draftLog{kind: kindReserveDataUpdated, asset: debt})
			}
			tx.logs = append(tx.logs, draftLog{kind: kindLiquidation, event: ev})
		}
	}
	// Unrelated Supply and Borrow transactions on the same pool.
	for range noise {
		tx := g.newTx(lo + r.Uint64N(hi-lo))
		k := kindSupply
		if r.IntN(2) == 0 {
			k = kindBorrow
		}
		as := &g.assets[r.IntN(len(g.assets))]
		user := derivedAddress(g.cfg.Seed, g.id, "borrower", uint64(r.IntN(g.borrowers)))
		wei := new(big.Int).Mul(big.NewInt(int64(1+r.IntN(100_000))), pow10(as.Decimals))
		tx.logs = append(tx.logs, draftLog{kind: k, asset: as, user: user, wei: wei})
	}
}

func (g *chainGen) newTx(block uint64) *draftTx {
	tx := &draftTx{block: block, pos: g.r.IntN(120), seq: len(g.txs)}
	g.txs = append(g.txs, tx)
	return tx
}

func (g *chainGen) assetByAddr(addr common.Address) *Asset {
	for i := range g.assets {
		if g.assets[i].Address == addr {
			return &g.assets[i]
		}
	}
	return nil
}

// event draws one liquidation in block n: a collateral/debt pair, a borrower
// from the chain's pool (popular ones repeat), a lognormal debt size and a
// 4.5–9% bonus on the collateral side.
func (g *chainGen) event(n uint64, liquidator common.Address) *Event {
	r := g.r
	ci := pickWeighted(r, len(g.assets), func(i int) int { return g.assets[i].collW }, -1)
	di := pickWeighted(r, len(g.assets), func(i int) int { return g.assets[i].debtW }, ci)
	coll, debt := &g.assets[ci], &g.assets[di]
	borrower := uint64(float64(g.borrowers) * math.Pow(r.Float64(), 1.8))
	z := min(max(r.NormFloat64(), -3), 3.5)
	debtUSD := g.spec.medianUSD * math.Exp(g.spec.sigma*z)
	bonus := 1.045 + 0.045*r.Float64()
	receive := r.Float64() < 0.05

	ts := g.clk.time(n)
	cp, dp := g.prices.price(coll, ts), g.prices.price(debt, ts)
	debtAmt := amountFor(debtUSD, dp, debt.Decimals)
	collAmt := amountFor(debtUSD*bonus, cp, coll.Decimals)
	return &Event{
		ChainID: g.id, Pool: g.pool, BlockNumber: n, BlockHash: g.hash.hash(n), BlockTime: unixUTC(ts),
		CollateralAsset: coll.Address, CollateralSymbol: coll.Symbol, CollateralDecimals: coll.Decimals,
		DebtAsset: debt.Address, DebtSymbol: debt.Symbol, DebtDecimals: debt.Decimals,
		Borrower:    derivedAddress(g.cfg.Seed, g.id, "borrower", borrower),
		Liquidator:  liquidator,
		DebtToCover: debtAmt, LiquidatedCollateralAmount: collAmt, ReceiveAToken: receive,
		CollateralPriceE8: cp, DebtPriceE8: dp,
		DebtUSD:       usd.Value(debtAmt, dp, debt.Decimals),
		CollateralUSD: usd.Value(collAmt, cp, coll.Decimals),
	}
}

// amountFor converts a USD size to base units at priceE8; at least 1.
func amountFor(usdSize float64, priceE8 *big.Int, decimals uint8) *big.Int {
	e8 := big.NewInt(int64(math.Round(usdSize * 1e8)))
	v := e8.Mul(e8, pow10(decimals))
	v.Quo(v, priceE8)
	if v.Sign() <= 0 {
		v.SetInt64(1)
	}
	return v
}

func pow10(n uint8) *big.Int { return new(big.Int).Set(usd.Pow10(n)) }

// finish orders the transactions, assigns transaction and log indexes and
// hashes, and renders the served logs.
func (g *chainGen) finish() ([]Event, []servedLog) {
	slices.SortFunc(g.txs, func(a, b *draftTx) int {
		return cmp.Or(cmp.Compare(a.block, b.block), cmp.Compare(a.pos, b.pos), cmp.Compare(a.seq, b.seq))
	})
	r := newRand(g.cfg.Seed, g.id, "log-positions")
	var (
		events []Event
		logs   []servedLog
		prev   = uint64(math.MaxUint64)
		txIdx  int
		logIdx uint
	)
	for _, tx := range g.txs {
		if tx.block != prev {
			prev, txIdx, logIdx = tx.block, -1, uint(r.IntN(40))
		}
		txIdx = max(tx.pos, txIdx+1)
		txHash := derivedHash(g.cfg.Seed, g.id, "tx", tx.block, uint64(txIdx))
		blockHash := g.hash.hash(tx.block)
		ts := g.clk.time(tx.block)
		logIdx += uint(r.IntN(4)) // logs of other contracts before the pool's
		for _, dl := range tx.logs {
			pos := logPos{block: tx.block, blockHash: blockHash, time: ts, txHash: txHash, txIndex: uint(txIdx), logIndex: logIdx}
			var sl servedLog
			if dl.kind == kindLiquidation {
				ev := *dl.event
				ev.TxHash, ev.TxIndex, ev.LogIndex = txHash, uint(txIdx), logIdx
				events = append(events, ev)
				sl = liquidationLog(&ev)
			} else {
				sl = otherLog(g.pool, dl, r)
			}
			sl.pos = pos
			sl.render(g.cfg.logTimestamps())
			logs = append(logs, sl)
			logIdx += 1 + uint(r.IntN(3))
		}
	}
	return events, logs
}
