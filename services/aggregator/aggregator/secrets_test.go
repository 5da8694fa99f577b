package aggregator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// TestLoadedConfigNeverShowsPasswords: the ClickHouse password and the Kafka
// SASL password of a loaded config never show when it is logged (as the
// aggregator command logs it: "password", cfg.ClickHouse.Password), printed
// or encoded.
func TestLoadedConfigNeverShowsPasswords(t *testing.T) {
	const chPassword, saslPassword = "chPASSWORD0123456789", "saslPASSWORD0123456789"
	file := fmt.Sprintf(`kafka:
  brokers: [127.0.0.1:9092]
  sasl: {mechanism: SCRAM-SHA-256, username: aggregator, password: %s}
clickhouse:
  addr: [127.0.0.1:9000]
  username: liqstream
  password: %s
`, saslPassword, chPassword)
	cfg := aggregator.DefaultConfig()
	if err := configfile.Decode("aggregator.yaml", []byte(file), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouse.Password.Reveal() != chPassword || cfg.Kafka.SASL.Password.Reveal() != saslPassword {
		t.Fatalf("the file was not loaded: %+v", cfg)
	}
	var out bytes.Buffer
	for _, log := range []*slog.Logger{slog.New(slog.NewJSONHandler(&out, nil)), slog.New(slog.NewTextHandler(&out, nil))} {
		log.Info("starting aggregator", "clickhouse", cfg.ClickHouse.Addr, "database", cfg.ClickHouse.Database,
			"password", cfg.ClickHouse.Password, "config", cfg, "kafka", cfg.Kafka)
	}
	fmt.Fprintf(&out, "%v\n%+v\n%#v\n", cfg, cfg, cfg)
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	for _, pw := range []string{chPassword, saslPassword} {
		if strings.Contains(out.String(), pw) {
			t.Errorf("output shows a password:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), secret.Redacted) {
		t.Errorf("the passwords are not even named as redacted:\n%s", out.String())
	}
}

// TestWrongClickHousePasswordNeverShows: against the real ClickHouse, a
// wrong password fails migration and the consumer's writes with errors and
// log lines that do not hold it.
func TestWrongClickHousePasswordNeverShows(t *testing.T) {
	cfg, _, cl := fixture(t)
	wrong := fmt.Sprintf("wrongPASSWORD%d", testsupport.Seed(t))
	cfg.ClickHouse.Username = "default"
	cfg.ClickHouse.Password = secret.String(wrong)
	cfg.ClickHouse.MaxAttempts = 2
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs testsupport.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	_, merr := aggregator.Migrate(ctx, cfg.ClickHouse, log, true)
	if merr == nil {
		t.Fatal("migration with a wrong password succeeded")
	}

	evs := synth.New(testsupport.Seed(t)).Events(20, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Hour)
	if err := produce(ctx, cl, cfg.Kafka.Topic, evs); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.New("aggregator")
	if err != nil {
		t.Fatal(err)
	}
	agg, err := aggregator.New(cfg, log, tel.Meter())
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	rerr := agg.Run(rctx)
	text := fmt.Sprintf("%v\n%v\n%s", merr, rerr, logs.String())
	if strings.Contains(text, wrong) {
		t.Fatalf("the password shows:\n%s", text)
	}
	if !strings.Contains(strings.ToLower(text), "password") && !strings.Contains(strings.ToLower(text), "authentication") {
		t.Fatalf("the failure does not say the credentials are wrong:\n%s", text)
	}
	t.Logf("migrate: %v\nrun: %v", merr, rerr)
}
