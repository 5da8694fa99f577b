package alerter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// Config configures an Alerter. DefaultConfig fills everything but the
// webhook URL.
type Config struct {
	// Conn holds the Kafka seed brokers (brokers, host:port) and the TLS
	// (tls.*) and SASL (sasl.*) settings: see package kafkaconn.
	kafkaconn.Conn `yaml:",inline"`
	// Topic is the liquidations topic to read.
	Topic string `yaml:"topic"`
	// GroupID is the consumer group; its committed offsets say where a
	// restarted alerter resumes. A new group starts at the earliest offset.
	GroupID string `yaml:"group_id"`
	// ThresholdUSD is the smallest collateral USD value that alerts, a decimal
	// with at most 8 decimals ("1000000" or "250000.5").
	ThresholdUSD string `yaml:"threshold_usd"`
	// WebhookURL receives the alerts as JSON POSTs. It may carry a token and is
	// never logged in full.
	WebhookURL secret.URL `yaml:"webhook_url"`
	// WebhookTimeout bounds one POST attempt.
	WebhookTimeout time.Duration `yaml:"webhook_timeout"`
	// WebhookAttempts is how many times one alert is POSTed before Run gives
	// up and returns an error (without committing the record's offset).
	WebhookAttempts int `yaml:"webhook_attempts"`
	// RetryBackoff is the wait after the first failed attempt; it doubles
	// after every further failure, up to 30 s.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
}

