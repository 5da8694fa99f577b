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
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// Defaults of the Config fields left zero.
const (
	DefaultClientID           = "liqstream-ingest"
	DefaultTransactionalID    = "liqstream-ingest-"
	DefaultTransactionTimeout = 30 * time.Second
	// MaxTransactionTimeout is the broker's default
	// transaction.max.timeout.ms; a longer timeout is refused at init.
	MaxTransactionTimeout = 15 * time.Minute
)

// Attempts is how many times Transact runs a transaction that was aborted by
// a retryable failure before giving up.
const Attempts = 5

var (
	// ErrNotAcked is wrapped when a record was not acknowledged by the
	// brokers.
	ErrNotAcked = errors.New("record not acknowledged by Kafka")
	// ErrAborted is wrapped by a TxnError whose transaction was aborted:
	// none of its records is visible to read_committed consumers, and the
	// range can be published again (IsRetryable).
	ErrAborted = errors.New("Kafka transaction aborted")
	// ErrFenced is wrapped by a TxnError when a newer producer with the same
	// transactional id took over: this process is a zombie and must stop.
	ErrFenced = errors.New("transactional producer fenced by a newer ingest process with the same transactional id")
	// ErrTxnFailed is wrapped by a TxnError when the producer cannot begin,
	// initialise or abort a transaction for another reason: restarting the
	// process recovers (the next incarnation aborts what was left open).
	ErrTxnFailed = errors.New("Kafka transaction failed")
)

// TxnError is a failed transaction of one chain's publisher. Kind is
// ErrAborted, ErrFenced or ErrTxnFailed; errors.Is sees both Kind and the
// cause.
type TxnError struct {
	ChainID         uint64
	TransactionalID string
	// Block is the checkpoint the transaction would have written.
	Block uint64
	Kind  error
	Err   error
}

func (e *TxnError) Error() string {
	var what string
	switch {
	case errors.Is(e.Kind, ErrFenced):
		what = "stop this process: another one with the same transactional id (kafka.topic_prefix + kafka.transactional_id + chain id) " +
			"is ingesting this chain"
	case errors.Is(e.Kind, ErrAborted):
		what = "none of the range's records is visible to read_committed consumers; the range can be published again"
	default:
		what = "restart the process: its next incarnation aborts whatever this one left open"
	}
	return fmt.Sprintf("chain %d, transaction %q up to block %d: %v: %v (%s)", e.ChainID, e.TransactionalID, e.Block, e.Kind, e.Err, what)
}

// Unwrap returns the kind and the cause.
func (e *TxnError) Unwrap() []error { return []error{e.Kind, e.Err} }

// IsRetryable reports whether err is an aborted transaction whose range may be
// published again by the same Publisher.
func IsRetryable(err error) bool { return errors.Is(err, ErrAborted) && !errors.Is(err, ErrFenced) }

// Config configures a Publisher.
type Config struct {
	// Conn holds the seed brokers (kafka.brokers), TLS (kafka.tls.*) and
	// SASL (kafka.sasl.*): see package kafkaconn.
	kafkaconn.Conn `yaml:",inline"`
	// TopicPrefix is prepended to every topic name and to the transactional
	// id. Empty in production; tests set it to get topics of their own on a
	// shared broker.
	TopicPrefix string `yaml:"topic_prefix"`
	// Replication is the replication factor of created topics (-1: broker
	// default).
	Replication int16 `yaml:"replication"`
	// ClientID names the producer in broker logs (default "liqstream-ingest").
	ClientID string `yaml:"client_id"`
	// TransactionalID is the prefix of the producer's transactional id,
	// which is topic_prefix + transactional_id + chain id (default
	// "liqstream-ingest-", so "liqstream-ingest-137"). Two processes with
	// the same id fence each other: the one that started last wins.
	TransactionalID string `yaml:"transactional_id"`
	// TransactionTimeout is how long the broker lets a transaction stay open
	// before aborting it (default 30s, at most 15m). A transaction spans only
	// producing and committing one range group, not its RPC fetches. After a
	// crash without restart, read_committed consumers wait up to this long.
	TransactionTimeout time.Duration `yaml:"transaction_timeout"`
	// Limits bound the records produced: kafka.batch_max_bytes (see
	// Limits).
	Limits `yaml:",inline"`
}

// Validate names the first bad key.
func (c Config) Validate() error {
	if err := c.Conn.Validate("kafka"); err != nil {
		return err
	}
	if c.TransactionTimeout < 0 || (c.TransactionTimeout > 0 && c.TransactionTimeout < time.Second) || c.TransactionTimeout > MaxTransactionTimeout {
		return fmt.Errorf("kafka.transaction_timeout: %s is outside [1s, %s] (0 takes the default %s)", c.TransactionTimeout, MaxTransactionTimeout, DefaultTransactionTimeout)
	}
	return c.Limits.validate()
}

