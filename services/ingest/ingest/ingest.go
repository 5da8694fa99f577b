package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/ingest/decode"
	"github.com/liqstream/liqstream/services/ingest/price"
	"github.com/liqstream/liqstream/services/ingest/publish"
	"github.com/liqstream/liqstream/services/ingest/rpc"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// MethodVersion is stamped on every event this package produces.
const MethodVersion = "aave-v3/1"

// Progress is a snapshot of an Ingester's state.
type Progress struct {
	Chain   string
	ChainID uint64
	// From and To are the resolved window [From, To); To is 0 while unknown
	// or when following without an end.
	From, To uint64
	// Current is the next block to ingest: every block below it is published
	// (and checkpointed).
	Current         uint64
	EventsPublished uint64
	DeadLetters     uint64
	// Done is true when a backfill without follow has finished.
	Done bool
	Err  error
}

// Ingester ingests one chain. Build it with New and start it with Run.
type Ingester struct {
	cfg Config
	r   resolved
	log *slog.Logger
	now func() time.Time

	published  metric.Int64Counter
	decodeErrs metric.Int64Counter
	rangeHist  metric.Int64Histogram
	headLag    metric.Int64Gauge
	meter      metric.Meter

	mu   sync.Mutex
	prog Progress
}

// New validates cfg and builds an Ingester; it does no I/O. meter may be nil.
func New(cfg Config, log *slog.Logger, meter metric.Meter) (*Ingester, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if meter == nil {
		meter = noop.NewMeterProvider().Meter("")
	}
	in := &Ingester{cfg: cfg, r: r, log: log.With("chain", r.chain.Slug), now: time.Now, meter: meter}
	in.prog = Progress{Chain: r.chain.Slug, ChainID: r.chain.ID}
	if in.published, err = meter.Int64Counter("events_published", metric.WithDescription("liquidation events produced to Kafka")); err != nil {
		return nil, err
	}
	if in.decodeErrs, err = meter.Int64Counter("decode_errors", metric.WithDescription("logs sent to the dead-letter topic, by reason")); err != nil {
		return nil, err
	}
	if in.rangeHist, err = meter.Int64Histogram("getlogs_range_blocks", metric.WithDescription("block span of eth_getLogs requests")); err != nil {
		return nil, err
	}
	if in.headLag, err = meter.Int64Gauge("ingest_head_lag_blocks", metric.WithDescription("blocks between the chain head and the next block to ingest")); err != nil {
		return nil, err
	}
	return in, nil
}

// Progress returns a snapshot of the ingester's progress.
func (in *Ingester) Progress() Progress {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.prog
}

func (in *Ingester) update(f func(p *Progress)) {
	in.mu.Lock()
	f(&in.prog)
	in.mu.Unlock()
}

// stage bundles the per-run clients.
type stage struct {
	rpc    *rpc.Client
	pricer *price.Pricer
	pub    *publish.Publisher
}

