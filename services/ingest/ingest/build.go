package ingest

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/ingest/decode"
	"github.com/liqstream/liqstream/services/ingest/multicall"
	"github.com/liqstream/liqstream/services/ingest/price"
	"github.com/liqstream/liqstream/services/ingest/protocol"
	"github.com/liqstream/liqstream/services/ingest/rpc"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// wethByChain is the wrapped ether the pricers probe an oracle's base
// currency with (package price): Ethereum, Polygon, Avalanche (WETH.e).
var wethByChain = map[uint64]common.Address{
	1:     common.HexToAddress("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
	137:   common.HexToAddress("0x7ceB23fD6bC0adD59E62ac25578270cFf1b9f619"),
	43114: common.HexToAddress("0x49D5c2BdFfac6CE2BFdB6640F4F80f226bc10bAB"),
}

// buildMetrics are the counters of the decode and price steps.
type buildMetrics struct {
	priceLatest metric.Int64Counter
	deficits    metric.Int64Counter
}

func newBuildMetrics(meter metric.Meter) (buildMetrics, error) {
	var m buildMetrics
	var err error
	if m.priceLatest, err = meter.Int64Counter("price_fallback_latest",
		metric.WithDescription("events priced at the latest block because the node lacked state at the event's block")); err != nil {
		return m, err
	}
	if m.deficits, err = meter.Int64Counter("deficits_built", metric.WithDescription("DeficitCreated (bad debt) records built")); err != nil {
		return m, err
	}
	return m, nil
}

// newPricers builds one Pricer per market (each market has its own oracle
// and data provider) and checks each oracle's base currency at block.
func (in *Ingester) newPricers(ctx context.Context, cl *rpc.Client, block uint64) (map[common.Address]*price.Pricer, error) {
	out := make(map[common.Address]*price.Pricer, len(in.r.markets))
	var caller price.Caller = cl
	if in.r.multicall3 > 0 {
		caller = multicall.New(cl, in.r.multicall3, in.r.chain.Slug, in.log)
	}
	for _, m := range in.r.markets {
		pr, err := price.New(price.Config{Chain: in.r.chain.Slug, Oracle: m.Oracle, WETH: wethByChain[in.r.chain.ID],
			ETHUSDFeed: m.ETHUSDFeed, DataProvider: m.DataProvider}, in.log, caller)
		if err != nil {
			return nil, fmt.Errorf("market %s: %w", m.Name, err)
		}
		if err := pr.CheckBase(ctx, block); err != nil {
			return nil, fmt.Errorf("market %s: %w", m.Name, err)
		}
		out[m.Pool] = pr
	}
	return out, nil
}

// decoded is one decoded log of a configured market.
type decoded struct {
	log types.Log
	protocol.Decoded
}

// marketWork gathers one market's lookups for a chunk.
type marketWork struct {
	tokens   []common.Address
	assetsAt map[uint64][]common.Address // prices: block → assets
	collAt   map[uint64][]common.Address // reserve configuration: block → collateral assets
	blocks   []uint64

	toks     map[common.Address]price.Token
	tokErrs  map[common.Address]error
	quotes   map[uint64]price.Quote
	qErrs    map[uint64]error
	reserves map[uint64]map[common.Address]price.Reserve
}

// fetch fills c: logs, decode, headers, tokens, prices, reserve
// configuration, events and deficits.
func (in *Ingester) fetch(ctx context.Context, st stage, c *chunk) {
	ctx, end := in.traceFetch(ctx, c)
	defer end()
	in.rangeHist.Record(ctx, int64(c.hi-c.lo+1), metric.WithAttributes(attribute.String("chain", in.r.chain.Slug)))
	logs, err := st.rpc.Logs(ctx, c.lo, c.hi, in.r.set.Pools(), in.r.set.Topics())
	if err != nil {
		c.err = err
		return
	}
	_, decodeSpan := in.startStep(ctx, SpanDecode)
	slices.SortFunc(logs, func(a, b types.Log) int {
		if a.BlockNumber != b.BlockNumber {
			return cmpU(a.BlockNumber, b.BlockNumber)
		}
		return cmpU(uint64(a.Index), uint64(b.Index))
	})
	var ok []decoded
	// Event blocks need a header for their timestamp and for the check that
	// the logs are of the chain the chunk's headers are; in a history chunk,
	// far below the safe block, the logs' own blockTimestamp serves instead.
	var times map[uint64]uint64
	if c.history {
		times = blockTimes(logs)
	}
	blocks := []uint64{c.hi}
	if c.lo != c.hi {
		blocks = []uint64{c.lo, c.hi} // c.lo's parent hash chains the chunk to the one before
	}
	work := map[common.Address]*marketWork{}
	linker := protocol.NewLinker(in.r.chain.ID)
	for _, l := range logs {
		if _, known := in.r.set.Lookup(l.Address); !known {
			c.letters = append(c.letters, deadLetter{log: l, reason: "wrong_address",
				err: fmt.Errorf("log from %s, which is not a configured pool", l.Address)})
			continue
		}
		d := decoded{log: l}
		if d.Decoded, err = in.r.set.Decode(&d.log); err != nil {
			c.letters = append(c.letters, deadLetter{log: l, reason: decode.Reason(err), err: err})
			continue
		}
		ok = append(ok, d)
		if _, fromLog := times[l.BlockNumber]; !fromLog && blocks[len(blocks)-1] != l.BlockNumber {
			blocks = append(blocks, l.BlockNumber)
		}
		w := work[l.Address]
		if w == nil {
			w = &marketWork{assetsAt: map[uint64][]common.Address{}, collAt: map[uint64][]common.Address{}}
			work[l.Address] = w
		}
		if len(w.blocks) == 0 || w.blocks[len(w.blocks)-1] != l.BlockNumber {
			w.blocks = append(w.blocks, l.BlockNumber)
		}
		if d.Kind == protocol.KindDeficit {
			w.tokens = append(w.tokens, d.Deficit.DebtAsset)
			w.assetsAt[l.BlockNumber] = append(w.assetsAt[l.BlockNumber], d.Deficit.DebtAsset)
			continue
		}
		lq := &d.Liquidation
		linker.Liquidation(&d.log, lq.Borrower)
		w.tokens = append(w.tokens, lq.Collateral, lq.Debt)
		w.assetsAt[l.BlockNumber] = append(w.assetsAt[l.BlockNumber], lq.Collateral, lq.Debt)
		w.collAt[l.BlockNumber] = append(w.collAt[l.BlockNumber], lq.Collateral)
	}
	endDecode(decodeSpan, len(logs), len(ok))
	hdrs, err := st.rpc.HeadersBatch(ctx, blocks)
	if err != nil {
		c.err = err
		return
	}
	headerOf := make(map[uint64]rpc.Header, len(hdrs))
	for _, h := range hdrs {
		headerOf[h.Number] = h
	}
	if late := outsideTimes(times, headerOf[c.lo].Time, headerOf[c.hi].Time, headerOf); len(late) > 0 {
		// A log's blockTimestamp outside the chunk's own header times is a
		// broken answer: those blocks read their headers after all.
		in.log.Warn("logs carry block timestamps outside their chunk's; reading those blocks' headers",
			"chain", in.r.chain.Slug, "from", c.lo, "to", c.hi, "blocks", len(late))
		more, err := st.rpc.HeadersBatch(ctx, late)
		if err != nil {
			c.err = err
			return
		}
		for _, h := range more {
			headerOf[h.Number] = h
		}
	}
	c.hiHash = headerOf[c.hi].Hash
	c.loParent = headerOf[c.lo].ParentHash
	if len(ok) == 0 {
		return
	}
	pctx, priceSpan := in.startStep(ctx, SpanPrice)
	for pool, w := range work {
		m, _ := in.r.set.Lookup(pool)
		if c.err = in.lookups(pctx, st.pricers[pool], m, c.hi, w); c.err != nil {
			telemetry.EndSpan(priceSpan, c.err)
			return
		}
	}
	priceSpan.End()
	observed := timestamppb.New(in.now())
	for i := range ok {
		d := &ok[i]
		h, fetched := headerOf[d.log.BlockNumber]
		if !fetched {
			h = rpc.Header{Number: d.log.BlockNumber, Hash: d.log.BlockHash, Time: times[d.log.BlockNumber]}
		}
		if h.Hash != d.log.BlockHash {
			c.err = fmt.Errorf("block %d on %s: log block hash %s != header hash %s (reorg below the confirmation depth; raise confirmations)",
				d.log.BlockNumber, in.r.chain.Slug, d.log.BlockHash, h.Hash)
			return
		}
		w := work[d.log.Address]
		if e := w.qErrs[d.log.BlockNumber]; e != nil {
			c.letters = append(c.letters, deadLetter{log: d.log, reason: "price", err: e})
			continue
		}
		q := w.quotes[d.log.BlockNumber]
		if q.Latest {
			in.bm.priceLatest.Add(ctx, 1, metric.WithAttributes(attribute.String("chain", in.r.chain.Slug)))
		}
		if d.Kind == protocol.KindDeficit {
			if e := w.tokErrs[d.Deficit.DebtAsset]; e != nil {
				c.letters = append(c.letters, deadLetter{log: d.log, reason: "token_metadata", err: e})
				continue
			}
			link := linker.Deficit(&d.log, d.Deficit.Borrower)
			c.deficits = append(c.deficits, in.deficit(d, h, w.toks[d.Deficit.DebtAsset], q, link, observed))
			in.bm.deficits.Add(ctx, 1, metric.WithAttributes(attribute.String("chain", in.r.chain.Slug)))
			continue
		}
		if e := firstErr(w.tokErrs[d.Liquidation.Collateral], w.tokErrs[d.Liquidation.Debt]); e != nil {
			c.letters = append(c.letters, deadLetter{log: d.log, reason: "token_metadata", err: e})
			continue
		}
		rv, hasReserve := w.reserves[d.log.BlockNumber][d.Liquidation.Collateral]
		c.events = append(c.events, in.event(d, h, w.toks[d.Liquidation.Collateral], w.toks[d.Liquidation.Debt], q, rv, hasReserve, observed))
	}
}

// historyMarginMin is the least distance, in blocks, between a history
// chunk's last block and the safe block (historyMargin).
const historyMarginMin = 128

// historyMargin is how far below the safe block a chunk must end to be a
// history chunk: twice the confirmations, at least historyMarginMin. Follow
// mode's chunks end at the safe block, so they always read headers.
func (in *Ingester) historyMargin() uint64 {
	return max(2*in.r.confirmations, historyMarginMin)
}

// blockTimes returns the timestamp of each block whose logs all carry the
// same non-zero blockTimestamp (current geth, reth and erigon put it in
// every eth_getLogs log object). A block with a log without it, or with
// logs that disagree, is left out: its header is read instead.
func blockTimes(logs []types.Log) map[uint64]uint64 {
	times := make(map[uint64]uint64, len(logs))
	bad := map[uint64]bool{}
	for i := range logs {
		l := &logs[i]
		if bad[l.BlockNumber] {
			continue
		}
		t, seen := times[l.BlockNumber]
		if l.BlockTimestamp == 0 || (seen && t != l.BlockTimestamp) {
			bad[l.BlockNumber] = true
			delete(times, l.BlockNumber)
			continue
		}
		times[l.BlockNumber] = l.BlockTimestamp
	}
	return times
}

// outsideTimes returns the blocks, without a fetched header, whose log
// timestamp lies outside [loTime, hiTime], in ascending order.
func outsideTimes(times map[uint64]uint64, loTime, hiTime uint64, fetched map[uint64]rpc.Header) []uint64 {
	var out []uint64
	for b, t := range times {
		if _, ok := fetched[b]; !ok && (t < loTime || t > hiTime) {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return out
}

// lookups reads one market's token metadata for a chunk in one batch (the
// tokens are cached, so usually none), then its prices and reserve
// configurations together in another.
func (in *Ingester) lookups(ctx context.Context, pr *price.Pricer, m *protocol.Market, hi uint64, w *marketWork) error {
	var err error
	if w.toks, w.tokErrs, err = pr.Tokens(ctx, hi, w.tokens); err != nil {
		return err
	}
	reqs := make([]price.Request, 0, len(w.blocks))
	var colls []price.Request
	for _, b := range w.blocks {
		reqs = append(reqs, price.Request{Block: b, Assets: w.assetsAt[b]})
		if as := w.collAt[b]; len(as) > 0 {
			colls = append(colls, price.Request{Block: b, Assets: as})
		}
	}
	// Prices and reserve configurations (bonus, fee) in one JSON-RPC batch.
	quotes, qErrs, rs, rErrs, err := pr.Lookup(ctx, reqs, colls, m.Adapter.ProtocolFee())
	if err != nil {
		return err
	}
	w.quotes, w.qErrs = make(map[uint64]price.Quote, len(reqs)), map[uint64]error{}
	for i, r := range reqs {
		w.quotes[r.Block] = quotes[i]
		if qErrs[i] != nil {
			w.qErrs[r.Block] = qErrs[i]
		}
	}
	w.reserves = map[uint64]map[common.Address]price.Reserve{}
	for i, r := range colls {
		w.reserves[r.Block] = rs[i]
		for a, e := range rErrs[i] {
			// Bonus and fee stay empty for this asset; the event is still
			// published (they are optional in the contract).
			in.log.Debug("no reserve configuration; bonus and fee left empty", "block", r.Block, "asset", a, "err", e)
		}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// priceOf renders one asset's price with its source.
func priceOf(p *big.Int, q price.Quote) *liqstreamv1.Price {
	src := liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK
	if q.Latest {
		src = liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_LATEST
	}
	return &liqstreamv1.Price{Usd: usd.Format(p), Source: src, BlockNumber: q.Block}
}

func (in *Ingester) chainRef() protocol.Chain {
	return protocol.Chain{ID: in.r.chain.ID, Slug: in.r.chain.Slug}
}

// event enriches a liquidation's offline record (protocol.LiquidationRecord)
// with block time, token metadata, prices, USD values, and, when the
// collateral reserve's configuration was read, the liquidator's bonus and
// the protocol fee (price.Split).
func (in *Ingester) event(d *decoded, h rpc.Header, coll, debt price.Token, q price.Quote, rv price.Reserve, hasReserve bool, observed *timestamppb.Timestamp) *liqstreamv1.LiquidationEvent {
	ev := protocol.LiquidationRecord(in.chainRef(), &d.Decoded, &d.log)
	lq := &d.Liquidation
	pColl, pDebt := q.Prices[lq.Collateral], q.Prices[lq.Debt]
	ev.BlockTime = timestamppb.New(time.Unix(int64(h.Time), 0).UTC())
	ev.CollateralAsset.Symbol, ev.CollateralAsset.Decimals = coll.Symbol, uint32(coll.Decimals)
	ev.DebtAsset.Symbol, ev.DebtAsset.Decimals = debt.Symbol, uint32(debt.Decimals)
	ev.CollateralPrice, ev.DebtPrice = priceOf(pColl, q), priceOf(pDebt, q)
	ev.DebtUsd = usd.Format(price.Value(&lq.DebtToCover, pDebt, debt.Decimals))
	ev.CollateralUsd = usd.Format(price.Value(&lq.LiquidatedCollateral, pColl, coll.Decimals))
	if hasReserve {
		fee, bonus := price.Split(lq.LiquidatedCollateral.ToBig(), rv)
		ev.BonusUsd = usd.Format(usd.Value(bonus, pColl, coll.Decimals))
		if d.Market.Adapter.ProtocolFee() {
			ev.ProtocolFeeAmount = fee.String()
			ev.ProtocolFeeUsd = usd.Format(usd.Value(fee, pColl, coll.Decimals))
		}
	}
	ev.ObservedAt = observed
	return ev
}

// deficit enriches a DeficitCreated record with block time, the debt
// token's metadata and price, and its USD value.
func (in *Ingester) deficit(d *decoded, h rpc.Header, debt price.Token, q price.Quote, link string, observed *timestamppb.Timestamp) *liqstreamv1.DeficitEvent {
	ev := protocol.DeficitRecord(in.chainRef(), &d.Decoded, &d.log, link)
	p := q.Prices[d.Deficit.DebtAsset]
	ev.BlockTime = timestamppb.New(time.Unix(int64(h.Time), 0).UTC())
	ev.DebtAsset.Symbol, ev.DebtAsset.Decimals = debt.Symbol, uint32(debt.Decimals)
	ev.DebtPrice = priceOf(p, q)
	ev.AmountUsd = usd.Format(price.Value(&d.Deficit.Amount, p, debt.Decimals))
	ev.ObservedAt = observed
	return ev
}