func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Replication == 0 {
		c.Replication = -1
	}
	if c.TransactionalID == "" {
		c.TransactionalID = DefaultTransactionalID
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = DefaultTransactionTimeout
	}
	c.Limits = c.Limits.withDefaults()
	return c
}

// TransactionalIDFor returns the transactional id of chainID's publisher.
func (c Config) TransactionalIDFor(chainID uint64) string {
	c = c.withDefaults()
	return c.TopicPrefix + c.TransactionalID + strconv.FormatUint(chainID, 10)
}

// Topics are the names a Publisher writes to.
type Topics struct{ Liquidations, DLQ, Checkpoints string }

func topicsOf(prefix string) Topics {
	return Topics{Liquidations: prefix + topics.Liquidations, DLQ: prefix + topics.LiquidationsDLQ, Checkpoints: prefix + topics.IngestCheckpoints}
}

// Checkpoint is the last block whose events are all in Kafka.
type Checkpoint struct {
	Block uint64 `json:"block"`
	Hash  string `json:"hash"`
}

// Publisher produces one chain's events, dead letters and checkpoints in
// Kafka transactions.
type Publisher struct {
	cfg     Config
	log     *slog.Logger
	cl      *kgo.Client
	topics  Topics
	chainID uint64
	txnID   string

	mu  sync.Mutex
	err error // first produce error of the current transaction

	tracer trace.Tracer // trace.go
	traced bool
}

// New creates the transactional producer of chainID; it does not contact the
// brokers yet. log may be nil.
func New(cfg Config, log *slog.Logger, chainID uint64, opts ...Option) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	txnID := cfg.TransactionalIDFor(chainID)
	cl, err := cfg.Conn.NewClient(
		kgo.ClientID(cfg.ClientID),
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(cfg.TransactionTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()), // transactions need idempotence, which needs acks=all
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(5*time.Millisecond),
		// snappy (franz-go's default) costs the least CPU per byte of the
		// codecs every Kafka client reads: lz4 took 5% of ingest's CPU at
		// 50k events/s for a similar ratio on these hex-heavy records.
		kgo.ProducerBatchCompression(kgo.SnappyCompression(), kgo.NoCompression()),
		cfg.Limits.opt(),
	)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka producer: %w", err)
	}
	p := &Publisher{cfg: cfg, log: log, cl: cl, topics: topicsOf(cfg.TopicPrefix), chainID: chainID, txnID: txnID}
	for _, o := range append([]Option{WithTracerProvider(nil)}, opts...) {
		o(p)
	}
	return p, nil
}

// Topics returns the topic names in use.
func (p *Publisher) Topics() Topics { return p.topics }

// TransactionalID returns the producer's transactional id.
func (p *Publisher) TransactionalID() string { return p.txnID }

// TransactionTimeout returns the configured (or default) transaction timeout.
func (p *Publisher) TransactionTimeout() time.Duration { return p.cfg.TransactionTimeout }

// Close closes the client without flushing. A transaction still open is
// aborted by the broker after the transaction timeout, or at once when the
// next incarnation starts (LastCheckpoint).
func (p *Publisher) Close() { p.cl.Close() }

