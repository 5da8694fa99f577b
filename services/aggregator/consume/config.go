package consume

import (
	"errors"
	"fmt"
	"time"

	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("invalid consumer config")

// KafkaConfig says where to consume from. YAML key "kafka".
type KafkaConfig struct {
	// Conn holds the seed brokers (kafka.brokers, default 127.0.0.1:9092),
	// TLS (kafka.tls.*) and SASL (kafka.sasl.*): see package kafkaconn.
	kafkaconn.Conn `yaml:",inline"`
	// Group is the consumer group (default "liqstream-aggregator").
	Group string `yaml:"group"`
	// Topic to consume (default topics.Liquidations).
	Topic string `yaml:"topic"`
	// DLQTopic receives poison records (default topics.LiquidationsDLQ).
	DLQTopic string `yaml:"dlq_topic"`
	// InstanceID makes this member a static group member (KIP-345) when set:
	// a member restarted with the same id within SessionTimeout gets its
	// partitions back without a rebalance. Give every replica its own
	// stable id (e.g. the pod name). Empty (the default) is dynamic
	// membership.
	InstanceID string `yaml:"instance_id"`
	// SessionTimeout is how long the broker waits for a silent member (a
	// crashed process) before moving its partitions to the others; the
	// broker bounds it with group.min/max.session.timeout.ms (6s..30m by
	// default). Default 45s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Limits bound the records and fetches read: kafka.max_record_bytes,
	// kafka.fetch_max_bytes, kafka.fetch_max_partition_bytes,
	// kafka.broker_max_read_bytes (see Limits).
	Limits `yaml:",inline"`
}

// BatchConfig says when a batch is written. YAML key "batch".
type BatchConfig struct {
	// MaxRecords closes a batch (one INSERT) at this many records (default
	// 20000: ClickHouse inserts big blocks faster, and the consumer's memory
	// grows with the decoded rows it holds, up to two batches: one being
	// written while the next is decoded).
	MaxRecords int `yaml:"max_records"`
	// MaxWait closes a batch this long after its first record (default 250ms).
	MaxWait time.Duration `yaml:"max_wait"`
	// ShutdownTimeout bounds flushing and committing the last batch on
	// shutdown (default 30s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Config is the consumer's configuration.
type Config struct {
	Kafka KafkaConfig `yaml:"kafka"`
	Batch BatchConfig `yaml:"batch"`
}

// DefaultConfig returns the defaults documented on the fields.
func DefaultConfig() Config {
	return Config{
		Kafka: KafkaConfig{
			Conn:     kafkaconn.Conn{Brokers: []string{"127.0.0.1:9092"}},
			Group:    "liqstream-aggregator",
			Topic:    topics.Liquidations,
			DLQTopic: topics.LiquidationsDLQ,

			SessionTimeout: 45 * time.Second,
			Limits:         DefaultLimits(),
		},
		Batch: BatchConfig{MaxRecords: 20_000, MaxWait: 250 * time.Millisecond, ShutdownTimeout: 30 * time.Second},
	}
}

// Validate reports the first invalid setting, naming its YAML key.
func (c Config) Validate() error {
	switch {
	case len(c.Kafka.Brokers) == 0:
		return fmt.Errorf("%w: kafka.brokers is empty: give at least one host:port", ErrConfig)
	case c.Kafka.Group == "":
		return fmt.Errorf("%w: kafka.group is empty", ErrConfig)
	case c.Kafka.Topic == "":
		return fmt.Errorf("%w: kafka.topic is empty", ErrConfig)
	case c.Kafka.DLQTopic == "":
		return fmt.Errorf("%w: kafka.dlq_topic is empty", ErrConfig)
	case c.Kafka.DLQTopic == c.Kafka.Topic:
		return fmt.Errorf("%w: kafka.dlq_topic must differ from kafka.topic", ErrConfig)
	case c.Kafka.SessionTimeout < time.Second || c.Kafka.SessionTimeout > 30*time.Minute:
		return fmt.Errorf("%w: kafka.session_timeout %s must be within 1s..30m (the broker's default bounds are 6s..30m), e.g. 45s", ErrConfig, c.Kafka.SessionTimeout)
	case len(c.Kafka.InstanceID) > 249:
		return fmt.Errorf("%w: kafka.instance_id is %d bytes long, at most 249", ErrConfig, len(c.Kafka.InstanceID))
	case c.Batch.MaxRecords < 1 || c.Batch.MaxRecords > 1_000_000:
		return fmt.Errorf("%w: batch.max_records %d must be within 1..1000000", ErrConfig, c.Batch.MaxRecords)
	case c.Batch.MaxWait <= 0:
		return fmt.Errorf("%w: batch.max_wait must be positive, e.g. 250ms", ErrConfig)
	case c.Batch.ShutdownTimeout <= 0:
		return fmt.Errorf("%w: batch.shutdown_timeout must be positive, e.g. 30s", ErrConfig)
	}
	if err := c.Kafka.Limits.Validate(); err != nil {
		return err
	}
	if err := c.Kafka.Conn.Validate("kafka"); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}
