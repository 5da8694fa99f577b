package command

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestTailSASLSSL: liqstream tail reads from the real broker's SASL_SSL
// listener with the --kafka-* flags and the password from the environment;
// with a wrong password it exits 1 at once, saying what to do, without the
// password.
func TestTailSASLSSL(t *testing.T) {
	conn := testsupport.KafkaSASL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := testsupport.UniqueName("liqstream_tail_sasl")
	cl, err := conn.NewClient(kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(conn.Explain(err))
	}
	defer func() { _, _ = adm.DeleteTopics(context.Background(), topic) }()
	id := testsupport.UniqueName("event")
	b, err := proto.Marshal(&liqstreamv1.LiquidationEvent{EventId: id, ChainId: 137})
	if err != nil {
		t.Fatal(err)
	}
	rec := &kgo.Record{Value: b, Headers: []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte(topics.SchemaLiquidationEvent)}}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(conn.Explain(err))
	}

	tail := func(password string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		env := map[string]string{"KAFKA_SASL_PASSWORD": password}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		code := Main(rctx, Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }, Version: "test"},
			[]string{"tail", "--brokers", strings.Join(conn.Brokers, ","), "--topic", topic, "--from-beginning", "--max", "1",
				"--kafka-tls-ca-file", conn.TLS.CAFile, "--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-username", conn.SASL.Username})
		if rctx.Err() != nil {
			t.Fatalf("tail ran into the timeout; stderr: %s", errOut.String())
		}
		return code, out.String(), errOut.String()
	}
	if code, out, stderr := tail(conn.SASL.Password.Reveal()); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("tail over SASL_SSL: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	const wrong = "wrong-tail-password-55aa"
	code, out, stderr := tail(wrong)
	if code != 1 || !strings.Contains(stderr, "refused the SCRAM-SHA-512 credentials") || strings.Contains(stderr+out, wrong) {
		t.Fatalf("tail with a wrong password: exit %d, stdout %q, stderr %q; want exit 1 and the refusal explained without the password", code, out, stderr)
	}
	t.Logf("wrong password: %s", stderr)
}
