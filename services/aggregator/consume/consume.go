package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/proto"
)

// HeaderDLQDetail is topics.HeaderDLQDetail, kept for callers of this package.
const HeaderDLQDetail = topics.HeaderDLQDetail

// Reasons in topics.HeaderDLQReason and the dlq_records metric.
const (
	ReasonEmptyValue    = "empty_value"
	ReasonUnknownSchema = "unknown_schema"
	ReasonUndecodable   = "undecodable"
	ReasonInvalidEvent  = "invalid_event"
)

// Stats are the consumer's counters since New.
type Stats struct {
	// RecordsConsumed counts records polled from Kafka.
	RecordsConsumed uint64
	// RowsWritten counts rows ClickHouse acknowledged.
	RowsWritten uint64
	// DLQRecords counts records sent to the dead-letter topic.
	DLQRecords uint64
	// Batches counts flushed batches.
	Batches uint64
	// LastCommit is when offsets were last committed (zero before).
	LastCommit time.Time
	// FirstRecord is when the first record was polled (zero before).
	FirstRecord time.Time
}

// Consumer is one member of the aggregator's consumer group.
type Consumer struct {
	cfg   Config
	log   *slog.Logger
	cl    *kgo.Client
	store *store.Store

	mu    sync.Mutex
	stats Stats
	lag   map[string]map[int32]int64

	batchSize metric.Int64Histogram
	dlq       metric.Int64Counter
	tr        tracing // trace.go
}

// pending is the open batch: records polled but not yet inserted.
type pending struct {
	rows     []store.Row
	deficits []store.BadDebt
	poison   []*kgo.Record
	n        int        // records polled into it
	links    batchLinks // trace.go
}

// window is everything polled since the last commit: inserted batches whose
// rollups are not recomputed yet (in u) and the open batch. Its offsets are
// committed when it settles.
type window struct {
	u       store.Unsettled
	start   time.Time // first record of the window; zero when empty
	records int       // records inserted (or dead-lettered) in the window
	rows    int
	poison  int
	batches int
}

// New builds a consumer writing to st. It connects lazily; Run consumes.
func New(cfg Config, log *slog.Logger, meter metric.Meter, st *store.Store, options ...Option) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Consumer{cfg: cfg, log: log, store: st, lag: map[string]map[int32]int64{}}
	for _, o := range append([]Option{WithTracerProvider(nil)}, options...) {
		o(c)
	}
	var err error
	if c.batchSize, err = meter.Int64Histogram("batch_size",
		metric.WithDescription("Records per flushed batch."), metric.WithUnit("{record}"),
		metric.WithExplicitBucketBoundaries(1, 10, 100, 500, 1000, 2500, 5000, 10_000, 20_000, 50_000)); err != nil {
		return nil, fmt.Errorf("creating metric batch_size: %w", err)
	}
	if c.dlq, err = meter.Int64Counter("dlq_records",
		metric.WithDescription("Records sent to the dead-letter topic, by reason."), metric.WithUnit("{record}")); err != nil {
		return nil, fmt.Errorf("creating metric dlq_records: %w", err)
	}
	if _, err = meter.Int64ObservableGauge("consumer_lag_records",
		metric.WithDescription("High watermark minus next offset, summed over this member's partitions, as of the last fetch."),
		metric.WithUnit("{record}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(c.Lag())
			return nil
		})); err != nil {
		return nil, fmt.Errorf("creating metric consumer_lag_records: %w", err)
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(cfg.Kafka.Group),
		kgo.SessionTimeout(cfg.Kafka.SessionTimeout),
		kgo.ConsumeTopics(cfg.Kafka.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			log.Warn("partitions lost; their uncommitted records will be re-read by their new owner", "partitions", lost)
		}),
	}
	if cfg.Kafka.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.Kafka.InstanceID))
	}
	// Bounded buffering: the client holds at most one fetch of
	// kafka.fetch_max_bytes per broker, however long the backlog.
	opts = append(opts, cfg.Kafka.Limits.kgoOpts()...)
	c.cl, err = cfg.Kafka.Conn.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w (check the kafka section)", err)
	}
	return c, nil
}

// Stats returns a snapshot of the counters.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Lag returns the records behind the high watermarks as of the last fetch.
func (c *Consumer) Lag() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sum int64
	for _, ps := range c.lag {
		for _, l := range ps {
			sum += l
		}
	}
	return sum
}

