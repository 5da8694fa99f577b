package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/liqstream/liqstream/services/ingest/rpc"
)

// HealthConfig bounds readiness (/readyz). YAML key "health".
type HealthConfig struct {
	// MaxHeadLagBlocks: the ingest is not ready while the next block to
	// ingest is more than this many blocks below the chain head. 0 (default)
	// takes twice the confirmation depth, at least MinHeadLagBlocks.
	MaxHeadLagBlocks int64 `yaml:"max_head_lag_blocks"`
}

// MinHeadLagBlocks is the smallest default head-lag bound: with very few
// confirmations the head moves more than 2 × confirmations between polls.
const MinHeadLagBlocks = 4

// Validate names the bad key.
func (h HealthConfig) Validate() error {
	if h.MaxHeadLagBlocks < 0 {
		return errf("health.max_head_lag_blocks: %d is negative (0 takes twice the confirmation depth)", h.MaxHeadLagBlocks)
	}
	return nil
}

// maxHeadLag is the effective head-lag bound for confirmations.
func (h HealthConfig) maxHeadLag(confirmations uint64) uint64 {
	if h.MaxHeadLagBlocks > 0 {
		return uint64(h.MaxHeadLagBlocks)
	}
	return max(2*confirmations, MinHeadLagBlocks)
}

// health is what Run shares with Ready and the head-lag gauges.
type health struct {
	mu          sync.Mutex
	rpc         *rpc.Client // set once connected
	txnTimeout  time.Duration
	started     bool      // topics, RPC and checkpoint are done: the loop runs
	head        uint64    // last head read
	headTime    uint64    // unix seconds of the latest block, 0: unknown
	headTimeOf  uint64    // the block headTime was read for
	doneTime    uint64    // unix seconds of the last ingested block, 0: unknown
	kafkaBusy   time.Time // a Kafka transaction is open since; zero: none
	lagBlocks   metric.Int64ObservableGauge
	lagSeconds  metric.Int64ObservableGauge
	lagLimit    metric.Int64ObservableGauge
	gaugesChain attribute.KeyValue
}

// initHealth registers the head-lag gauges, observed from Run's state on
// every scrape (so they move during a long backfill too).
func (in *Ingester) initHealth(meter metric.Meter) error {
	h := &in.hs
	h.gaugesChain = attribute.String("chain", in.r.chain.Slug)
	var err error
	if h.lagBlocks, err = meter.Int64ObservableGauge("ingest_head_lag_blocks", metric.WithUnit("{block}"),
		metric.WithDescription("blocks between the chain head and the next block to ingest")); err != nil {
		return err
	}
	if h.lagSeconds, err = meter.Int64ObservableGauge("ingest_head_lag_seconds", metric.WithUnit("s"),
		metric.WithDescription("seconds between the chain head's timestamp and the last ingested block's")); err != nil {
		return err
	}
	if h.lagLimit, err = meter.Int64ObservableGauge("ingest_head_lag_limit_blocks", metric.WithUnit("{block}"),
		metric.WithDescription("the readiness bound of ingest_head_lag_blocks (health.max_head_lag_blocks); alerts compare against it")); err != nil {
		return err
	}
	limit := int64(in.cfg.Health.maxHeadLag(in.r.confirmations))
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		cur := in.Progress().Current
		attrs := metric.WithAttributes(h.gaugesChain)
		o.ObserveInt64(h.lagLimit, limit, attrs)
		h.mu.Lock()
		defer h.mu.Unlock()
		if !h.started {
			return nil
		}
		o.ObserveInt64(h.lagBlocks, int64(lagOf(h.head, cur)), attrs)
		if h.headTime > 0 && h.doneTime > 0 {
			o.ObserveInt64(h.lagSeconds, int64(h.headTime)-int64(min(h.doneTime, h.headTime)), attrs)
		}
		return nil
	}, h.lagBlocks, h.lagSeconds, h.lagLimit)
	return err
}

// lagOf is head − next, or 0 when next is past the head.
func lagOf(head, next uint64) uint64 {
	if head > next {
		return head - next
	}
	return 0
}

// connected is called by Run once Kafka and the RPC pool answer and the
// checkpoint is read.
func (in *Ingester) connected(cl *rpc.Client, txnTimeout time.Duration) {
	in.hs.mu.Lock()
	in.hs.rpc, in.hs.txnTimeout, in.hs.started = cl, txnTimeout, true
	in.hs.mu.Unlock()
}

