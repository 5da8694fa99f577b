package publish

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/liqstream/liqstream/services/lib/topics"
)

// DefaultBatchMaxBytes is the default kafka.batch_max_bytes: 1,000,012
// bytes, Kafka's historic message.max.bytes default and franz-go's, below
// the 1,048,588 bytes today's brokers accept.
const DefaultBatchMaxBytes = 1_000_012

// batchOverhead is room left in a batch for its header and one record's
// framing (record batch header 61 bytes, record varints and header keys).
const batchOverhead = 512

// ErrRecordTooLarge is wrapped when an event encodes to a record that no
// record batch of kafka.batch_max_bytes can hold.
var ErrRecordTooLarge = errors.New("record too large for kafka.batch_max_bytes")

// Limits bound what the publisher produces. They are inlined in Config, so
// the key is kafka.batch_max_bytes.
type Limits struct {
	// BatchMaxBytes is the largest record batch produced, before
	// compression (default 1,000,012; 1024..1073741824). It must not exceed
	// the brokers' message.max.bytes (or the topics' max.message.bytes),
	// which refuse larger batches. An event whose record does not fit fails
	// Publish with ErrRecordTooLarge; a dead letter that does not fit is
	// produced without its value (topics.HeaderDLQValueOmitted).
	BatchMaxBytes int `yaml:"batch_max_bytes"`
}

func (l Limits) withDefaults() Limits {
	if l.BatchMaxBytes == 0 {
		l.BatchMaxBytes = DefaultBatchMaxBytes
	}
	return l
}

func (l Limits) validate() error {
	if l.BatchMaxBytes != 0 && (l.BatchMaxBytes < 1<<10 || l.BatchMaxBytes > 1<<30) {
		return fmt.Errorf("kafka.batch_max_bytes: %d is outside [1024, 1073741824] (0 takes the default %d)", l.BatchMaxBytes, DefaultBatchMaxBytes)
	}
	return nil
}

// opt is the client option of the limits.
func (l Limits) opt() kgo.Opt {
	return kgo.ProducerBatchMaxBytes(int32(l.withDefaults().BatchMaxBytes))
}

// recordBytes is the size of r's key, value and headers.
func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// fits reports whether r fits a record batch.
func (p *Publisher) fits(r *kgo.Record) bool {
	return recordBytes(r)+batchOverhead <= p.cfg.BatchMaxBytes
}

// checkSize returns an ErrRecordTooLarge error for a record that cannot be
// produced.
func (p *Publisher) checkSize(r *kgo.Record, what, eventID string) error {
	if p.fits(r) {
		return nil
	}
	return fmt.Errorf("%w: %s %s is a %d-byte record, over kafka.batch_max_bytes %d (less %d bytes of framing): "+
		"raise kafka.batch_max_bytes (and the brokers' message.max.bytes) if such events are expected",
		ErrRecordTooLarge, what, eventID, recordBytes(r), p.cfg.BatchMaxBytes, batchOverhead)
}

// fitDeadLetter returns r, or r without its value (and with
// HeaderDLQValueOmitted) when it does not fit a record batch, so that a
// huge undecodable log cannot abort every transaction of its range.
func (p *Publisher) fitDeadLetter(r *kgo.Record) *kgo.Record {
	if p.fits(r) {
		return r
	}
	p.log.Warn("dead letter too large to produce; producing it without its value", "topic", r.Topic,
		"value_bytes", len(r.Value), "batch_max_bytes", p.cfg.BatchMaxBytes)
	hs := append(append([]kgo.RecordHeader(nil), r.Headers...), kgo.RecordHeader{Key: topics.HeaderDLQValueOmitted, Value: []byte(strconv.Itoa(len(r.Value)))})
	return &kgo.Record{Topic: r.Topic, Key: r.Key, Headers: hs}
}