// Run consumes until ctx is cancelled or a non-retryable store error; see
// the package documentation.
func (c *Consumer) Run(ctx context.Context) (err error) {
	defer func() {
		// The open batch is flushed or abandoned by now; a blocked
		// rebalance would make Close wait forever to leave the group.
		c.cl.AllowRebalance()
		c.cl.Close()
	}()
	c.log.Info("consuming", "topic", c.cfg.Kafka.Topic, "group", c.cfg.Kafka.Group, "instance_id", c.cfg.Kafka.InstanceID, "brokers", c.cfg.Kafka.Brokers,
		"max_records", c.cfg.Batch.MaxRecords, "max_wait", c.cfg.Batch.MaxWait)
	// The client would retry a refused password or an untrusted certificate
	// silently, forever: fail at once with what to do. Other failures (a
	// broker still starting) are left to its retries.
	checkCtx, cancelCheck := context.WithTimeout(ctx, 15*time.Second)
	cerr := c.cfg.Kafka.Conn.Check(checkCtx, c.cl)
	cancelCheck()
	if kafkaconn.IsPermanent(cerr) {
		return cerr
	} else if cerr != nil && ctx.Err() == nil {
		c.log.Warn("Kafka not reachable yet; the client keeps retrying", "err", cerr)
	}
	var (
		p    pending
		w    window
		fl   *inflight             // the window being settled, nil when none
		ins  = &inserting{}        // the batch being written (a finished zero value when none)
		span = c.cfg.Batch.MaxWait // how long a window stays open; see settleSpan
	)
	defer func() {
		// An error return leaves an insert or a settle running: stop them
		// (their window stays uncommitted and is re-read).
		_ = ins.wait(nil)
		if fl != nil {
			fl.cancel()
			<-fl.done
		}
	}()
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		switch {
		case fl != nil:
			// No window can settle before the one in flight is done:
			// wait for records or for it, however long it takes.
			pollCtx, cancel = context.WithCancel(ctx)
			go func(done <-chan struct{}, pollCtx context.Context, cancel context.CancelFunc) {
				select {
				case <-done:
					cancel()
				case <-pollCtx.Done():
				}
			}(fl.done, pollCtx, cancel)
		case !w.start.IsZero():
			// Until MaxWait the window waits for records; after it, a poll
			// that finds nothing within caughtUpWait means the backlog is
			// drained and the window settles without waiting for its span.
			deadline := w.start.Add(c.cfg.Batch.MaxWait)
			if now := time.Now(); !deadline.After(now) {
				deadline = now.Add(caughtUpWait)
				if end := w.start.Add(span); end.Before(deadline) {
					deadline = end
				}
			}
			pollCtx, cancel = context.WithDeadline(ctx, deadline)
		}
		fetches := c.cl.PollRecords(pollCtx, c.cfg.Batch.MaxRecords-p.n)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				c.log.Warn("fetch error; the client retries", "topic", topic, "partition", part, "err", c.cfg.Kafka.Conn.Explain(err))
			}
		})
		c.observeLag(fetches)
		// Room for the whole poll at once: appending row by row regrew the
		// batch's slice (and copied its rows) a dozen times per batch.
		p.rows = slices.Grow(p.rows, fetches.NumRecords())
		fetches.EachRecord(func(r *kgo.Record) {
			if w.start.IsZero() {
				w.start = time.Now()
				c.noteFirstRecord(w.start)
			}
			c.addTraced(&p, r)
		})
		if ctx.Err() != nil {
			return c.shutdown(&p, &w, ins, fl)
		}
		// An empty poll means the backlog is drained, unless it was cut
		// short by the settle in flight finishing.
		caughtUp := fetches.NumRecords() == 0 && fl == nil
		if fl != nil && fl.finished() {
			took, err := c.finish(ctx, fl)
			fl = nil
			if err != nil {
				if ctx.Err() != nil {
					return c.shutdown(&p, &w, ins, nil)
				}
				return err
			}
			span = c.settleSpan(took)
		}
		age := time.Since(w.start)
		drained := caughtUp || c.nearlyDrained(w.records+p.n)
		due := fl == nil && !w.start.IsZero() && (age >= span || (drained && age >= c.cfg.Batch.MaxWait))
		if p.n > 0 && (p.n >= c.cfg.Batch.MaxRecords || due) {
			// One batch is written while the next is polled and decoded.
			if err := ins.wait(&p); err != nil {
				if ctx.Err() != nil {
					return c.shutdown(&p, &w, ins, fl)
				}
				return err
			}
			ins = c.startInsert(ctx, &p, &w)
		}
		if due {
			if err := ins.wait(&p); err != nil {
				if ctx.Err() != nil {
					return c.shutdown(&p, &w, ins, fl)
				}
				return err
			}
			fl = c.startSettle(ctx, &w)
		}
		if w.start.IsZero() && fl == nil {
			c.cl.AllowRebalance()
		}
	}
}

