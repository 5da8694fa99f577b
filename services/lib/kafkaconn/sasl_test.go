package kafkaconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// TestSASLSSLProduceConsume produces and consumes through the real broker's
// SASL_SSL listener with each SCRAM mechanism, over TLS verified against the
// development CA.
func TestSASLSSLProduceConsume(t *testing.T) {
	base := testsupport.KafkaSASL(t)
	rng := rand.New(rand.NewSource(testsupport.Seed(t)))
	for _, mech := range []string{kafkaconn.MechanismSCRAMSHA256, kafkaconn.MechanismSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := base
			c.SASL.Mechanism = mech
			topic := testsupport.UniqueName("kafkaconn_sasl")
			cl, err := c.NewClient(kgo.DefaultProduceTopic(topic))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
				t.Fatalf("creating %s over SASL_SSL: %v", topic, c.Explain(err))
			}
			defer func() { _, _ = adm.DeleteTopics(context.Background(), topic) }()

			want := map[string]bool{}
			var recs []*kgo.Record
			for i := 0; i < 20; i++ {
				v := fmt.Sprintf("record-%d-%x", i, rng.Uint64())
				want[v] = true
				recs = append(recs, &kgo.Record{Key: []byte{byte(i)}, Value: []byte(v)})
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatalf("producing over SASL_SSL: %v", c.Explain(err))
			}

			cons, err := c.NewClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			for len(want) > 0 {
				fs := cons.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("consumed all but %d records before the timeout", len(want))
				}
				if err := fs.Err0(); err != nil {
					t.Fatalf("consuming over SASL_SSL: %v", c.Explain(err))
				}
				fs.EachRecord(func(r *kgo.Record) {
					if !want[string(r.Value)] {
						t.Errorf("unexpected record %q", r.Value)
					}
					delete(want, string(r.Value))
				})
			}
		})
	}
}

// TestSASLSSLFailures: each misconfiguration against the real listeners
// fails at once with an error that says what to do and holds no password.
func TestSASLSSLFailures(t *testing.T) {
	good := testsupport.KafkaSASL(t)
	plainBrokers := testsupport.KafkaBrokers(t)
	wrong := fmt.Sprintf("wrong-password-%d", rand.New(rand.NewSource(testsupport.Seed(t))).Int63())
	tests := []struct {
		name   string
		mod    func(c *kafkaconn.Conn)
		want   string
		is     error
		anyOf2 string // a second acceptable explanation
	}{
		{"wrong password", func(c *kafkaconn.Conn) { c.SASL.Password = secret.String(wrong) },
			`refused the SCRAM-SHA-512 credentials of user "` + good.SASL.Username + `"`, kerr.SaslAuthenticationFailed, ""},
		{"unknown user", func(c *kafkaconn.Conn) { c.SASL.Username = testsupport.UniqueName("nobody") },
			"refused the SCRAM-SHA-512 credentials", kerr.SaslAuthenticationFailed, ""},
		{"TLS without the CA", func(c *kafkaconn.Conn) { c.TLS.CAFile = "" },
			"not signed by a CA this client trusts", nil, ""},
		{"no TLS on the SASL_SSL listener", func(c *kafkaconn.Conn) { c.TLS = kafkaconn.TLS{} },
			"expects TLS on this port", nil, "closed the connection (this client: TLS off, SASL SCRAM-SHA-512)"},
		{"TLS on the plaintext listener", func(c *kafkaconn.Conn) { c.Brokers = plainBrokers; c.SASL = kafkaconn.SASL{} },
			"does not speak TLS", nil, "closed the connection (this client: TLS on, SASL off)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			if err := c.Validate("kafka"); err != nil {
				t.Fatalf("the misconfiguration must pass Validate to reach the broker: %v", err)
			}
			cl, err := c.NewClient(kgo.RequestRetries(0))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			began := time.Now()
			err = c.Check(ctx, cl)
			if err == nil {
				t.Fatal("Ping succeeded")
			}
			if ctx.Err() != nil {
				t.Fatalf("Ping failed only by the timeout (after %s): %v", time.Since(began), err)
			}
			msg := err.Error()
			var ce *kafkaconn.ConnError
			if !errors.As(err, &ce) || (!strings.Contains(msg, tt.want) && (tt.anyOf2 == "" || !strings.Contains(msg, tt.anyOf2))) {
				t.Fatalf("error = %v\nwant a *kafkaconn.ConnError containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error = %v, want errors.Is %v", err, tt.is)
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Error("kafka failed", "err", err, "kafka", c)
			for _, pw := range []string{good.SASL.Password.Reveal(), wrong} {
				if strings.Contains(msg, pw) || strings.Contains(buf.String(), pw) {
					t.Fatalf("the password shows in the error or its log line:\n%s\n%s", msg, buf.String())
				}
			}
			t.Logf("%s (after %s)", msg, time.Since(began).Round(time.Millisecond))
		})
	}
}
