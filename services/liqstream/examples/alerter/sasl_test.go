package alerter

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// TestRunSASLSSL runs the kafka-go alerter against the real broker's
// SASL_SSL listener (SCRAM-SHA-512 over TLS): the topic is created and the
// scenario produced with Transport, consumed with Dialer, and every alert
// arrives.
func TestRunSASLSSL(t *testing.T) {
	conn := testsupport.KafkaSASL(t)
	tr, err := Transport(conn)
	if err != nil {
		t.Fatal(err)
	}
	topic := testsupport.UniqueName("liqstream_alerter_sasl")
	group := testsupport.UniqueName("liqstream_alerter_sasl")
	cl := &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 2, ReplicationFactor: 1}}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		t.Fatalf("creating %s over SASL_SSL: %v", topic, conn.Explain(err))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = cl.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{group}})
		_, _ = cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	})

	recs, want := scenario(t)
	w := &kafka.Writer{Addr: kafka.TCP(conn.Brokers...), Topic: topic, Transport: tr, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: r.key, Value: r.value}
		if r.schema != "" {
			msgs[i].Headers = r.headers()
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing over SASL_SSL: %v", conn.Explain(err))
	}
	_ = w.Close()

	h := newHook(t, 0)
	cfg := testConfig(conn.Brokers, topic, group, h.url())
	cfg.Conn = conn
	stop := runAlerter(t, cfg)
	testsupport.Eventually(t, 45*time.Second, 50*time.Millisecond, func() bool { return len(h.keys()) >= len(want) },
		"the webhook received %d alerts over SASL_SSL", len(want))
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := h.keys(); !slices.Equal(got, want) {
		t.Fatalf("alerts:\n got %v\nwant %v", got, want)
	}
}

// TestRunSASLSSLFailures: with a wrong password or without the CA, Run
// returns at once (the kafka-go reader alone would retry forever) with an
// error that says what to do and holds no password.
func TestRunSASLSSLFailures(t *testing.T) {
	good := testsupport.KafkaSASL(t)
	const wrong = "not-the-alerter-password-91c2"
	tests := []struct {
		name string
		mod  func(c *kafkaconn.Conn)
		want string
	}{
		{"wrong password", func(c *kafkaconn.Conn) { c.SASL.Password = secret.String(wrong) },
			`refused the SCRAM-SHA-512 credentials of user "` + good.SASL.Username + `"`},
		{"TLS without the CA", func(c *kafkaconn.Conn) { c.TLS.CAFile = "" }, "not signed by a CA this client trusts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHook(t, 0)
			cfg := testConfig(good.Brokers, topicNeverCreated, "liqstream_alerter_never", h.url())
			cfg.Conn = good
			tt.mod(&cfg.Conn)
			var logs bytes.Buffer
			a, err := New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = a.Run(ctx)
			var ce *kafkaconn.ConnError
			if ctx.Err() != nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v\nwant a *kafkaconn.ConnError containing %q before the timeout", err, tt.want)
			}
			slog.New(slog.NewJSONHandler(&logs, nil)).Error("alerter failed", "err", err, "config", cfg)
			for _, pw := range []string{wrong, good.SASL.Password.Reveal()} {
				if strings.Contains(err.Error(), pw) || strings.Contains(logs.String(), pw) {
					t.Fatalf("the password shows:\n%v\n%s", err, logs.String())
				}
			}
			if len(h.keys()) != 0 {
				t.Fatal("alerts were sent")
			}
		})
	}
}

const topicNeverCreated = "liqstream_alerter_never_created"

// TestDialerTransport checks what Dialer and Transport are built from.
func TestDialerTransport(t *testing.T) {
	c := kafkaconn.Conn{Brokers: []string{"127.0.0.1:9092"}}
	d, err := Dialer(c)
	if err != nil || d.TLS != nil || d.SASLMechanism != nil {
		t.Fatalf("plaintext Dialer = %+v, %v", d, err)
	}
	c.TLS.Enabled = true
	c.SASL = kafkaconn.SASL{Mechanism: "scram-sha-256", Username: "u", Password: "p"}
	d, err = Dialer(c)
	if err != nil || d.TLS == nil || d.SASLMechanism == nil || d.SASLMechanism.Name() != kafkaconn.MechanismSCRAMSHA256 {
		t.Fatalf("SASL_SSL Dialer = %+v, %v", d, err)
	}
	tr, err := Transport(c)
	if err != nil || tr.TLS == nil || tr.SASL == nil || tr.SASL.Name() != kafkaconn.MechanismSCRAMSHA256 {
		t.Fatalf("SASL_SSL Transport = %+v, %v", tr, err)
	}
	c.SASL.Mechanism = "PLAIN"
	if m, err := SASLMechanism(c); err != nil || m.Name() != "PLAIN" {
		t.Fatalf("PLAIN = %v, %v", m, err)
	}
	c.SASL.Password = ""
	if _, err := Dialer(c); err == nil || !strings.Contains(err.Error(), "sasl.password: required with mechanism PLAIN") {
		t.Fatalf("Dialer without a password = %v", err)
	}
}