// settleSpan returns how long the next window stays open, given how long
// the last settle took. With little traffic that is Batch.MaxWait; when
// recomputing the rollups takes long (a big table under backlog) the window
// grows to settleCostFactor times that, up to maxSettleSpan, so the rollups
// are not recomputed over and over for the same buckets while a backlog is
// inserted.
func (c *Consumer) settleSpan(lastSettle time.Duration) time.Duration {
	return max(c.cfg.Batch.MaxWait, min(settleCostFactor*lastSettle, maxSettleSpan))
}

// nearlyDrained reports whether the backlog left after the last poll (Lag)
// is below 1/tailFraction of the open window's records. Settling then,
// before the backlog is fully drained, leaves a last window that small: its
// recomputation is the one thing that runs after the last insert, so the
// end of a backlog waits for a short recomputation instead of one as long
// as the window's.
func (c *Consumer) nearlyDrained(windowRecords int) bool {
	return c.Lag()*tailFraction < int64(windowRecords)
}

// Tuning of the bounded consumer. They are not configuration: they bound
// the uncommitted window, and the defaults of Batch cover the rest (Limits
// bound memory).
const (
	settleCostFactor = 4
	maxSettleSpan    = 30 * time.Second
	caughtUpWait     = 50 * time.Millisecond
	tailFraction     = 3
)

// shutdown waits for the insert in flight (a failed batch goes back into
// p) and for the settle in flight (fl, may be nil) and commits it, then
// inserts the open batch and settles and commits the open window, all
// within ShutdownTimeout.
func (c *Consumer) shutdown(p *pending, w *window, ins *inserting, fl *inflight) error {
	_ = ins.wait(p)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Batch.ShutdownTimeout)
	defer cancel()
	const lost = "flushing the last batch on shutdown (its records stay uncommitted and will be re-read)"
	// The settles are detached from ctx: cancel them when it ends.
	wait := func(fl *inflight) error {
		select {
		case <-fl.done:
		case <-ctx.Done():
			fl.cancel()
		}
		_, err := c.finish(ctx, fl)
		return err
	}
	if fl != nil {
		if err := wait(fl); err != nil {
			return fmt.Errorf("%s: %w", lost, err)
		}
	}
	if p.n == 0 && w.start.IsZero() {
		return nil
	}
	if err := c.insert(ctx, p, w); err != nil {
		return fmt.Errorf("%s: %w", lost, err)
	}
	if err := wait(c.startSettle(ctx, w)); err != nil {
		return fmt.Errorf("%s: %w", lost, err)
	}
	return nil
}

