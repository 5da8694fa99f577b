package publish

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

func TestZZCost(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	ctx := context.Background()
	for _, per := range []int{1, 10, 100, 1, 10, 100} {
		cfg := Config{Brokers: brokers, TopicPrefix: testsupport.UniqueName("cost") + ".", Replication: 1}
		p, _ := New(cfg, nil, 1)
		_ = p.EnsureTopics(ctx)
		_, _, _ = p.LastCheckpoint(ctx)
		_ = p.Transact(ctx, Checkpoint{}, fillWith(p, events(1, 0, per)))
		const groups = 300
		start := time.Now()
		for g := range groups {
			evs := events(1, g*per, per)
			if err := p.Transact(ctx, Checkpoint{Block: uint64(g)}, fillWith(p, evs)); err != nil {
				t.Fatal(err)
			}
		}
		txn := time.Since(start) / groups
		p.Close()
		cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond),
			kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
		tp := p.Topics()
		_ = cl.ProduceSync(ctx, &kgo.Record{Topic: tp.Checkpoints, Key: []byte("1"), Value: []byte("x")}).FirstErr()
		start = time.Now()
		for g := range groups {
			for _, ev := range events(1, g*per, per) {
				cl.Produce(ctx, &kgo.Record{Topic: tp.Liquidations, Key: []byte(ev.Borrower), Value: []byte(ev.EventId)}, nil)
			}
			_ = cl.Flush(ctx)
			_ = cl.ProduceSync(ctx, &kgo.Record{Topic: tp.Checkpoints, Key: []byte("1"), Value: []byte(strconv.Itoa(g))}).FirstErr()
		}
		idem := time.Since(start) / groups
		cl.Close()
		t.Logf("COST events/group=%d transactional=%s/group idempotent+checkpoint=%s/group", per, txn.Round(10*time.Microsecond), idem.Round(10*time.Microsecond))
	}
}
