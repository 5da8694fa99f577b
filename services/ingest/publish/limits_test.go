package publish

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestRecordSizeLimit: with kafka.batch_max_bytes at 4 KiB, an event whose
// record cannot fit fails Publish at once with ErrRecordTooLarge naming the
// event and the key (the transaction is aborted, nothing becomes visible,
// and the error is not retried), while a dead letter too large to fit is
// committed without its value, with the size in HeaderDLQValueOmitted.
func TestRecordSizeLimit(t *testing.T) {
	brokerCases(t, func(t *testing.T, brokers []string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cfg := Config{Conn: kafkaconn.Conn{Brokers: brokers}, TopicPrefix: testsupport.UniqueName("publish_limits") + ".", Replication: 1,
			TransactionTimeout: 20 * time.Second, Limits: Limits{BatchMaxBytes: 4 << 10}}
		p, err := New(cfg, nil, 137)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.EnsureTopics(ctx); err != nil {
			t.Fatal(err)
		}
		huge := events(137, 0, 2)
		huge[1].TxHash = strings.Repeat("f", 8<<10)
		err = p.Transact(ctx, Checkpoint{Block: 1}, fillWith(p, huge))
		if !errors.Is(err, ErrRecordTooLarge) || IsRetryable(err) {
			t.Fatalf("Transact = %v, want a non-retryable ErrRecordTooLarge", err)
		}
		for _, want := range []string{huge[1].EventId, "kafka.batch_max_bytes 4096", "raise kafka.batch_max_bytes"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not say %q", err, want)
			}
		}
		if _, ok, err := ReadCheckpoint(ctx, cfg, 137, nil); err != nil || ok {
			t.Fatalf("a checkpoint was committed (%v, %v)", ok, err)
		}

		big := []byte(strings.Repeat("d", 8<<10))
		if err := p.Transact(ctx, Checkpoint{Block: 2}, func(ctx context.Context) error {
			p.DeadLetter(ctx, []byte("big"), big, "undecodable", "application/json")
			p.DeadLetter(ctx, []byte("small"), []byte("{}"), "undecodable", "application/json")
			return nil
		}); err != nil {
			t.Fatalf("dead letters: %v", err)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(p.Topics().DLQ),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		got := map[string]*kgo.Record{}
		for len(got) < 2 && ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Key)] = r })
		}
		omitted := func(r *kgo.Record) string {
			for _, h := range r.Headers {
				if h.Key == topics.HeaderDLQValueOmitted {
					return string(h.Value)
				}
			}
			return ""
		}
		if r := got["big"]; r == nil || len(r.Value) != 0 || omitted(r) != strconv.Itoa(len(big)) {
			t.Fatalf("big dead letter = %+v, want no value and %s = %d", r, topics.HeaderDLQValueOmitted, len(big))
		}
		if r := got["small"]; r == nil || string(r.Value) != "{}" || omitted(r) != "" {
			t.Fatalf("small dead letter = %+v, want its value", r)
		}
	})
}

func TestLimitsValidate(t *testing.T) {
	base := Config{Conn: kafkaconn.Conn{Brokers: []string{"127.0.0.1:9092"}}}
	for _, v := range []int{-1, 100, 2 << 30} {
		c := base
		c.BatchMaxBytes = v
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "kafka.batch_max_bytes") {
			t.Errorf("batch_max_bytes %d: Validate = %v, want an error naming kafka.batch_max_bytes", v, err)
		}
	}
	if d := base.withDefaults(); d.BatchMaxBytes != DefaultBatchMaxBytes {
		t.Errorf("default batch_max_bytes %d", d.BatchMaxBytes)
	}
}