// Run ingests until the window is done (returns nil), ctx is cancelled
// (returns nil after a clean stop) or a fatal error occurs.
func (in *Ingester) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			in.update(func(p *Progress) { p.Err = err })
		}
	}()
	pub, err := publish.New(in.cfg.Kafka, in.log)
	if err != nil {
		return err
	}
	defer pub.Close()
	if err := pub.EnsureTopics(ctx); err != nil {
		return stopped(ctx, err)
	}
	cl, err := rpc.New(ctx, rpc.Config{URL: in.cfg.RPCURL, ChainID: in.r.chain.ID, Chain: in.r.chain.Slug}, in.log, in.meter)
	if err != nil {
		return stopped(ctx, err)
	}
	defer cl.Close()
	pr, err := price.New(price.Config{Chain: in.r.chain.Slug, Oracle: in.r.oracle}, in.log, cl)
	if err != nil {
		return err
	}
	st := stage{rpc: cl, pricer: pr, pub: pub}

	safe, head, err := in.safeHead(ctx, cl)
	if err != nil {
		return stopped(ctx, err)
	}
	if err := pr.CheckBase(ctx, safe); err != nil {
		return stopped(ctx, err)
	}
	from, err := in.blockOf(ctx, cl, in.r.from, head)
	if err != nil {
		return stopped(ctx, fmt.Errorf("resolving from %q: %w", in.cfg.From, err))
	}
	var to uint64 // exclusive; 0 = open
	if in.r.hasTo {
		if to, err = in.blockOf(ctx, cl, in.r.to, head); err != nil {
			return stopped(ctx, fmt.Errorf("resolving to %q: %w", in.cfg.To, err))
		}
	} else if !in.cfg.Follow {
		to = safe + 1
	}
	next := from
	cp, ok, err := pub.LastCheckpoint(ctx, in.r.chain.ID)
	if err != nil {
		return stopped(ctx, err)
	}
	if ok && cp.Block+1 > next && (to == 0 || cp.Block < to) {
		in.log.Info("resuming from checkpoint", "checkpoint", cp.Block, "hash", cp.Hash)
		next = cp.Block + 1
	} else if ok && to != 0 && cp.Block+1 >= to {
		in.log.Info("window already checkpointed", "checkpoint", cp.Block, "to", to)
		next = to
	}
	in.update(func(p *Progress) { p.From, p.To, p.Current = from, to, next })
	in.log.Info("ingest starting", "market", in.r.market.Name, "pool", strings.ToLower(in.r.pool.Hex()),
		"from", from, "to", to, "next", next, "head", head, "safe", safe, "log_range", in.r.logRange,
		"concurrency", in.cfg.Concurrency, "follow", in.cfg.Follow, "rpc_url", in.cfg.RPCURL)

	stopLog := in.logProgress(ctx)
	defer stopLog()

	start := time.Now()
	for {
		end := to
		if end == 0 || end > safe+1 {
			end = safe + 1
		}
		if next < end {
			if next, err = in.ingestRange(ctx, st, next, end); err != nil {
				return stopped(ctx, err)
			}
		}
		in.headLag.Record(ctx, int64(head)-int64(next), metric.WithAttributes(attribute.String("chain", in.r.chain.Slug)))
		if to != 0 && next >= to {
			p := in.Progress()
			in.update(func(p *Progress) { p.Done = true })
			in.log.Info("backfill done", "from", from, "to", to, "events", p.EventsPublished, "dead_letters", p.DeadLetters,
				"elapsed", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if !in.cfg.Follow && next >= end {
			// The window ends above the safe head: wait for the chain.
			in.log.Info("waiting for the chain to reach the end of the window", "safe", safe, "to", to)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(in.cfg.PollInterval):
		}
		if safe, head, err = in.safeHead(ctx, cl); err != nil {
			return stopped(ctx, err)
		}
	}
}

// stopped turns errors caused by cancellation into a clean stop.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}

// safeHead returns min(finalized, head − confirmations) and the head.
func (in *Ingester) safeHead(ctx context.Context, cl *rpc.Client) (safe, head uint64, err error) {
	if head, err = cl.Head(ctx); err != nil {
		return 0, 0, err
	}
	safe = 0
	if head > in.r.confirmations {
		safe = head - in.r.confirmations
	}
	if fin, ok, err := cl.HeaderByTag(ctx, "finalized"); err != nil {
		return 0, 0, err
	} else if ok && fin.Number < safe {
		safe = fin.Number
	}
	return safe, head, nil
}

func (in *Ingester) blockOf(ctx context.Context, hs HeaderSource, b bound, head uint64) (uint64, error) {
	if b.isBlock {
		return b.block, nil
	}
	return BlockAtTime(ctx, hs, b.t, 0, head)
}

func (in *Ingester) logProgress(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(in.cfg.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p := in.Progress()
				in.log.Info("ingest progress", "current", p.Current, "to", p.To, "events", p.EventsPublished, "dead_letters", p.DeadLetters)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// chunk is one eth_getLogs range [lo, hi] after decoding and pricing.
type chunk struct {
	lo, hi  uint64
	hiHash  common.Hash
	events  []*liqstreamv1.LiquidationEvent
	letters []deadLetter
	err     error
}

type deadLetter struct {
	log    types.Log
	reason string
	err    error
}

// ingestRange publishes [next, end) and returns the new next block.
func (in *Ingester) ingestRange(ctx context.Context, st stage, next, end uint64) (uint64, error) {
	for next < end {
		// One group: up to Concurrency chunks fetched in parallel.
		var chunks []*chunk
		for lo := next; lo < end && len(chunks) < in.cfg.Concurrency; {
			hi := min(lo+in.r.logRange-1, end-1)
			chunks = append(chunks, &chunk{lo: lo, hi: hi})
			lo = hi + 1
		}
		var wg sync.WaitGroup
		for _, c := range chunks {
			wg.Go(func() { in.fetch(ctx, st, c) })
		}
		wg.Wait()
		for _, c := range chunks {
			if c.err != nil {
				return next, c.err
			}
			for _, ev := range c.events {
				if err := st.pub.Publish(ctx, ev); err != nil {
					return next, err
				}
			}
			for _, d := range c.letters {
				in.deadLetter(ctx, st.pub, d)
			}
		}
		last := chunks[len(chunks)-1]
		if err := st.pub.Commit(ctx, in.r.chain.ID, publish.Checkpoint{Block: last.hi, Hash: strings.ToLower(last.hiHash.Hex())}); err != nil {
			return next, err
		}
		var nev, ndl int
		for _, c := range chunks {
			nev += len(c.events)
			ndl += len(c.letters)
		}
		in.published.Add(ctx, int64(nev), metric.WithAttributes(attribute.String("chain", in.r.chain.Slug), attribute.String("protocol", in.r.market.Protocol)))
		next = last.hi + 1
		in.update(func(p *Progress) {
			p.Current = next
			p.EventsPublished += uint64(nev)
			p.DeadLetters += uint64(ndl)
		})
	}
	return next, nil
}

func (in *Ingester) deadLetter(ctx context.Context, pub *publish.Publisher, d deadLetter) {
	in.decodeErrs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", d.reason)))
	in.log.Error("log sent to dead-letter topic", "block", d.log.BlockNumber, "tx", strings.ToLower(d.log.TxHash.Hex()),
		"log_index", d.log.Index, "reason", d.reason, "err", d.err)
	v, err := json.Marshal(&d.log)
	if err != nil {
		v = []byte(fmt.Sprintf("%q", d.err.Error()))
	}
	key := []byte(strconv.FormatUint(in.r.chain.ID, 10) + ":" + strings.ToLower(d.log.TxHash.Hex()) + ":" + strconv.FormatUint(uint64(d.log.Index), 10))
	pub.DeadLetter(ctx, key, v, d.reason+": "+d.err.Error(), "application/json")
}

type decoded struct {
	log types.Log
	lc  decode.LiquidationCall
}

// fetch fills c: logs, decode, headers, tokens, prices, events.
func (in *Ingester) fetch(ctx context.Context, st stage, c *chunk) {
	in.rangeHist.Record(ctx, int64(c.hi-c.lo+1), metric.WithAttributes(attribute.String("chain", in.r.chain.Slug)))
	logs, err := st.rpc.Logs(ctx, c.lo, c.hi, []common.Address{in.r.pool}, []common.Hash{decode.TopicLiquidationCall})
	if err != nil {
		c.err = err
		return
	}
	slices.SortFunc(logs, func(a, b types.Log) int {
		if a.BlockNumber != b.BlockNumber {
			return cmpU(a.BlockNumber, b.BlockNumber)
		}
		return cmpU(uint64(a.Index), uint64(b.Index))
	})
	var ok []decoded
	blocks := []uint64{c.hi}
	var tokens []common.Address
	assetsAt := map[uint64][]common.Address{}
	for _, l := range logs {
		if l.Address != in.r.pool {
			c.letters = append(c.letters, deadLetter{log: l, reason: "wrong_address", err: fmt.Errorf("log from %s, want pool %s", l.Address, in.r.pool)})
			continue
		}
		var d decoded
		d.log = l
		if err := decode.DecodeLog(&l, &d.lc); err != nil {
			c.letters = append(c.letters, deadLetter{log: l, reason: decode.Reason(err), err: err})
			continue
		}
		ok = append(ok, d)
		if len(blocks) == 0 || blocks[len(blocks)-1] != l.BlockNumber {
			blocks = append(blocks, l.BlockNumber)
		}
		tokens = append(tokens, d.lc.Collateral, d.lc.Debt)
		assetsAt[l.BlockNumber] = append(assetsAt[l.BlockNumber], d.lc.Collateral, d.lc.Debt)
	}
	hdrs, err := st.rpc.HeadersBatch(ctx, blocks)
	if err != nil {
		c.err = err
		return
	}
	headerOf := make(map[uint64]rpc.Header, len(hdrs))
	for _, h := range hdrs {
		headerOf[h.Number] = h
	}
	c.hiHash = headerOf[c.hi].Hash
	if len(ok) == 0 {
		return
	}
	toks, tokErrs, err := st.pricer.Tokens(ctx, c.hi, tokens)
	if err != nil {
		c.err = err
		return
	}
	reqs := make([]price.Request, 0, len(assetsAt))
	for _, b := range blocks[1:] {
		if as, found := assetsAt[b]; found {
			reqs = append(reqs, price.Request{Block: b, Assets: as})
			delete(assetsAt, b)
		}
	}
	prices, priceErrs, err := st.pricer.Prices(ctx, reqs)
	if err != nil {
		c.err = err
		return
	}
	priceAt := make(map[uint64]int, len(reqs))
	for i, r := range reqs {
		priceAt[r.Block] = i
	}
	observed := timestamppb.New(in.now())
	for i := range ok {
		d := &ok[i]
		h := headerOf[d.log.BlockNumber]
		if h.Hash != d.log.BlockHash {
			c.err = fmt.Errorf("block %d on %s: log block hash %s != header hash %s (reorg below the confirmation depth; raise confirmations)",
				d.log.BlockNumber, in.r.chain.Slug, d.log.BlockHash, h.Hash)
			return
		}
		if e := firstErr(tokErrs[d.lc.Collateral], tokErrs[d.lc.Debt]); e != nil {
			c.letters = append(c.letters, deadLetter{log: d.log, reason: "token_metadata", err: e})
			continue
		}
		pi := priceAt[d.log.BlockNumber]
		if priceErrs[pi] != nil {
			c.letters = append(c.letters, deadLetter{log: d.log, reason: "price", err: priceErrs[pi]})
			continue
		}
		c.events = append(c.events, in.event(d, h, toks[d.lc.Collateral], toks[d.lc.Debt], prices[pi], observed))
	}
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

func hexLower(b []byte) string { return strings.ToLower(hexutil.Encode(b)) }

func (in *Ingester) event(d *decoded, h rpc.Header, coll, debt price.Token, prices map[common.Address]*big.Int, observed *timestamppb.Timestamp) *liqstreamv1.LiquidationEvent {
	l := &d.log
	pColl, pDebt := prices[d.lc.Collateral], prices[d.lc.Debt]
	txHash := strings.ToLower(l.TxHash.Hex())
	topicsHex := make([]string, len(l.Topics))
	for i, t := range l.Topics {
		topicsHex[i] = strings.ToLower(t.Hex())
	}
	return &liqstreamv1.LiquidationEvent{
		ChainId:                    in.r.chain.ID,
		Chain:                      in.r.chain.Slug,
		Protocol:                   in.r.market.Protocol,
		Market:                     in.r.market.Name,
		Pool:                       strings.ToLower(in.r.pool.Hex()),
		BlockNumber:                l.BlockNumber,
		BlockHash:                  strings.ToLower(l.BlockHash.Hex()),
		BlockTime:                  timestamppb.New(time.Unix(int64(h.Time), 0).UTC()),
		TxHash:                     txHash,
		TxIndex:                    uint32(l.TxIndex),
		LogIndex:                   uint32(l.Index),
		CollateralAsset:            &liqstreamv1.Asset{Address: strings.ToLower(coll.Address.Hex()), Symbol: coll.Symbol, Decimals: uint32(coll.Decimals)},
		DebtAsset:                  &liqstreamv1.Asset{Address: strings.ToLower(debt.Address.Hex()), Symbol: debt.Symbol, Decimals: uint32(debt.Decimals)},
		Borrower:                   strings.ToLower(d.lc.Borrower.Hex()),
		Liquidator:                 strings.ToLower(d.lc.Liquidator.Hex()),
		DebtToCover:                d.lc.DebtToCover.Dec(),
		LiquidatedCollateralAmount: d.lc.LiquidatedCollateral.Dec(),
		ReceiveAToken:              d.lc.ReceiveAToken,
		CollateralPrice:            &liqstreamv1.Price{Usd: usd.Format(pColl), Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: l.BlockNumber},
		DebtPrice:                  &liqstreamv1.Price{Usd: usd.Format(pDebt), Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: l.BlockNumber},
		DebtUsd:                    usd.Format(price.Value(&d.lc.DebtToCover, pDebt, debt.Decimals)),
		CollateralUsd:              usd.Format(price.Value(&d.lc.LiquidatedCollateral, pColl, coll.Decimals)),
		EventId:                    strconv.FormatUint(in.r.chain.ID, 10) + ":" + txHash + ":" + strconv.FormatUint(uint64(l.Index), 10),
		Revision:                   1,
		Status:                     liqstreamv1.Status_STATUS_CONFIRMED,
		MethodVersion:              MethodVersion,
		LogTopics:                  topicsHex,
		LogData:                    hexLower(l.Data),
		ObservedAt:                 observed,
	}
}
