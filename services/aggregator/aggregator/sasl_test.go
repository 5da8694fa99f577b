package aggregator_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestConsumeSASLSSL runs the aggregator's consumer against the real
// broker's SASL_SSL listener (SCRAM-SHA-512 over TLS, kafka.tls and
// kafka.sasl of its config) and checks that every event produced there
// through the same Conn reaches ClickHouse.
func TestConsumeSASLSSL(t *testing.T) {
	kconn := testsupport.KafkaSASL(t)
	chAddr := testsupport.ClickHouseAddr(t)
	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := migrate.Run(ctx, conn, db, quietLog()); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	cfg := aggregator.DefaultConfig()
	cfg.Kafka.Conn = kconn
	cfg.Kafka.Group = testsupport.UniqueName("liqstream_sasl_group")
	cfg.Kafka.Topic = testsupport.UniqueName("liqstream_sasl_liquidations")
	cfg.Kafka.DLQTopic = cfg.Kafka.Topic + "_dlq"
	cfg.Batch.MaxWait = 100 * time.Millisecond
	cfg.ClickHouse.Addr = []string{chAddr}
	cfg.ClickHouse.Database = db
	cfg.MetricsAddr = ""
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a SASL_SSL config: %v", err)
	}

	cl, err := kconn.NewClient(kgo.ProducerLinger(5 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	defer func() { _, _ = adm.DeleteTopics(context.Background(), cfg.Kafka.Topic, cfg.Kafka.DLQTopic) }()
	for topic, parts := range map[string]int32{cfg.Kafka.Topic: 3, cfg.Kafka.DLQTopic: 1} {
		resp, err := adm.CreateTopic(ctx, parts, -1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("creating topic %s over SASL_SSL: %v", topic, kconn.Explain(err))
		}
	}
	const n = 300
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	evs := synth.New(testsupport.Seed(t)).Events(n, from, 24*time.Hour)
	recs := make([]*kgo.Record, 0, len(evs))
	for _, ev := range evs {
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: cfg.Kafka.Topic, Key: topics.Key(ev.GetChainId(), ev.GetBorrower()), Value: b,
			Headers: []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte(topics.SchemaLiquidationEvent)}}})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing over SASL_SSL: %v", kconn.Explain(err))
	}

	tel, err := telemetry.New("aggregator")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	agg, err := aggregator.New(cfg, quietLog(), tel.Meter())
	if err != nil {
		t.Fatalf("aggregator.New: %v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- agg.Run(runCtx) }()
	testsupport.Eventually(t, 45*time.Second, 100*time.Millisecond, func() bool { return agg.Stats().RowsWritten >= n },
		"the aggregator stored %d of %d events consumed over SASL_SSL", agg.Stats().RowsWritten, n)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("aggregator.Run: %v", err)
	}
	var got uint64
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT uniqExact(event_id) FROM %s.liquidations", db)).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("ClickHouse holds %d distinct events, want %d", got, n)
	}

	// A wrong password stops Run at once (the client alone would retry it
	// silently), saying what to do, without the password.
	const wrong = "wrong-aggregator-password-3d9e"
	bad := cfg
	bad.Kafka.SASL.Password = secret.String(wrong)
	bad.Kafka.Group = testsupport.UniqueName("liqstream_sasl_group")
	agg, err = aggregator.New(bad, quietLog(), tel.Meter())
	if err != nil {
		t.Fatalf("aggregator.New: %v", err)
	}
	began := time.Now()
	err = agg.Run(ctx)
	if ctx.Err() != nil || !kafkaconn.IsPermanent(err) || !strings.Contains(err.Error(), "refused the SCRAM-SHA-512 credentials") ||
		strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), kconn.SASL.Password.Reveal()) {
		t.Fatalf("Run with a wrong password = %v\nwant the refusal explained, without the password, before the timeout", err)
	}
	t.Logf("wrong password: Run returned in %s: %v", time.Since(began).Round(time.Millisecond), err)

	// Neither password is in a metric name, label or value.
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if !strings.Contains(body, "consumer_lag_records") {
		t.Fatalf("/metrics lacks the consumer's metrics:\n%s", body)
	}
	for _, pw := range []string{wrong, kconn.SASL.Password.Reveal()} {
		if strings.Contains(body, pw) {
			t.Fatal("a SASL password shows in /metrics")
		}
	}
}

// TestConfigYAMLKafkaSecurity: kafka.tls and kafka.sasl decode strictly into
// the aggregator's config beside the consumer's own kafka keys.
func TestConfigYAMLKafkaSecurity(t *testing.T) {
	doc := []byte(`kafka:
  brokers: [kafka-1.example:9094]
  group: g
  tls:
    enabled: true
    server_name: kafka.example
  sasl:
    mechanism: SCRAM-SHA-512
    username: liqstream
    password: from-the-file
`)
	cfg := aggregator.DefaultConfig()
	if err := configfile.Decode("test.yaml", doc, &cfg); err != nil {
		t.Fatal(err)
	}
	k := cfg.Kafka
	if k.Brokers[0] != "kafka-1.example:9094" || k.Group != "g" || !k.TLS.Enabled || k.TLS.ServerName != "kafka.example" ||
		k.SASL.Mechanism != "SCRAM-SHA-512" || k.SASL.Username != "liqstream" || k.SASL.Password.Reveal() != "from-the-file" {
		t.Fatalf("decoded kafka section = %+v", k)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.SASL.Password = ""
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "kafka.sasl.password: required with mechanism SCRAM-SHA-512") {
		t.Fatalf("Validate without the password = %v", err)
	}
}
