package publish

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// TestTransactSASLSSL publishes a transaction (events and checkpoint)
// through the real broker's SASL_SSL listener (SCRAM-SHA-512 over TLS) and
// reads both back read_committed through the same listener.
func TestTransactSASLSSL(t *testing.T) {
	conn := testsupport.KafkaSASL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{Conn: conn, TopicPrefix: testsupport.UniqueName("publish_sasl") + ".", Replication: 1, TransactionTimeout: 20 * time.Second}
	const chain = 137
	p, err := New(cfg, nil, chain)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := p.LastCheckpoint(ctx); err != nil || ok {
		t.Fatalf("LastCheckpoint on empty topic = %v, %v", ok, err)
	}
	evs := events(chain, 0, 3)
	if err := p.Transact(ctx, Checkpoint{Block: 42, Hash: "0x2a"}, fillWith(p, evs)); err != nil {
		t.Fatalf("transaction over SASL_SSL: %v", err)
	}
	cp, ok, err := ReadCheckpoint(ctx, cfg, chain, nil)
	if err != nil || !ok || cp.Block != 42 || cp.Hash != "0x2a" {
		t.Fatalf("ReadCheckpoint over SASL_SSL = %+v, %v, %v; want block 42", cp, ok, err)
	}

	cons, err := conn.NewClient(kgo.ConsumeTopics(p.Topics().Liquidations), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	want := map[string]bool{}
	for _, ev := range evs {
		want[ev.EventId] = true
	}
	for len(want) > 0 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d committed events not read back over SASL_SSL", len(want))
		}
		if err := fs.Err0(); err != nil {
			t.Fatal(conn.Explain(err))
		}
		fs.EachRecord(func(r *kgo.Record) {
			var ev liqstreamv1.LiquidationEvent
			if err := proto.Unmarshal(r.Value, &ev); err != nil {
				t.Fatalf("offset %d: %v", r.Offset, err)
			}
			delete(want, ev.EventId)
		})
	}
}

// TestPublishWrongPassword: a refused SCRAM password fails the publisher's
// first broker contact with an error that says what to do and does not hold
// the password, in the error nor in a JSON log of it and of the config.
func TestPublishWrongPassword(t *testing.T) {
	conn := testsupport.KafkaSASL(t)
	const wrong = "definitely-not-the-password-7f3a"
	right := conn.SASL.Password.Reveal()
	conn.SASL.Password = secret.String(wrong)
	cfg := Config{Conn: conn, TopicPrefix: testsupport.UniqueName("publish_sasl") + ".", Replication: 1}
	p, err := New(cfg, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	checks := map[string]error{"EnsureTopics": p.EnsureTopics(ctx)}
	_, _, checks["LastCheckpoint"] = p.LastCheckpoint(ctx)
	for name, err := range checks {
		var ce *kafkaconn.ConnError
		if !errors.As(err, &ce) || !errors.Is(err, kerr.SaslAuthenticationFailed) ||
			!strings.Contains(err.Error(), `refused the SCRAM-SHA-512 credentials of user "`+conn.SASL.Username+`"`) ||
			!strings.Contains(err.Error(), "check kafka.sasl.username and kafka.sasl.password") {
			t.Fatalf("%s: %v\nwant the refused credentials explained", name, err)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Error("publish failed", "err", err, "config", cfg)
		for _, pw := range []string{wrong, right} {
			if strings.Contains(err.Error(), pw) || strings.Contains(buf.String(), pw) {
				t.Fatalf("%s: the password shows:\n%v\n%s", name, err, buf.String())
			}
		}
	}
}