// add decodes one record into the open batch.
func (c *Consumer) add(p *pending, r *kgo.Record) {
	p.n++
	reason, detail := "", ""
	var ev liqstreamv1.LiquidationEvent
	switch schema := header(r, topics.HeaderSchema); {
	case c.cfg.Kafka.tooLarge(r) != "":
		reason, detail = ReasonRecordTooLarge, c.cfg.Kafka.tooLarge(r)
	case len(r.Value) == 0:
		reason, detail = ReasonEmptyValue, "record has no value"
	case schema == topics.SchemaDeficitEvent:
		var d liqstreamv1.DeficitEvent
		if err := proto.Unmarshal(r.Value, &d); err != nil {
			reason, detail = ReasonUndecodable, err.Error()
			break
		}
		b, err := store.BadDebtFromEvent(&d, store.Coordinates{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
		if err != nil {
			reason, detail = ReasonInvalidEvent, err.Error()
			break
		}
		p.deficits = append(p.deficits, b)
		return
	case schema != "" && schema != topics.SchemaLiquidationEvent:
		reason, detail = ReasonUnknownSchema, fmt.Sprintf("header %s is %q, want %q or %q", topics.HeaderSchema, schema, topics.SchemaLiquidationEvent, topics.SchemaDeficitEvent)
	default:
		if err := decodeLiquidation(r.Value, &ev); err != nil {
			reason, detail = ReasonUndecodable, err.Error()
			break
		}
		row, err := store.NewRow(&ev, store.Coordinates{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
		if err != nil {
			reason, detail = ReasonInvalidEvent, err.Error()
			break
		}
		p.rows = append(p.rows, row)
		return
	}
	p.poison = append(p.poison, dlqRecord(c.cfg.Kafka.DLQTopic, r, reason, detail))
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func dlqRecord(topic string, r *kgo.Record, reason, detail string) *kgo.Record {
	hs := append([]kgo.RecordHeader(nil), r.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: topics.HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDLQDetail, Value: []byte(detail)},
		kgo.RecordHeader{Key: topics.HeaderDLQSource, Value: []byte(r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10))},
	)
	return &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: hs}
}

// inserting is a batch being written in the background while the next one
// is polled and decoded. Its zero value is a finished, successful insert.
type inserting struct {
	done   chan struct{} // closed when the insert returned; nil for the zero value
	err    error
	rows   []store.Row // the batch's row slice, emptied, for reuse
	failed *pending    // the batch, when the insert failed
}

// startInsert moves the open batch p into a background insert (see insert)
// and leaves p empty. The caller must wait for the insert before starting
// another one or settling w: inserts run one at a time, in order, so a
// batch's tombstone lookup sees every batch before it.
func (c *Consumer) startInsert(ctx context.Context, p *pending, w *window) *inserting {
	b := *p
	*p = pending{}
	in := &inserting{done: make(chan struct{})}
	go func() {
		defer close(in.done)
		if in.err = c.insert(ctx, &b, w); in.err == nil {
			in.rows = b.rows
		} else {
			in.failed = &b
		}
	}()
	return in
}

// wait waits for the insert and returns its error. A failed batch goes
// back in front of the open batch p (so that every record polled and not
// committed stays in the window: shutdown writes it, an error return leaves
// it uncommitted); otherwise an empty p gets the finished batch's row slice
// to fill. p may be nil.
func (in *inserting) wait(p *pending) error {
	if in.done == nil {
		return nil
	}
	<-in.done
	if p == nil {
		return in.err
	}
	if f := in.failed; f != nil {
		in.failed = nil
		f.rows = append(f.rows, p.rows...)
		f.deficits = append(f.deficits, p.deficits...)
		f.poison = append(f.poison, p.poison...)
		f.n += p.n
		f.links.rows.merge(p.links.rows)
		f.links.deficits.merge(p.links.deficits)
		*p = *f
	} else if p.n == 0 && p.rows == nil {
		p.rows, in.rows = in.rows, nil
	}
	return in.err
}

// insert dead-letters the open batch's poison records and inserts its rows
// into ClickHouse, each retried while retryable and ctx lasts; the rows'
// rollup buckets join the window. On success p is reset. Nothing is
// committed: see settle.
func (c *Consumer) insert(ctx context.Context, p *pending, w *window) error {
	if p.n == 0 {
		return nil
	}
	if len(p.poison) > 0 {
		if err := c.retry(ctx, "producing to the dead-letter topic", func(ctx context.Context) error {
			return c.produceDLQ(ctx, p.poison)
		}, func(error) bool { return true }); err != nil {
			return err
		}
		for _, r := range p.poison {
			reason := header(r, topics.HeaderDLQReason)
			c.dlq.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
			c.log.Warn("sent record to the dead-letter topic", "topic", c.cfg.Kafka.DLQTopic, "reason", reason,
				"source", header(r, topics.HeaderDLQSource), "detail", header(r, HeaderDLQDetail))
		}
	}
	if err := c.retry(ctx, "writing to ClickHouse", func(ctx context.Context) error {
		return c.store.Insert(p.links.rows.context(ctx), p.rows, &w.u)
	}, store.IsRetryable); err != nil {
		return err
	}
	// Bad-debt records are written and their buckets recomputed at once;
	// like the rows, they are acknowledged only when the window settles.
	if err := c.retry(ctx, "writing bad debt to ClickHouse", func(ctx context.Context) error {
		return c.store.WriteBadDebt(p.links.deficits.context(ctx), p.deficits)
	}, store.IsRetryable); err != nil {
		return err
	}
	c.batchSize.Record(ctx, int64(p.n))
	w.records += p.n
	w.rows += len(p.rows)
	w.poison += len(p.poison)
	w.batches++
	w.rows += len(p.deficits)
	*p = pending{rows: p.rows[:0]}
	clear(p.rows[:cap(p.rows)]) // drop the events for the collector
	return nil
}

// inflight is a window whose rollups are being recomputed while the
// consumer inserts the next one.
type inflight struct {
	w       window
	offsets map[string]map[int32]kgo.EpochOffset // the window's end, to commit
	cancel  context.CancelFunc
	done    chan struct{} // closed when the settle returned
	took    time.Duration
	buckets int
	err     error
}

func (f *inflight) finished() bool {
	select {
	case <-f.done:
		return true
	default:
	}
	return false
}

// startSettle closes the window w (its open batch must be inserted: every
// record polled so far is in it, so the uncommitted offsets are exactly the
// window's) and recomputes its rollups in the background. The consumer
// keeps polling and inserting the next window meanwhile; finish commits the
// window's offsets once the settle returned. The settle is not cancelled by
// ctx, only by the inflight's cancel (shutdown bounds it).
func (c *Consumer) startSettle(ctx context.Context, w *window) *inflight {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &inflight{w: *w, offsets: c.cl.UncommittedOffsets(), cancel: cancel, done: make(chan struct{}), buckets: w.u.Buckets()}
	*w = window{}
	go func() {
		defer close(f.done)
		defer cancel()
		if f.w.start.IsZero() {
			return
		}
		began := time.Now()
		f.err = c.retry(sctx, "recomputing rollups in ClickHouse", func(ctx context.Context) error {
			return c.store.Settle(ctx, &f.w.u)
		}, store.IsRetryable)
		f.took = time.Since(began)
	}()
	return f
}

// finish commits the offsets of a settled window f and counts it; it
// returns how long the recomputation took, or the settle's error (nothing
// is committed then). A failed commit is not fatal: the records are re-read
// later and the store absorbs the replay.
func (c *Consumer) finish(ctx context.Context, f *inflight) (time.Duration, error) {
	<-f.done
	if f.err != nil {
		return 0, f.err
	}
	w := &f.w
	if w.start.IsZero() {
		return 0, nil
	}
	committed := false
	if err := c.commit(ctx, f.offsets); err != nil {
		c.log.Warn("committing offsets failed; the batch will be re-read and rewritten idempotently", "err", err)
	} else {
		committed = true
	}
	c.mu.Lock()
	c.stats.RecordsConsumed += uint64(w.records)
	c.stats.RowsWritten += uint64(w.rows)
	c.stats.DLQRecords += uint64(w.poison)
	c.stats.Batches += uint64(w.batches)
	if committed {
		c.stats.LastCommit = time.Now()
	}
	c.mu.Unlock()
	c.log.Debug("settled window", "records", w.records, "rows", w.rows, "dlq", w.poison, "batches", w.batches,
		"buckets", f.buckets, "took", time.Since(w.start), "recompute", f.took)
	return f.took, nil
}

// commit commits offsets synchronously, returning the request's error or
// the first partition's.
func (c *Consumer) commit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	var cerr error
	c.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					cerr = fmt.Errorf("partition %s/%d: %w", t.Topic, p.Partition, err)
					return
				}
			}
		}
	})
	return cerr
}

// retry runs op until it succeeds, fails with an error retryable rejects, or
// ctx ends, backing off from 200ms to 10s.
func (c *Consumer) retry(ctx context.Context, what string, op func(context.Context) error, retryable func(error) bool) error {
	wait := 200 * time.Millisecond
	for {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		c.log.Warn("batch not flushed yet, retrying", "step", what, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, errors.Join(ctx.Err(), err))
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}

func (c *Consumer) noteFirstRecord(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stats.FirstRecord.IsZero() {
		c.stats.FirstRecord = t
	}
}

func (c *Consumer) observeLag(f kgo.Fetches) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		if c.lag[p.Topic] == nil {
			c.lag[p.Topic] = map[int32]int64{}
		}
		c.lag[p.Topic][p.Partition] = max(0, p.HighWatermark-p.Records[len(p.Records)-1].Offset-1)
	})
}
