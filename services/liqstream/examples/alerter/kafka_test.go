package alerter

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// createTopic creates a topic on the real broker and deletes it when the test
// ends.
func createTopic(t testing.TB, brokers []string, topic string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...)}
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1},
	}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		t.Fatalf("creating topic %s on %v: %v", topic, brokers, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}}); err != nil {
			t.Logf("deleting topic %s: %v", topic, err)
		}
	})
}

// uniqueGroup returns a fresh consumer group name and deletes the group when
// the test ends (after the alerters using it, which register later, stop).
func uniqueGroup(t testing.TB, brokers []string) string {
	t.Helper()
	group := testsupport.UniqueName("liqstream_alerter_test")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl := &kafka.Client{Addr: kafka.TCP(brokers...)}
		if _, err := cl.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{group}}); err != nil {
			t.Logf("deleting consumer group %s: %v", group, err)
		}
	})
	return group
}

func produce(t testing.TB, brokers []string, topic string, recs []record) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: r.key, Value: r.value}
		if r.schema != "" {
			msgs[i].Headers = r.headers()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
}

// runAlerter runs an alerter in the background; the returned stop cancels it
// and returns Run's error.
func runAlerter(t testing.TB, cfg Config) (stop func() error) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Run did not return within 30 s of cancel")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// TestRunRealKafka runs the alerter against the real broker: the exact set of
// alerts for the scenario (threshold, duplicate, stale copy, revision,
// retractions, another schema, garbage), a webhook that fails twice first,
// and a restart in the same group that re-alerts nothing (offsets were
// committed after the webhook accepted).
func TestRunRealKafka(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	topic := testsupport.UniqueName("liqstream_alerter_test")
	createTopic(t, brokers, topic, 3)
	recs, want := scenario(t)
	produce(t, brokers, topic, recs)

	h := newHook(t, 2)
	cfg := testConfig(brokers, topic, uniqueGroup(t, brokers), h.url())
	start := time.Now()
	stop := runAlerter(t, cfg)
	testsupport.Eventually(t, 45*time.Second, 50*time.Millisecond, func() bool { return len(h.keys()) >= len(want) },
		"the webhook received %d alerts", len(want))
	t.Logf("first run: %d alerts in %v", len(want), time.Since(start).Round(time.Millisecond))
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := h.keys(); !slices.Equal(got, want) {
		t.Fatalf("alerts:\n got %v\nwant %v", got, want)
	}
	if n := h.attemptCount(); n != len(want)+2 {
		t.Errorf("%d POSTs, want %d (two failures retried)", n, len(want)+2)
	}

	// A restarted alerter in the same group resumes after the committed
	// offsets: only the new event alerts.
	fresh := event(1, 77, "300000.00000000")
	produce(t, brokers, topic, []record{liq(t, fresh)})
	want = append(want, key(KindLiquidation, fresh))
	slices.Sort(want)
	start = time.Now()
	stop = runAlerter(t, cfg)
	testsupport.Eventually(t, 45*time.Second, 50*time.Millisecond, func() bool { return len(h.keys()) >= len(want) },
		"the restarted alerter sent the new alert")
	t.Logf("restart: new alert in %v", time.Since(start).Round(time.Millisecond))
	// Give a wrongly uncommitted record time to be redelivered.
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run after restart: %v", err)
	}
	if got := h.keys(); !slices.Equal(got, want) {
		t.Fatalf("alerts after restart:\n got %v\nwant %v", got, want)
	}
}

// TestRunReturnsOnCancel checks that an idle alerter, blocked waiting for
// records, returns nil promptly when its context is cancelled.
func TestRunReturnsOnCancel(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	topic := testsupport.UniqueName("liqstream_alerter_empty")
	createTopic(t, brokers, topic, 1)
	h := newHook(t, 0)
	stop := runAlerter(t, testConfig(brokers, topic, uniqueGroup(t, brokers), h.url()))
	time.Sleep(500 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
