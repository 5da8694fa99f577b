package publish

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Conn: kafkaconn.Conn{Brokers: []string{"127.0.0.1:9092"}}}
	for _, tc := range []struct {
		name string
		mod  func(c *Config)
		key  string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "kafka.brokers"},
		{"empty broker", func(c *Config) { c.Brokers = []string{""} }, "kafka.brokers"},
		{"negative timeout", func(c *Config) { c.TransactionTimeout = -time.Second }, "kafka.transaction_timeout"},
		{"tiny timeout", func(c *Config) { c.TransactionTimeout = time.Millisecond }, "kafka.transaction_timeout"},
		{"timeout above broker max", func(c *Config) { c.TransactionTimeout = time.Hour }, "kafka.transaction_timeout"},
		{"timeout ok", func(c *Config) { c.TransactionTimeout = 10 * time.Second }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			err := c.Validate()
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.key)
			}
		})
	}
}

func TestTransactionalIDFor(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "liqstream-ingest-137"},
		{Config{TransactionalID: "prod-eu-"}, "prod-eu-137"},
		{Config{TopicPrefix: "t1.", TransactionalID: "x-"}, "t1.x-137"},
	} {
		if got := tc.cfg.TransactionalIDFor(137); got != tc.want {
			t.Errorf("TransactionalIDFor(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

// brokerCases runs f against an in-process kfake cluster and, when the
// integration environment is set, against the real broker.
func brokerCases(t *testing.T, f func(t *testing.T, brokers []string)) {
	t.Run("kfake", func(t *testing.T) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		f(t, c.ListenAddrs())
	})
	t.Run("kafka", func(t *testing.T) { f(t, testsupport.KafkaBrokers(t)) })
}

func events(chainID uint64, from, n int) []*liqstreamv1.LiquidationEvent {
	var out []*liqstreamv1.LiquidationEvent
	for i := from; i < from+n; i++ {
		out = append(out, &liqstreamv1.LiquidationEvent{ChainId: chainID, Borrower: "0xb" + strconv.Itoa(i%3),
			EventId: strconv.FormatUint(chainID, 10) + ":0xtx:" + strconv.Itoa(i), BlockNumber: uint64(i)})
	}
	return out
}

func fillWith(p *Publisher, evs []*liqstreamv1.LiquidationEvent) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, ev := range evs {
			if err := p.Publish(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	}
}

// readIDs reads topic from the start to its high watermark at the given
// isolation level and returns the event ids of the data records.
func readIDs(t *testing.T, brokers []string, topic string, committed bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords()}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var ids []string
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (left %v)", topic, ctx.Err(), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				var ev liqstreamv1.LiquidationEvent
				if err := proto.Unmarshal(r.Value, &ev); err != nil {
					t.Fatalf("offset %d: %v", r.Offset, err)
				}
				ids = append(ids, ev.EventId)
			}
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return ids
}

// TestTransactions: a committed group is visible once with its checkpoint; a
// failed fill is aborted; a publisher whose transaction is open when a new
// incarnation starts is fenced, its records are aborted, and the new
// incarnation resumes from the last committed checkpoint.
func TestTransactions(t *testing.T) {
	brokerCases(t, func(t *testing.T, brokers []string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cfg := Config{Conn: kafkaconn.Conn{Brokers: brokers}, TopicPrefix: testsupport.UniqueName("publish_test") + ".", Replication: 1, TransactionTimeout: 20 * time.Second}
		const chain = 137
		p1, err := New(cfg, nil, chain)
		if err != nil {
			t.Fatal(err)
		}
		defer p1.Close()
		if err := p1.EnsureTopics(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := p1.LastCheckpoint(ctx); err != nil || ok {
			t.Fatalf("LastCheckpoint on empty topic = %v, %v", ok, err)
		}
		if err := p1.Transact(ctx, Checkpoint{Block: 10, Hash: "0x0a"}, fillWith(p1, events(chain, 0, 5))); err != nil {
			t.Fatalf("first transaction: %v", err)
		}
		boom := errors.New("fill failed")
		if err := p1.Transact(ctx, Checkpoint{Block: 15}, func(ctx context.Context) error {
			_ = fillWith(p1, events(chain, 100, 3))(ctx)
			if err := p1.cl.Flush(ctx); err != nil { // on the broker, inside the transaction
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("failing fill: %v, want %v", err, boom)
		}

		// p1 leaves a transaction open (records on the broker, no commit)
		// while a second incarnation starts.
		opened, release := make(chan struct{}), make(chan struct{})
		zombie := make(chan error, 1)
		go func() {
			zombie <- p1.Transact(ctx, Checkpoint{Block: 20}, func(ctx context.Context) error {
				_ = fillWith(p1, events(chain, 200, 4))(ctx)
				err := p1.cl.Flush(ctx)
				close(opened)
				<-release
				return err
			})
		}()
		<-opened
		p2, err := New(cfg, nil, chain)
		if err != nil {
			t.Fatal(err)
		}
		defer p2.Close()
		cp, ok, err := p2.LastCheckpoint(ctx)
		if err != nil || !ok || cp != (Checkpoint{Block: 10, Hash: "0x0a"}) {
			t.Fatalf("LastCheckpoint after takeover = %+v, %v, %v; want block 10", cp, ok, err)
		}
		close(release)
		zerr := <-zombie
		if !errors.Is(zerr, ErrFenced) || IsRetryable(zerr) {
			t.Fatalf("zombie's commit: %v, want ErrFenced", zerr)
		}
		var te *TxnError
		if !errors.As(zerr, &te) || te.ChainID != chain || te.Block != 20 || te.TransactionalID != cfg.TransactionalIDFor(chain) {
			t.Fatalf("zombie's error %#v lacks chain, block or transactional id", zerr)
		}
		t.Logf("zombie: %v", zerr)
		if err := p2.Transact(ctx, Checkpoint{Block: 30, Hash: "0x1e"}, fillWith(p2, events(chain, 300, 2))); err != nil {
			t.Fatalf("new incarnation: %v", err)
		}

		topics := p2.Topics()
		got := readIDs(t, brokers, topics.Liquidations, true)
		want := []string{}
		for _, ev := range append(events(chain, 0, 5), events(chain, 300, 2)...) {
			want = append(want, ev.EventId)
		}
		if !sameSet(got, want) {
			t.Fatalf("read_committed sees %v, want each of %v once", got, want)
		}
		if all := readIDs(t, brokers, topics.Liquidations, false); len(all) != 5+3+4+2 {
			t.Fatalf("read_uncommitted sees %d records, want 14 (aborted ones included)", len(all))
		}
		if cp, ok, err := ReadCheckpoint(ctx, cfg, chain, nil); err != nil || !ok || cp.Block != 30 {
			t.Fatalf("ReadCheckpoint = %+v, %v, %v; want block 30", cp, ok, err)
		}
	})
}

func sameSet(got, want []string) bool {
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if seen[w] != 1 {
			return false
		}
	}
	return true
}