// noteHead records a head read and, when the head moved, the latest block's
// timestamp (one eth_getBlockByNumber "latest"), for the lag in seconds. A
// failure there only leaves the seconds gauge stale.
func (in *Ingester) noteHead(ctx context.Context, cl *rpc.Client, head uint64) {
	in.hs.mu.Lock()
	in.hs.head = head
	stale := in.hs.headTimeOf != head
	in.hs.mu.Unlock()
	if !stale {
		return
	}
	h, ok, err := cl.HeaderByTag(ctx, "latest")
	if err != nil || !ok {
		in.log.Debug("reading the latest header for the head lag in seconds", "err", err, "served", ok)
		return
	}
	in.hs.mu.Lock()
	in.hs.headTime, in.hs.headTimeOf = h.Time, head
	in.hs.mu.Unlock()
}

// noteIngested records the timestamp of the last ingested block (its header
// is in the client's cache: fetch read it).
func (in *Ingester) noteIngested(ctx context.Context, cl *rpc.Client, block uint64) {
	hs, err := cl.HeadersBatch(ctx, []uint64{block})
	if err != nil {
		in.log.Debug("reading the last ingested header for the head lag in seconds", "block", block, "err", err)
		return
	}
	in.hs.mu.Lock()
	in.hs.doneTime = hs[0].Time
	in.hs.mu.Unlock()
}

// kafkaBegin and kafkaDone bracket a Kafka transaction.
func (in *Ingester) kafkaBegin() {
	in.hs.mu.Lock()
	in.hs.kafkaBusy = in.now()
	in.hs.mu.Unlock()
}

func (in *Ingester) kafkaDone() {
	in.hs.mu.Lock()
	in.hs.kafkaBusy = time.Time{}
	in.hs.mu.Unlock()
}

// readyState is a snapshot of what readiness depends on.
type readyState struct {
	chain      string
	err        error // Run's error, if it stopped
	done       bool  // a backfill without follow finished
	started    bool
	rpcErr     error // rpc.Client.Health
	kafkaBusy  time.Duration
	txnTimeout time.Duration
	head, next uint64
	maxLag     uint64
}

// readiness applies the rules: ready means running, connected (the last RPC
// attempt answered, no Kafka transaction open longer than the transaction
// timeout) and caught up (head − next ≤ the bound).
func readiness(s readyState) error {
	switch {
	case s.err != nil:
		return fmt.Errorf("ingest of %s stopped: %v", s.chain, s.err)
	case s.done:
		return nil
	case !s.started:
		return fmt.Errorf("ingest of %s is starting: creating topics, connecting to the RPC endpoints and reading the checkpoint", s.chain)
	case s.rpcErr != nil:
		return s.rpcErr
	case s.kafkaBusy > s.txnTimeout:
		return fmt.Errorf("a Kafka transaction of %s has been open for %s, over the transaction timeout %s: check that kafka.brokers are reachable",
			s.chain, s.kafkaBusy.Round(time.Second), s.txnTimeout)
	}
	if lag := lagOf(s.head, s.next); lag > s.maxLag {
		return fmt.Errorf("ingest of %s is catching up: head lag %d blocks > %d (health.max_head_lag_blocks; next block %d, head %d)",
			s.chain, lag, s.maxLag, s.next, s.head)
	}
	return nil
}

// Ready reports whether the ingester is connected and caught up within the
// configured bounds (nil), or why not; see readiness. It is the /readyz check
// of cmd/ingest and does no I/O.
func (in *Ingester) Ready(context.Context) error {
	p := in.Progress()
	h := &in.hs
	h.mu.Lock()
	s := readyState{chain: in.r.chain.Slug, err: p.Err, done: p.Done, started: h.started, txnTimeout: h.txnTimeout,
		head: h.head, next: p.Current, maxLag: in.cfg.Health.maxHeadLag(in.r.confirmations)}
	if !h.kafkaBusy.IsZero() {
		s.kafkaBusy = in.now().Sub(h.kafkaBusy)
	}
	cl := h.rpc
	h.mu.Unlock()
	if cl != nil {
		s.rpcErr = cl.Health()
	}
	return readiness(s)
}

// countPublished adds a committed group's events to events_published by
// chain and the protocol of each event's market ("aave-v3", "spark", ...).
// A group without events adds 0 for the primary market, so the series
// exists from the first commit on.
func (in *Ingester) countPublished(ctx context.Context, chunks []*chunk) {
	byProtocol := map[string]int64{}
	for _, c := range chunks {
		for _, ev := range c.events {
			byProtocol[ev.GetProtocol()]++
		}
	}
	if len(byProtocol) == 0 {
		byProtocol[in.r.market.Protocol] = 0
	}
	for p, n := range byProtocol {
		in.published.Add(ctx, n, metric.WithAttributes(attribute.String("chain", in.r.chain.Slug), attribute.String("protocol", p)))
	}
}
