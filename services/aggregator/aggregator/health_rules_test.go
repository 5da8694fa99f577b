package aggregator

import (
	"errors"
	"strings"
	"testing"
)

func TestReadinessRules(t *testing.T) {
	addr := []string{"127.0.0.1:19000"}
	ok := readyState{started: true, lag: 10, maxLag: 10_000}
	tests := []struct {
		name   string
		mutate func(s *readyState)
		want   string // substring of the reason; "" = ready
	}{
		{"caught up", func(*readyState) {}, ""},
		{"lag at the bound", func(s *readyState) { s.lag = 10_000 }, ""},
		{"lag over the bound", func(s *readyState) { s.lag = 10_001 }, "consumer lag 10001 records > 10000 (health.max_consumer_lag_records)"},
		{"not started", func(s *readyState) { s.started = false }, "aggregator is starting: not consuming yet"},
		{"stopped cleanly", func(s *readyState) { s.stopped = true }, "aggregator stopped"},
		{"stopped with error", func(s *readyState) { s.stopped, s.runErr = true, errors.New("writing to ClickHouse: boom") },
			"aggregator stopped: writing to ClickHouse: boom"},
		{"clickhouse down", func(s *readyState) { s.clickhouseErr = errors.New("dial tcp: connection refused") },
			"ClickHouse at [127.0.0.1:19000] does not answer: dial tcp: connection refused (check clickhouse.addr)"},
		{"kafka down", func(s *readyState) { s.kafkaErr = errors.New("reading the lag of consumer group g from Kafka") }, "from Kafka"},
		{"kafka down hides a stale lag", func(s *readyState) { s.kafkaErr, s.lag = errors.New("joining"), 99_999 }, "joining"},
		{"both down", func(s *readyState) { s.clickhouseErr, s.kafkaErr = errors.New("ch"), errors.New("kafka") }, "does not answer: ch (check clickhouse.addr); kafka"},
		{"clickhouse down and lagging", func(s *readyState) { s.clickhouseErr, s.lag = errors.New("ch"), 20_000 }, "; consumer lag 20000 records > 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.mutate(&s)
			err := readiness(s, addr)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("not ready: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want a reason containing %q", err, tt.want)
			}
			if strings.Contains(tt.name, "hides") && strings.Contains(err.Error(), "99999") {
				t.Fatalf("reason %q quotes a lag that was not read", err)
			}
		})
	}
}

func TestHealthConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if c.Health.maxLag() != 10_000 {
		t.Fatalf("default bound %d, want 10000", c.Health.maxLag())
	}
	c.Health.MaxConsumerLagRecords = 0
	if err := c.Validate(); err != nil || c.Health.maxLag() != 10_000 {
		t.Fatalf("0: Validate %v, bound %d; want valid and the default", err, c.Health.maxLag())
	}
	c.Health.MaxConsumerLagRecords = -5
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "health.max_consumer_lag_records") || !errors.Is(err, ErrConfig) {
		t.Fatalf("Validate = %v, want an ErrConfig naming health.max_consumer_lag_records", err)
	}
}
