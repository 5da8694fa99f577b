package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/ingest/price"
	"github.com/liqstream/liqstream/services/ingest/publish"
	"github.com/liqstream/liqstream/services/ingest/rpc"
)

// MethodVersion is the Aave V3 adapter's method version, stamped on the
// default market's events; other adapters stamp their own
// (protocol.Adapter.MethodVersion).
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
	hs         health // health.go: readiness and the head-lag gauges
	meter      metric.Meter
	bm         buildMetrics

	reorgs      metric.Int64Counter
	retractions metric.Int64Counter
	// recent and cpHash are owned by Run: the record of recently published
	// blocks and the hash of the last committed checkpoint (package doc,
	// "Reorgs").
	recent *recent
	cpHash string
	// The last poll's head and safe block (safeHead), owned by Run.
	polled                 bool
	polledHead, polledSafe uint64

	mu   sync.Mutex
	prog Progress
	// quietProgress stops Run's periodic progress log (QuietProgress).
	quietProgress bool

	tr tracing // trace.go
}

// New validates cfg and builds an Ingester; it does no I/O. meter may be nil.
func New(cfg Config, log *slog.Logger, meter metric.Meter, opts ...Option) (*Ingester, error) {
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
	in := &Ingester{cfg: cfg, r: r, log: log.With("chain", r.chain.Slug), now: time.Now, meter: meter, tr: newTracing(opts)}
	in.prog = Progress{Chain: r.chain.Slug, ChainID: r.chain.ID}
	in.recent = newRecent()
	if in.reorgs, err = meter.Int64Counter("reorgs_detected", metric.WithDescription("reorgs that orphaned blocks at or below the checkpoint")); err != nil {
		return nil, err
	}
	if in.retractions, err = meter.Int64Counter("retractions_published", metric.WithDescription("RETRACTED records published for orphaned events")); err != nil {
		return nil, err
	}
	if in.published, err = meter.Int64Counter("events_published", metric.WithDescription("liquidation events produced to Kafka")); err != nil {
		return nil, err
	}
	if in.decodeErrs, err = meter.Int64Counter("decode_errors", metric.WithDescription("logs sent to the dead-letter topic, by reason")); err != nil {
		return nil, err
	}
	if in.rangeHist, err = meter.Int64Histogram("getlogs_range_blocks", metric.WithDescription("block span of eth_getLogs requests"),
		metric.WithExplicitBucketBoundaries(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10_000, 50_000)); err != nil {
		return nil, err
	}
	if in.bm, err = newBuildMetrics(meter); err != nil {
		return nil, err
	}
	if err = in.initHealth(meter); err != nil {
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
	rpc *rpc.Client
	// pricers holds one Pricer per market, keyed by pool.
	pricers map[common.Address]*price.Pricer
	pub     *publish.Publisher
}

// Run ingests until the window is done (returns nil), ctx is cancelled
// (returns nil after a clean stop) or a fatal error occurs.
func (in *Ingester) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			in.update(func(p *Progress) { p.Err = err })
		}
	}()
	pub, err := publish.New(in.cfg.Kafka, in.log, in.r.chain.ID, publish.WithTracerProvider(in.tr.tp))
	if err != nil {
		return err
	}
	defer pub.Close()
	if err := pub.EnsureTopics(ctx); err != nil {
		return stopped(ctx, err)
	}
	cl, err := rpc.New(ctx, rpc.Config{URL: in.cfg.RPCURL, URLs: in.cfg.RPCURLs, ChainID: in.r.chain.ID, Chain: in.r.chain.Slug,
		MaxLogRange: in.r.logRange, Policy: in.cfg.RPC, TracerProvider: in.tr.tp}, in.log, in.meter)
	if err != nil {
		return stopped(ctx, err)
	}
	defer cl.Close()
	safe, head, err := in.safeHead(ctx, cl)
	if err != nil {
		return stopped(ctx, err)
	}
	prs, err := in.newPricers(ctx, cl, safe)
	if err != nil {
		return stopped(ctx, err)
	}
	st := stage{rpc: cl, pricers: prs, pub: pub}
	from, err := in.blockOf(ctx, cl, in.r.from, head)
	if err != nil {
		return stopped(ctx, fmt.Errorf("resolving from %q: %w", in.cfg.From, err))
	}
	var to uint64 // exclusive; 0 = open, or a time the chain has not reached yet
	toPending := false
	if in.r.hasTo {
		if to, toPending, err = in.resolveTo(ctx, cl, head); err != nil {
			return stopped(ctx, err)
		}
	} else if !in.cfg.Follow {
		to = safe + 1
	}
	next := from
	// LastCheckpoint first takes over the chain's transactional id, which
	// aborts a transaction a killed predecessor left open and fences it.
	cp, ok, err := pub.LastCheckpoint(ctx)
	if err != nil {
		return stopped(ctx, err)
	}
	if ok && cp.Block+1 > next && (to == 0 || cp.Block < to) {
		in.log.Info("resuming from checkpoint", "checkpoint", cp.Block, "hash", cp.Hash)
		next = cp.Block + 1
		in.cpHash = strings.ToLower(cp.Hash)
	} else if ok && to != 0 && cp.Block+1 >= to {
		in.log.Info("window already checkpointed", "checkpoint", cp.Block, "to", to)
		next = to
	}
	in.update(func(p *Progress) { p.From, p.To, p.Current = from, to, next })
	in.connected(cl, pub.TransactionTimeout())
	in.log.Info("ingest starting", "market", in.r.market.Name, "pool", strings.ToLower(in.r.pool.Hex()),
		"from", from, "to", to, "next", next, "head", head, "safe", safe, "log_range", in.r.logRange,
		"concurrency", in.cfg.Concurrency, "follow", in.cfg.Follow, "rpc_endpoints", cl.Endpoints())

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
		if to != 0 && !toPending && next >= to {
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
		if toPending {
			if to, toPending, err = in.resolveTo(ctx, cl, head); err != nil {
				return stopped(ctx, err)
			}
			if !toPending {
				in.update(func(p *Progress) { p.To = to })
			}
		}
	}
}