// EnsureTopics creates the topics if missing (lib/topics.Ensure, or the same
// specs under the prefix).
func (p *Publisher) EnsureTopics(ctx context.Context) error {
	adm := kadm.NewClient(p.cl)
	if p.cfg.TopicPrefix == "" {
		return p.cfg.Explain(topics.Ensure(ctx, adm, p.cfg.Replication))
	}
	for _, s := range topics.Specs() {
		resp, err := adm.CreateTopic(ctx, s.Partitions, p.cfg.Replication, s.Configs, p.cfg.TopicPrefix+s.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", p.cfg.TopicPrefix+s.Name, p.cfg.Explain(err))
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

// Publish marshals ev and produces it asynchronously into the current
// transaction; call it only from Transact's fill. It blocks only when the
// producer buffer is full. Produce errors abort the transaction.
func (p *Publisher) Publish(ctx context.Context, ev *liqstreamv1.LiquidationEvent) error {
	b, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("marshaling event %s: %w", ev.GetEventId(), err)
	}
	r := &kgo.Record{Topic: p.topics.Liquidations, Key: topics.Key(ev.GetChainId(), ev.GetBorrower()), Value: b, Headers: eventHeaders}
	if err := p.checkSize(r, "event", ev.GetEventId()); err != nil {
		return err
	}
	p.produce(ctx, r, topics.SchemaLiquidationEvent, ev.GetEventId())
	return nil
}

var deficitHeaders = []kgo.RecordHeader{
	{Key: topics.HeaderSchema, Value: []byte(topics.SchemaDeficitEvent)},
	{Key: topics.HeaderContentType, Value: []byte("application/x-protobuf")},
}

// PublishDeficit produces a bad-debt record to the liquidations topic with
// the DeficitEvent schema header and the borrower's key, like Publish.
func (p *Publisher) PublishDeficit(ctx context.Context, ev *liqstreamv1.DeficitEvent) error {
	b, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("marshaling deficit %s: %w", ev.GetEventId(), err)
	}
	r := &kgo.Record{Topic: p.topics.Liquidations, Key: topics.Key(ev.GetChainId(), ev.GetBorrower()), Value: b, Headers: deficitHeaders}
	if err := p.checkSize(r, "deficit", ev.GetEventId()); err != nil {
		return err
	}
	p.produce(ctx, r, topics.SchemaDeficitEvent, ev.GetEventId())
	return nil
}

// DeadLetter produces value to the dead-letter topic with the reason header,
// into the current transaction; call it only from Transact's fill.
func (p *Publisher) DeadLetter(ctx context.Context, key, value []byte, reason, contentType string) {
	p.produce(ctx, p.fitDeadLetter(&kgo.Record{Topic: p.topics.DLQ, Key: key, Value: value, Headers: []kgo.RecordHeader{
		{Key: topics.HeaderDLQReason, Value: []byte(reason)},
		{Key: topics.HeaderContentType, Value: []byte(contentType)},
	}}), "dead_letter", "")
}

// flush waits for every buffered record and returns the first produce error
// of the transaction.
func (p *Publisher) flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing producer: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Transact publishes one range group exactly once: it begins a transaction,
// calls fill (which produces the group's records with Publish and
// DeadLetter, using the context it is given), adds the chain's checkpoint cp,
// flushes and commits. The records and the checkpoint become visible to
// read_committed consumers together, or not at all.
//
// On a failure the transaction is aborted and, when the failure is
// retryable, run again from fill, up to Attempts times with backoff; fill
// must therefore produce the same records each time. When a commit's outcome
// is unknown (the broker did not answer EndTxn), the committed checkpoint is
// read back before a retry: if it already is cp, the group is not published
// again.
//
// Each attempt runs under its own deadline of the transaction timeout,
// detached from ctx, so a cancel never leaves a transaction half done; ctx
// only stops the retries. Errors are *TxnError (ErrFenced: stop the process)
// or a fill error.
func (p *Publisher) Transact(ctx context.Context, cp Checkpoint, fill func(ctx context.Context) error) error {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := p.transactOnce(ctx, cp, fill)
		if err == nil || !IsRetryable(err) || attempt >= Attempts {
			return err
		}
		p.log.Warn("transaction aborted; publishing the range again", "transactional_id", p.txnID, "block", cp.Block,
			"attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (p *Publisher) txnErr(cp Checkpoint, kind, err error) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		kind = ErrFenced
	}
	return &TxnError{ChainID: p.chainID, TransactionalID: p.txnID, Block: cp.Block, Kind: kind, Err: err}
}

func (p *Publisher) transactOnce(ctx context.Context, cp Checkpoint, fill func(ctx context.Context) error) error {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.TransactionTimeout)
	defer cancel()
	p.mu.Lock()
	p.err = nil
	p.mu.Unlock()
	if err := p.cl.BeginTransaction(); err != nil {
		// The producer is in a fatal state (fenced, or its id could not
		// be recovered): nothing was produced, and retrying is pointless.
		return p.txnErr(cp, ErrTxnFailed, fmt.Errorf("beginning: %w", err))
	}
	if err := fill(tctx); err != nil {
		if aerr := p.abort(tctx); aerr != nil {
			return errors.Join(err, p.txnErr(cp, ErrTxnFailed, aerr))
		}
		return err
	}
	v, _ := json.Marshal(cp)
	p.cl.Produce(tctx, &kgo.Record{Topic: p.topics.Checkpoints, Key: []byte(strconv.FormatUint(p.chainID, 10)), Value: v}, p.promise)
	if err := p.flush(tctx); err != nil {
		if aerr := p.abort(tctx); aerr != nil {
			return p.txnErr(cp, ErrTxnFailed, fmt.Errorf("%w; %w", err, aerr))
		}
		return p.txnErr(cp, ErrAborted, err)
	}
	cerr := p.cl.EndTransaction(tctx, kgo.TryCommit)
	if cerr == nil {
		return nil
	}
	if aerr := p.abort(tctx); aerr != nil {
		return p.txnErr(cp, ErrTxnFailed, fmt.Errorf("committing: %w; %w", cerr, aerr))
	}
	// The commit may have reached the coordinator before the error: then
	// it stands (aborting re-initialises the producer id, which waits for
	// a commit in progress instead of undoing it). Read it back so the
	// group is not published a second time.
	if got, ok, rerr := ReadCheckpoint(tctx, p.cfg, p.chainID, p.log); rerr == nil && ok && got == cp {
		p.log.Warn("commit reported an error but the checkpoint is committed; not publishing the range again",
			"transactional_id", p.txnID, "block", cp.Block, "err", cerr)
		return nil
	}
	return p.txnErr(cp, ErrAborted, fmt.Errorf("committing: %w", cerr))
}

