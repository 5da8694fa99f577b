package consume

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReasonRecordTooLarge is the dead-letter reason of a record over
// kafka.max_record_bytes.
const ReasonRecordTooLarge = "record_too_large"

// HeaderDLQValueOmitted is topics.HeaderDLQValueOmitted: set on a
// dead-letter copy whose value could not be produced (over the producer's or
// the broker's size limit).
const HeaderDLQValueOmitted = topics.HeaderDLQValueOmitted

// Defaults of Limits.
const (
	// DefaultMaxRecordBytes is 1 MiB, the broker's default
	// message.max.bytes: a liquidation event is well under 2 KiB, so a
	// larger record is not one of ours.
	DefaultMaxRecordBytes = 1 << 20
	// DefaultFetchMaxBytes, DefaultFetchMaxPartitionBytes and
	// DefaultBrokerMaxReadBytes bound the client's buffering: at most one
	// fetch of 16 MiB per broker, 1 MiB per partition, whatever the backlog.
	// A fetch therefore carries up to 16 partitions side by side, so a
	// backlog is consumed evenly across them: a broker that fills a fetch
	// partition by partition (kfake does) would otherwise let some
	// partitions run days of block time ahead of others, and every window
	// would touch, and recompute, the rollup buckets of both.
	DefaultFetchMaxBytes          = 16 << 20
	DefaultFetchMaxPartitionBytes = 1 << 20
	DefaultBrokerMaxReadBytes     = 2 * DefaultFetchMaxBytes
	maxLimitBytes                 = 1 << 30
)

// Limits bound what the consumer reads from Kafka. They are inlined in
// KafkaConfig, so their keys are kafka.max_record_bytes and so on. Every
// field must be positive; DefaultConfig sets the defaults.
type Limits struct {
	// MaxRecordBytes is the largest record (key, value and headers) that is
	// decoded and stored (default 1 MiB). A larger record goes to the
	// dead-letter topic with reason record_too_large, and the records after
	// it are consumed as usual.
	MaxRecordBytes int `yaml:"max_record_bytes"`
	// FetchMaxBytes is the most bytes one fetch asks a broker for (default
	// 16 MiB). The broker still returns a first record batch larger than
	// it, so it never blocks consumption.
	FetchMaxBytes int `yaml:"fetch_max_bytes"`
	// FetchMaxPartitionBytes is the most bytes one fetch asks for per
	// partition (default 1 MiB, at most fetch_max_bytes); a larger first
	// batch is returned too. Keep fetch_max_bytes / fetch_max_partition_bytes
	// at least the partitions one member consumes, so every fetch carries
	// all of them.
	FetchMaxPartitionBytes int `yaml:"fetch_max_partition_bytes"`
	// BrokerMaxReadBytes is the largest answer read from a broker (default
	// 32 MiB, at least fetch_max_bytes and more than max_record_bytes): a
	// larger one breaks the connection. It must exceed the largest record
	// batch the brokers accept (their message.max.bytes).
	BrokerMaxReadBytes int `yaml:"broker_max_read_bytes"`
}

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{MaxRecordBytes: DefaultMaxRecordBytes, FetchMaxBytes: DefaultFetchMaxBytes,
		FetchMaxPartitionBytes: DefaultFetchMaxPartitionBytes, BrokerMaxReadBytes: DefaultBrokerMaxReadBytes}
}