// DefaultConfig returns the defaults: the v1 liquidations topic on
// 127.0.0.1:9092, group "liqstream-alerter", threshold $1,000,000, 10 s per
// attempt, 5 attempts starting 500 ms apart.
func DefaultConfig() Config {
	return Config{
		Conn:            kafkaconn.Conn{Brokers: []string{"127.0.0.1:9092"}},
		Topic:           topics.Liquidations,
		GroupID:         "liqstream-alerter",
		ThresholdUSD:    "1000000",
		WebhookTimeout:  10 * time.Second,
		WebhookAttempts: 5,
		RetryBackoff:    500 * time.Millisecond,
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid alerter config")

// Validate reports the first invalid setting, naming its key.
func (c Config) Validate() error {
	switch {
	case len(c.Brokers) == 0 || c.Brokers[0] == "":
		return fmt.Errorf("%w: brokers is empty: give at least one host:port", ErrConfig)
	case c.Conn.Validate("") != nil:
		return fmt.Errorf("%w: %w", ErrConfig, c.Conn.Validate(""))
	case c.Topic == "":
		return fmt.Errorf("%w: topic is empty: use %s", ErrConfig, topics.Liquidations)
	case c.GroupID == "":
		return fmt.Errorf("%w: group_id is empty: name the consumer group", ErrConfig)
	case c.WebhookTimeout <= 0:
		return fmt.Errorf("%w: webhook_timeout must be positive (e.g. 10s)", ErrConfig)
	case c.WebhookAttempts < 1:
		return fmt.Errorf("%w: webhook_attempts must be at least 1", ErrConfig)
	case c.RetryBackoff <= 0:
		return fmt.Errorf("%w: retry_backoff must be positive (e.g. 500ms)", ErrConfig)
	}
	if _, err := c.threshold(); err != nil {
		return err
	}
	u, err := url.Parse(c.WebhookURL.Reveal())
	if c.WebhookURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL is not echoed: it may hold a token.
		return fmt.Errorf("%w: webhook_url must be an http(s) URL with a host", ErrConfig)
	}
	return nil
}

func (c Config) threshold() (*big.Int, error) {
	v, err := usd.Parse(c.ThresholdUSD)
	if err != nil {
		return nil, fmt.Errorf("%w: threshold_usd: %w", ErrConfig, err)
	}
	if v.Sign() < 0 {
		return nil, fmt.Errorf("%w: threshold_usd %q is negative", ErrConfig, c.ThresholdUSD)
	}
	return v, nil
}

// Alerter consumes liquidation events and POSTs alerts. Its state is owned by
// the Run goroutine.
type Alerter struct {
	cfg       Config
	log       *slog.Logger
	threshold *big.Int
	client    *http.Client
	events    map[string]*eventState
}

// eventState is what the alerter remembers about one event id.
type eventState struct {
	// revision is the highest revision seen.
	revision uint64
	// alerted is true while a liquidation or update alert stands, i.e. one
	// was accepted and no retraction notice followed.
	alerted bool
}

// New validates cfg and returns an Alerter.
func New(cfg Config, log *slog.Logger) (*Alerter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	th, _ := cfg.threshold()
	return &Alerter{
		cfg:       cfg,
		log:       log,
		threshold: th,
		client:    &http.Client{Timeout: cfg.WebhookTimeout},
		events:    map[string]*eventState{},
	}, nil
}

// Run consumes until ctx is cancelled (then it returns nil after committing
// the record it finished, if any) or until an alert cannot be delivered or
// Kafka fails (then it returns the error; the failed record's offset is not
// committed).
func (a *Alerter) Run(ctx context.Context) error {
	dialer, err := Dialer(a.cfg.Conn)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	// The reader retries failed connections forever; a wrong password or CA
	// fails here, at once, with what to do.
	if err := CheckConn(ctx, a.cfg.Conn, dialer); err != nil {
		return err
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        a.cfg.Brokers,
		Dialer:         dialer,
		GroupID:        a.cfg.GroupID,
		Topic:          a.cfg.Topic,
		StartOffset:    kafka.FirstOffset,
		CommitInterval: 0, // synchronous: CommitMessages returns once the broker has the offset
		IsolationLevel: kafka.ReadCommitted,
		MaxWait:        500 * time.Millisecond,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			a.log.Warn("kafka reader", "msg", fmt.Sprintf(msg, args...))
		}),
	})
	defer func() {
		if err := r.Close(); err != nil {
			a.log.Warn("closing Kafka reader", "err", err)
		}
	}()
	a.log.Info("alerter started", "topic", a.cfg.Topic, "group", a.cfg.GroupID,
		"threshold_usd", usd.Format(a.threshold), "webhook", a.cfg.WebhookURL)
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if ce := a.cfg.Explain(err); ce != err {
				return fmt.Errorf("reading %s as group %s: %w", a.cfg.Topic, a.cfg.GroupID, ce)
			}
			return fmt.Errorf("reading %s as group %s from %v: %w (check the brokers and that the topic exists)",
				a.cfg.Topic, a.cfg.GroupID, a.cfg.Brokers, err)
		}
		if err := a.Handle(ctx, m.Headers, m.Value); err != nil {
			if ctx.Err() != nil {
				return nil // not committed: the record is handled again after a restart
			}
			return fmt.Errorf("handling %s partition %d offset %d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		// The alert (if any) was accepted: commit even if ctx was cancelled
		// meanwhile, within a bounded time, so a restart does not resend it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = r.CommitMessages(cctx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("committing %s partition %d offset %d for group %s: %w",
				m.Topic, m.Partition, m.Offset, a.cfg.GroupID, err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Handle processes one record's headers and value: it skips records of other
// schemas and records that do not decode (logging why), and POSTs the alert
// the event calls for, if any. It returns an error only when an alert could
// not be delivered; the caller must then not commit the record.
func (a *Alerter) Handle(ctx context.Context, headers []kafka.Header, value []byte) error {
	schema := ""
	for _, h := range headers {
		if h.Key == topics.HeaderSchema {
			schema = string(h.Value)
		}
	}
	if schema != topics.SchemaLiquidationEvent {
		a.log.Debug("skipping record of another schema", "schema", schema)
		return nil
	}
	var ev liqstreamv1.LiquidationEvent
	if err := proto.Unmarshal(value, &ev); err != nil {
		a.log.Warn("skipping undecodable LiquidationEvent", "err", err)
		return nil
	}
	id := ev.GetEventId()
	if id == "" {
		a.log.Warn("skipping LiquidationEvent without event_id", "tx_hash", ev.GetTxHash())
		return nil
	}
	st, known := a.events[id]
	if known && ev.GetRevision() <= st.revision {
		a.log.Debug("skipping duplicate or stale revision", "event_id", id,
			"revision", ev.GetRevision(), "highest", st.revision)
		return nil
	}
	if !known {
		st = &eventState{}
	}
	collateral, err := usd.Parse(ev.GetCollateralUsd())
	above := err == nil && collateral.Cmp(a.threshold) >= 0

	var kind string
	switch {
	case ev.GetStatus() == liqstreamv1.Status_STATUS_RETRACTED:
		// An unknown event may have been alerted by a previous process:
		// retractions keep the event's values, so the threshold decides.
		if st.alerted || (!known && above) {
			kind = KindRetraction
		}
	case above && st.alerted:
		kind = KindUpdate
	case above:
		kind = KindLiquidation
	}
	if kind != "" {
		if err := a.post(ctx, newAlert(kind, &ev, a.threshold)); err != nil {
			return err // state untouched: the redelivered record is handled afresh
		}
		st.alerted = kind != KindRetraction
	}
	st.revision = ev.GetRevision()
	a.events[id] = st
	return nil
}