// abort drops the buffered records and aborts the open transaction, retrying
// the documented retryable outcomes as franz-go's GroupTransactSession does.
func (p *Publisher) abort(ctx context.Context) error {
	if err := p.cl.AbortBufferedRecords(ctx); err != nil {
		return fmt.Errorf("dropping buffered records: %w", err)
	}
	var err error
	for range 10 {
		err = p.cl.EndTransaction(ctx, kgo.TryAbort)
		if err == nil || !(errors.Is(err, kerr.OperationNotAttempted) || errors.Is(err, kerr.TransactionAbortable) ||
			errors.Is(err, kerr.UnknownServerError)) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("aborting transaction: %w", err)
	}
	return nil
}

// LastCheckpoint takes over the chain's transactional id and returns the
// latest committed checkpoint. Taking over (InitProducerID) bumps the
// producer epoch: a transaction the previous incarnation left open is
// aborted before it returns, and that incarnation, if still alive, is fenced
// (its next write fails with ErrFenced). Call it once, before the first
// Transact. ok is false when the chain has no checkpoint.
func (p *Publisher) LastCheckpoint(ctx context.Context) (Checkpoint, bool, error) {
	if _, _, err := p.cl.ProducerID(ctx); err != nil {
		return Checkpoint{}, false, p.txnErr(Checkpoint{}, ErrTxnFailed, fmt.Errorf("initialising the producer id: %w", p.cfg.Explain(err)))
	}
	return ReadCheckpoint(ctx, p.cfg, p.chainID, p.log)
}

// ReadCheckpoint returns the latest checkpoint of chainID committed to the
// checkpoints topic of cfg, reading it read_committed from the start to the
// high watermark seen when called. It waits for transactions open at that
// moment (of any chain) to end, at most twice the transaction timeout.
// Unlike LastCheckpoint it fences nothing, so tools and tests may call it
// while ingest runs. log may be nil.
func ReadCheckpoint(ctx context.Context, cfg Config, chainID uint64, log *slog.Logger) (Checkpoint, bool, error) {
	cfg = cfg.withDefaults()
	topic := topicsOf(cfg.TopicPrefix).Checkpoints
	wait := 2*cfg.TransactionTimeout + 10*time.Second
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	adm, err := cfg.Conn.NewClient(kgo.ClientID(cfg.ClientID + "-checkpoints"))
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("creating checkpoint reader: %w", err)
	}
	defer adm.Close()
	ends, err := endOffsets(ctx, kadm.NewClient(adm), topic)
	if err != nil {
		return Checkpoint{}, false, cfg.Explain(err)
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
	// read_committed skips aborted records and stops at the last stable
	// offset; control records are kept because they are the only records
	// at some offsets (a commit or abort marker may be the last one below
	// the high watermark), and the loop ends on offsets.
	cons, err := cfg.Conn.NewClient(kgo.ClientID(cfg.ClientID+"-checkpoints"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
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
			return Checkpoint{}, false, fmt.Errorf("reading %s read_committed up to offsets %v within %s (a transaction on it stays open; "+
				"a crashed ingest process's transaction is aborted after kafka.transaction_timeout or when it restarts): %w", topic, want, wait, err)
		}
		var ferr error
		fs.EachError(func(t string, part int32, err error) {
			ferr = fmt.Errorf("reading %s/%d: %w", t, part, cfg.Explain(err))
		})
		if ferr != nil {
			return Checkpoint{}, false, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() && string(r.Key) == key && r.Value != nil {
				var cp Checkpoint
				if err := json.Unmarshal(r.Value, &cp); err == nil {
					last, found = cp, true
				} else if log != nil {
					log.Warn("ignoring malformed checkpoint", "topic", r.Topic, "offset", r.Offset, "err", err)
				}
			}
			// Offsets below end that are never returned are aborted
			// records; their abort marker follows them and is returned.
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return last, found, nil
}

// endOffsets lists the high watermarks of topic. A topic created a moment
// ago may not be in every broker's metadata yet: UNKNOWN_TOPIC_OR_PARTITION
// is retried for a bounded time.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (kadm.ListedOffsets, error) {
	for attempt := 0; ; attempt++ {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			return ends, nil
		}
		if !errors.Is(err, kerr.UnknownTopicOrPartition) || attempt >= 50 {
			return nil, fmt.Errorf("listing end offsets of %s: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
