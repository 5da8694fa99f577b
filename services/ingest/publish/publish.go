package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// ErrNotAcked is returned (wrapped) by Flush and Commit when a record was not
// acknowledged by the brokers.
var ErrNotAcked = errors.New("record not acknowledged by Kafka")

// Config configures a Publisher.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string `yaml:"brokers"`
	// TopicPrefix is prepended to every topic name. Empty in production;
	// tests set it to get topics of their own on a shared broker.
	TopicPrefix string `yaml:"topic_prefix"`
	// Replication is the replication factor of created topics (-1: broker
	// default).
	Replication int16 `yaml:"replication"`
	// ClientID names the producer in broker logs (default "liqstream-ingest").
	ClientID string `yaml:"client_id"`
}

// Validate names the first bad key.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("kafka.brokers: at least one broker is required")
	}
	for _, b := range c.Brokers {
		if b == "" {
			return fmt.Errorf("kafka.brokers: empty broker address")
		}
	}
	return nil
}

// Topics are the names a Publisher writes to.
type Topics struct{ Liquidations, DLQ, Checkpoints string }

// Checkpoint is the last block whose events are all in Kafka.
type Checkpoint struct {
	Block uint64 `json:"block"`
	Hash  string `json:"hash"`
}

// Publisher produces events, dead letters and checkpoints.
type Publisher struct {
	cfg    Config
	log    *slog.Logger
	cl     *kgo.Client
	topics Topics

	mu  sync.Mutex
	err error // first produce error since the last Flush
}

// New creates the producer client; it does not contact the brokers yet.
func New(cfg Config, log *slog.Logger) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "liqstream-ingest"
	}
	if cfg.Replication == 0 {
		cfg.Replication = -1
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is on by default and needs acks=all
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
	)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka producer for %v: %w", cfg.Brokers, err)
	}
	p := cfg.TopicPrefix
	return &Publisher{cfg: cfg, log: log, cl: cl, topics: Topics{
		Liquidations: p + topics.Liquidations, DLQ: p + topics.LiquidationsDLQ, Checkpoints: p + topics.IngestCheckpoints,
	}}, nil
}

// Topics returns the topic names in use.
func (p *Publisher) Topics() Topics { return p.topics }

// Close closes the client without flushing.
func (p *Publisher) Close() { p.cl.Close() }

// EnsureTopics creates the topics if missing (lib/topics.Ensure, or the same
// specs under the prefix).
func (p *Publisher) EnsureTopics(ctx context.Context) error {
	adm := kadm.NewClient(p.cl)
	if p.cfg.TopicPrefix == "" {
		return topics.Ensure(ctx, adm, p.cfg.Replication)
	}
	for _, s := range topics.Specs() {
		resp, err := adm.CreateTopic(ctx, s.Partitions, p.cfg.Replication, s.Configs, p.cfg.TopicPrefix+s.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", p.cfg.TopicPrefix+s.Name, err)
		}
	}
	return nil
}

func (p *Publisher) promise(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	if p.err == nil {
		p.err = fmt.Errorf("%w: topic %s partition %d: %w", ErrNotAcked, r.Topic, r.Partition, err)
	}
	p.mu.Unlock()
}

var eventHeaders = []kgo.RecordHeader{
	{Key: topics.HeaderSchema, Value: []byte(topics.SchemaLiquidationEvent)},
	{Key: topics.HeaderContentType, Value: []byte("application/x-protobuf")},
}

// Publish marshals ev and produces it asynchronously. It blocks only when the
// producer buffer is full. Errors surface on the next Flush or Commit.
func (p *Publisher) Publish(ctx context.Context, ev *liqstreamv1.LiquidationEvent) error {
	b, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("marshaling event %s: %w", ev.GetEventId(), err)
	}
	p.cl.Produce(ctx, &kgo.Record{
		Topic: p.topics.Liquidations, Key: topics.Key(ev.GetChainId(), ev.GetBorrower()), Value: b, Headers: eventHeaders,
	}, p.promise)
	return nil
}

// DeadLetter produces value to the dead-letter topic with the reason header.
func (p *Publisher) DeadLetter(ctx context.Context, key, value []byte, reason, contentType string) {
	p.cl.Produce(ctx, &kgo.Record{Topic: p.topics.DLQ, Key: key, Value: value, Headers: []kgo.RecordHeader{
		{Key: topics.HeaderDLQReason, Value: []byte(reason)},
		{Key: topics.HeaderContentType, Value: []byte(contentType)},
	}}, p.promise)
}

// Flush waits for every buffered record and returns the first produce error
// since the previous Flush.
func (p *Publisher) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing producer: %w", err)
	}
	p.mu.Lock()
	err := p.err
	p.err = nil
	p.mu.Unlock()
	return err
}

// Commit flushes and, when every record was acknowledged, writes the chain's
// checkpoint synchronously.
func (p *Publisher) Commit(ctx context.Context, chainID uint64, cp Checkpoint) error {
	if err := p.Flush(ctx); err != nil {
		return fmt.Errorf("not checkpointing chain %d at block %d: %w", chainID, cp.Block, err)
	}
	v, _ := json.Marshal(cp)
	r := &kgo.Record{Topic: p.topics.Checkpoints, Key: []byte(strconv.FormatUint(chainID, 10)), Value: v}
	if err := p.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("writing checkpoint of chain %d at block %d: %w", chainID, cp.Block, err)
	}
	return nil
}

// LastCheckpoint returns the latest checkpoint of chainID, reading the topic
// from the start up to the high watermark seen at call time.
func (p *Publisher) LastCheckpoint(ctx context.Context, chainID uint64) (Checkpoint, bool, error) {
	adm := kadm.NewClient(p.cl)
	// A topic created a moment ago may not be in every broker's metadata
	// yet: retry UNKNOWN_TOPIC_OR_PARTITION for a bounded time.
	var ends kadm.ListedOffsets
	for attempt := 0; ; attempt++ {
		var err error
		ends, err = adm.ListEndOffsets(ctx, p.topics.Checkpoints)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			break
		}
		if !errors.Is(err, kerr.UnknownTopicOrPartition) || attempt >= 50 {
			return Checkpoint{}, false, fmt.Errorf("listing end offsets of %s: %w", p.topics.Checkpoints, err)
		}
		select {
		case <-ctx.Done():
			return Checkpoint{}, false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	want := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			parts[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return Checkpoint{}, false, nil
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(p.cfg.Brokers...), kgo.ClientID(p.cfg.ClientID+"-checkpoints"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.topics.Checkpoints: parts}))
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("creating checkpoint reader: %w", err)
	}
	defer cons.Close()
	key := strconv.FormatUint(chainID, 10)
	var last Checkpoint
	found := false
	for len(want) > 0 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return Checkpoint{}, false, fmt.Errorf("reading %s: %w", p.topics.Checkpoints, err)
		}
		var ferr error
		fs.EachError(func(t string, part int32, err error) { ferr = fmt.Errorf("reading %s/%d: %w", t, part, err) })
		if ferr != nil {
			return Checkpoint{}, false, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == key && r.Value != nil {
				var cp Checkpoint
				if err := json.Unmarshal(r.Value, &cp); err == nil {
					last, found = cp, true
				} else if p.log != nil {
					p.log.Warn("ignoring malformed checkpoint", "topic", r.Topic, "offset", r.Offset, "err", err)
				}
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return last, found, nil
}