// Validate names the first invalid limit.
func (l Limits) Validate() error {
	for _, f := range []struct {
		key string
		v   int
	}{
		{"kafka.max_record_bytes", l.MaxRecordBytes}, {"kafka.fetch_max_bytes", l.FetchMaxBytes},
		{"kafka.fetch_max_partition_bytes", l.FetchMaxPartitionBytes}, {"kafka.broker_max_read_bytes", l.BrokerMaxReadBytes},
	} {
		if f.v <= 0 || f.v > maxLimitBytes {
			return fmt.Errorf("%w: %s %d must be within 1..%d bytes", ErrConfig, f.key, f.v, maxLimitBytes)
		}
	}
	switch {
	case l.FetchMaxPartitionBytes > l.FetchMaxBytes:
		return fmt.Errorf("%w: kafka.fetch_max_partition_bytes %d is larger than kafka.fetch_max_bytes %d", ErrConfig, l.FetchMaxPartitionBytes, l.FetchMaxBytes)
	case l.BrokerMaxReadBytes < l.FetchMaxBytes:
		return fmt.Errorf("%w: kafka.broker_max_read_bytes %d is smaller than kafka.fetch_max_bytes %d", ErrConfig, l.BrokerMaxReadBytes, l.FetchMaxBytes)
	case l.BrokerMaxReadBytes <= l.MaxRecordBytes:
		return fmt.Errorf("%w: kafka.broker_max_read_bytes %d must be larger than kafka.max_record_bytes %d", ErrConfig, l.BrokerMaxReadBytes, l.MaxRecordBytes)
	}
	return nil
}

// kgoOpts are the client options of the limits.
func (l Limits) kgoOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.FetchMaxBytes(int32(l.FetchMaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(l.FetchMaxPartitionBytes)),
		kgo.BrokerMaxReadBytes(int32(l.BrokerMaxReadBytes)),
	}
}

// recordBytes is the size of r's key, value and headers.
func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// tooLarge returns the dead-letter detail of r when it is over
// MaxRecordBytes, "" otherwise.
func (l Limits) tooLarge(r *kgo.Record) string {
	n := recordBytes(r)
	if n <= l.MaxRecordBytes {
		return ""
	}
	return fmt.Sprintf("record is %d bytes (key, value and headers), over kafka.max_record_bytes %d: "+
		"find the producer that wrote it, or raise kafka.max_record_bytes if such records are expected", n, l.MaxRecordBytes)
}

// produceDLQ produces the dead-letter records recs (fresh copies: kgo keeps
// a produced record's state). A record over the producer's or the broker's
// size limit is produced again alone and, when still too large, without its
// value (HeaderDLQValueOmitted): recs[i] is replaced by that copy so that a
// retry of the whole step does not fail on it again.
func (c *Consumer) produceDLQ(ctx context.Context, recs []*kgo.Record) error {
	fresh := func(r *kgo.Record) *kgo.Record {
		return &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
	}
	copies := make([]*kgo.Record, len(recs))
	index := make(map[*kgo.Record]int, len(recs)) // results come in completion order
	for i, r := range recs {
		copies[i] = fresh(r)
		index[copies[i]] = i
	}
	var tooLarge []int
	for _, res := range c.cl.ProduceSync(ctx, copies...) {
		switch {
		case res.Err == nil:
		case errors.Is(res.Err, kerr.MessageTooLarge):
			tooLarge = append(tooLarge, index[res.Record])
		default:
			return res.Err
		}
	}
	slices.Sort(tooLarge)
	for _, i := range tooLarge {
		// Alone, it may fit (the whole batch was refused).
		err := c.cl.ProduceSync(ctx, fresh(recs[i])).FirstErr()
		if errors.Is(err, kerr.MessageTooLarge) {
			r := recs[i]
			hs := append(append([]kgo.RecordHeader(nil), r.Headers...),
				kgo.RecordHeader{Key: HeaderDLQValueOmitted, Value: []byte(strconv.Itoa(len(r.Value)))})
			recs[i] = &kgo.Record{Topic: r.Topic, Key: r.Key, Headers: hs}
			c.log.Warn("dead-letter copy too large to produce; producing it without its value", "topic", r.Topic,
				"value_bytes", len(r.Value), "source", header(r, topics.HeaderDLQSource), "err", err)
			err = c.cl.ProduceSync(ctx, fresh(recs[i])).FirstErr()
		}
		if err != nil {
			return err
		}
	}
	return nil
}
