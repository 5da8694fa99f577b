package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/twmb/franz-go/pkg/kgo"
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
}

// pending is the open batch.
type pending struct {
	rows   []store.Row
	poison []*kgo.Record
	n      int // records polled into it
	start  time.Time
}

// New builds a consumer writing to st. It connects lazily; Run consumes.
func New(cfg Config, log *slog.Logger, meter metric.Meter, st *store.Store) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Consumer{cfg: cfg, log: log, store: st, lag: map[string]map[int32]int64{}}
	var err error
	if c.batchSize, err = meter.Int64Histogram("batch_size",
		metric.WithDescription("Records per flushed batch."), metric.WithUnit("{record}")); err != nil {
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
		kgo.SeedBrokers(cfg.Kafka.Brokers...),
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
	c.cl, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka client for %v: %w (check kafka.brokers)", cfg.Kafka.Brokers, err)
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
	var p pending
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if p.n > 0 {
			pollCtx, cancel = context.WithDeadline(ctx, p.start.Add(c.cfg.Batch.MaxWait))
		}
		fetches := c.cl.PollRecords(pollCtx, c.cfg.Batch.MaxRecords-p.n)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				c.log.Warn("fetch error; the client retries", "topic", topic, "partition", part, "err", err)
			}
		})
		c.observeLag(fetches)
		fetches.EachRecord(func(r *kgo.Record) {
			if p.n == 0 {
				p.start = time.Now()
			}
			c.add(&p, r)
		})
		if ctx.Err() != nil {
			return c.shutdown(&p)
		}
		if p.n > 0 && (p.n >= c.cfg.Batch.MaxRecords || time.Since(p.start) >= c.cfg.Batch.MaxWait) {
			if err := c.flush(ctx, &p); err != nil {
				if ctx.Err() != nil {
					return c.shutdown(&p)
				}
				return err
			}
		}
		if p.n == 0 {
			c.cl.AllowRebalance()
		}
	}
}

// shutdown flushes and commits the open batch within ShutdownTimeout.
func (c *Consumer) shutdown(p *pending) error {
	if p.n == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Batch.ShutdownTimeout)
	defer cancel()
	if err := c.flush(ctx, p); err != nil {
		return fmt.Errorf("flushing the last batch on shutdown (its records stay uncommitted and will be re-read): %w", err)
	}
	return nil
}

// add decodes one record into the open batch.
func (c *Consumer) add(p *pending, r *kgo.Record) {
	p.n++
	reason, detail := "", ""
	var ev liqstreamv1.LiquidationEvent
	switch schema := header(r, topics.HeaderSchema); {
	case len(r.Value) == 0:
		reason, detail = ReasonEmptyValue, "record has no value"
	case schema != "" && schema != topics.SchemaLiquidationEvent:
		reason, detail = ReasonUnknownSchema, fmt.Sprintf("header %s is %q, want %q", topics.HeaderSchema, schema, topics.SchemaLiquidationEvent)
	default:
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
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

// flush dead-letters the poison records, writes the rows and commits, each
// retried while retryable and ctx lasts. On success p is reset.
func (c *Consumer) flush(ctx context.Context, p *pending) error {
	if len(p.poison) > 0 {
		if err := c.retry(ctx, "producing to the dead-letter topic", func(ctx context.Context) error {
			// Fresh records per attempt: kgo keeps the context and state of
			// a produced record, so a record that failed once fails again.
			recs := make([]*kgo.Record, len(p.poison))
			for i, r := range p.poison {
				recs[i] = &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
			}
			return c.cl.ProduceSync(ctx, recs...).FirstErr()
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
		return c.store.WriteBatch(ctx, p.rows)
	}, store.IsRetryable); err != nil {
		return err
	}
	// Everything polled so far is in this batch, so the uncommitted offsets
	// are exactly the batch's. A failed commit is not fatal: the records are
	// re-read later and the store absorbs the replay.
	committed := false
	if err := c.cl.CommitUncommittedOffsets(ctx); err != nil {
		c.log.Warn("committing offsets failed; the batch will be re-read and rewritten idempotently", "err", err)
	} else {
		committed = true
	}
	c.batchSize.Record(ctx, int64(p.n))
	c.mu.Lock()
	c.stats.RecordsConsumed += uint64(p.n)
	c.stats.RowsWritten += uint64(len(p.rows))
	c.stats.DLQRecords += uint64(len(p.poison))
	c.stats.Batches++
	if committed {
		c.stats.LastCommit = time.Now()
	}
	c.mu.Unlock()
	c.log.Debug("flushed batch", "records", p.n, "rows", len(p.rows), "dlq", len(p.poison), "took", time.Since(p.start))
	*p = pending{}
	return nil
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