// resolveTo resolves the end of the window against the head. A time the
// head has not reached yet is pending (to 0): every block up to the head is
// inside the window, and the end is resolved again once the chain gets there.
// Resolving against the head rather than capping at it matters when the best
// endpoint is briefly unreachable and a lagging one answers the head.
func (in *Ingester) resolveTo(ctx context.Context, cl *rpc.Client, head uint64) (to uint64, pending bool, err error) {
	if !in.r.to.isBlock {
		hs, err := cl.HeadersBatch(ctx, []uint64{head})
		if err != nil {
			return 0, false, fmt.Errorf("resolving to %q: reading head %d: %w", in.cfg.To, head, err)
		}
		if hs[0].Time < uint64(max(in.r.to.t.Unix(), 0)) {
			return 0, true, nil
		}
	}
	if to, err = in.blockOf(ctx, cl, in.r.to, head); err != nil {
		return 0, false, fmt.Errorf("resolving to %q: %w", in.cfg.To, err)
	}
	return to, false, nil
}

// stopped turns errors caused by cancellation into a clean stop.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}

// safeHead returns min(finalized, head − confirmations) and the head. The
// finalized block only advances with a new head, so while the head stands
// still a poll costs one eth_blockNumber.
func (in *Ingester) safeHead(ctx context.Context, cl *rpc.Client) (safe, head uint64, err error) {
	if head, err = cl.Head(ctx); err != nil {
		return 0, 0, err
	}
	if in.polled && head == in.polledHead {
		return in.polledSafe, head, nil
	}
	defer func() {
		if err == nil {
			in.polled, in.polledHead, in.polledSafe = true, head, safe
		}
	}()
	in.noteHead(ctx, cl, head)
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

// QuietProgress stops Run from logging "ingest progress" every
// progress_interval, for a caller that reports Progress() itself (cmd/ingest
// draws a progress bar). Call it before Run.
func (in *Ingester) QuietProgress() { in.quietProgress = true }

func (in *Ingester) logProgress(ctx context.Context) func() {
	if in.quietProgress {
		return func() {}
	}
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
	lo, hi uint64
	// history is set for a chunk at least historyMargin blocks below the
	// safe block: its event blocks take their timestamps from the logs'
	// blockTimestamp when the node serves it (build.go, blockTimes).
	history bool
	hiHash  common.Hash
	// loParent is the parent hash of block lo: the previous chunk's hiHash,
	// or the checkpoint's hash, unless the chain reorganised.
	loParent common.Hash
	events   []*liqstreamv1.LiquidationEvent
	// deficits are bad-debt records, published after the chunk's events.
	deficits []*liqstreamv1.DeficitEvent
	letters  []deadLetter
	err      error
	span     fetchSpan // trace.go
}

type deadLetter struct {
	log    types.Log
	reason string
	err    error
}

// brokenLink returns the index of the first chunk whose block lo does not
// extend the chunk before it (its parent hash differs from that chunk's last
// hash), or 0 when the group is one chain.
func brokenLink(chunks []*chunk) int {
	for i := 1; i < len(chunks); i++ {
		if chunks[i].loParent != chunks[i-1].hiHash {
			return i
		}
	}
	return 0
}

// group is up to Concurrency chunks from block from, fetched in parallel.
type group struct {
	from   uint64
	chunks []*chunk
	wg     sync.WaitGroup
}

// fetchGroup starts fetching the group of chunks that begins at next.
// Chunks follow the client's current eth_getLogs span, which shrinks to a
// provider's limit and grows back (package rpc), so one chunk is one
// request when the span is stable.
func (in *Ingester) fetchGroup(ctx context.Context, st stage, next, end uint64) *group {
	g := &group{from: next}
	span := min(in.r.logRange, max(st.rpc.LogSpan(), 1))
	for lo := next; lo < end && len(g.chunks) < in.cfg.Concurrency; {
		hi := min(lo+span-1, end-1)
		g.chunks = append(g.chunks, &chunk{lo: lo, hi: hi, history: in.polled && hi+in.historyMargin() <= in.polledSafe})
		lo = hi + 1
	}
	for _, c := range g.chunks {
		g.wg.Go(func() { in.fetch(ctx, st, c) })
	}
	return g
}

// ingestRange publishes [next, end) and returns the new next block. While
// one group is published, the next one is already being fetched: nothing of
// it is used before the published group's checks passed and its
// transaction committed, and it is fetched again when anything changed
// (a reorg, a broken link).
func (in *Ingester) ingestRange(ctx context.Context, st stage, next, end uint64) (uint64, error) {
	var ahead *group
	defer func() {
		if ahead != nil {
			ahead.wg.Wait() // no fetch outlives the call
		}
	}()
	for next < end {
		g := ahead
		ahead = nil
		if g == nil || g.from != next {
			if g != nil {
				g.wg.Wait()
			}
			g = in.fetchGroup(ctx, st, next, end)
		}
		g.wg.Wait()
		chunks := g.chunks
		for _, c := range chunks {
			if c.err != nil {
				return next, c.err
			}
		}
		// Parent hashes: the first chunk must extend the checkpoint, each
		// other chunk the one before it.
		if next > 0 && in.cpHash != "" && strings.ToLower(chunks[0].loParent.Hex()) != in.cpHash {
			if err := in.handleReorg(ctx, st, next-1); err != nil {
				return next, err
			}
			continue
		}
		if i := brokenLink(chunks); i > 0 {
			in.log.Warn("chain changed while fetching a group; fetching it again", "block", chunks[i].lo)
			st.rpc.ForgetHeaders(chunks[0].lo)
			continue
		}
		last := chunks[len(chunks)-1]
		if last.hi+1 < end {
			ahead = in.fetchGroup(ctx, st, last.hi+1, end)
		}
		// An event id published before (a reorg moved its transaction above
		// the checkpoint) gets the next revision.
		for _, c := range chunks {
			nextRevision(in.recent, c.events)
			nextRevision(in.recent, c.deficits)
		}
		// The group's events, dead letters and checkpoint are one Kafka
		// transaction (package publish): all visible to read_committed
		// consumers, or none; an aborted attempt is run again.
		cp := publish.Checkpoint{Block: last.hi, Hash: strings.ToLower(last.hiHash.Hex())}
		in.kafkaBegin()
		if err := st.pub.Transact(ctx, cp, func(tctx context.Context) error {
			for _, c := range chunks {
				tctx := c.context(tctx) // the records' spans are children of the chunk's fetch span
				for _, ev := range c.events {
					if err := st.pub.Publish(tctx, ev); err != nil {
						return err
					}
				}
				for _, dv := range c.deficits {
					if err := st.pub.PublishDeficit(tctx, dv); err != nil {
						return err
					}
				}
				for _, d := range c.letters {
					in.produceDeadLetter(tctx, st.pub, d)
				}
			}
			return nil
		}); err != nil {
			return next, err
		}
		in.kafkaDone()
		in.noteIngested(ctx, st.rpc, last.hi)
		var evs []*liqstreamv1.LiquidationEvent
		var defs []*liqstreamv1.DeficitEvent
		for _, c := range chunks {
			evs = append(evs, c.events...)
			defs = append(defs, c.deficits...)
			for _, d := range c.letters {
				in.logDeadLetter(ctx, d)
			}
		}
		in.cpHash = cp.Hash
		in.recent.add(cp, evs, defs)
		if keep := max(recentKeepFactor*in.r.confirmations, recentMin); cp.Block > keep {
			in.recent.prune(cp.Block - keep)
		}
		var nev, ndl int
		for _, c := range chunks {
			nev += len(c.events)
			ndl += len(c.letters)
		}
		in.countPublished(ctx, chunks)
		next = last.hi + 1
		in.update(func(p *Progress) {
			p.Current = next
			p.EventsPublished += uint64(nev)
			p.DeadLetters += uint64(ndl)
		})
	}
	return next, nil
}

// logDeadLetter logs and counts a dead letter once its transaction committed.
func (in *Ingester) logDeadLetter(ctx context.Context, d deadLetter) {
	in.decodeErrs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", d.reason)))
	in.log.Error("log sent to dead-letter topic", "block", d.log.BlockNumber, "tx", strings.ToLower(d.log.TxHash.Hex()),
		"log_index", d.log.Index, "reason", d.reason, "err", d.err)
}

// produceDeadLetter produces a dead letter into the current transaction.
func (in *Ingester) produceDeadLetter(ctx context.Context, pub *publish.Publisher, d deadLetter) {
	v, err := json.Marshal(&d.log)
	if err != nil {
		v = []byte(fmt.Sprintf("%q", d.err.Error()))
	}
	key := []byte(strconv.FormatUint(in.r.chain.ID, 10) + ":" + strings.ToLower(d.log.TxHash.Hex()) + ":" + strconv.FormatUint(uint64(d.log.Index), 10))
	pub.DeadLetter(ctx, key, v, d.reason+": "+d.err.Error(), "application/json")
}
