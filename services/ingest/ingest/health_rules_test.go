package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReadinessRules(t *testing.T) {
	ok := readyState{chain: "ethereum", started: true, txnTimeout: 30 * time.Second, head: 1000, next: 937, maxLag: 128}
	tests := []struct {
		name   string
		mutate func(s *readyState)
		want   string // substring of the reason; "" = ready
	}{
		{"caught up", func(*readyState) {}, ""},
		{"lag at the bound", func(s *readyState) { s.next = 1000 - 128 }, ""},
		{"lag one over the bound", func(s *readyState) { s.next = 1000 - 129 },
			"ingest of ethereum is catching up: head lag 129 blocks > 128 (health.max_head_lag_blocks; next block 871, head 1000)"},
		{"next past the head", func(s *readyState) { s.next = 1005 }, ""},
		{"not started", func(s *readyState) { s.started = false }, "ingest of ethereum is starting"},
		{"not started even if lag is fine", func(s *readyState) { s.started, s.head, s.next = false, 0, 0 }, "starting"},
		{"stopped", func(s *readyState) { s.err = errors.New("rpc: boom") }, "ingest of ethereum stopped: rpc: boom"},
		{"stopped wins over done", func(s *readyState) { s.err, s.done = errors.New("x"), true }, "stopped"},
		{"backfill done", func(s *readyState) { s.done, s.next = true, 10 }, ""},
		{"rpc failing", func(s *readyState) { s.rpcErr = errors.New("the last 3 RPC attempt(s) on ethereum failed") }, "RPC attempt(s) on ethereum failed"},
		{"kafka transaction short", func(s *readyState) { s.kafkaBusy = 29 * time.Second }, ""},
		{"kafka transaction stuck", func(s *readyState) { s.kafkaBusy = 31 * time.Second },
			"a Kafka transaction of ethereum has been open for 31s, over the transaction timeout 30s: check that kafka.brokers are reachable"},
		{"rpc reason before lag", func(s *readyState) { s.rpcErr, s.next = errors.New("rpc down"), 0 }, "rpc down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.mutate(&s)
			err := readiness(s)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("not ready: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want a reason containing %q", err, tt.want)
			}
		})
	}
}

func TestHealthConfig(t *testing.T) {
	tests := []struct {
		max           int64
		confirmations uint64
		want          uint64
	}{
		{0, 64, 128},
		{0, 200, 400},
		{0, 0, MinHeadLagBlocks},
		{0, 1, MinHeadLagBlocks},
		{50, 64, 50},
	}
	for _, tt := range tests {
		if got := (HealthConfig{MaxHeadLagBlocks: tt.max}).maxHeadLag(tt.confirmations); got != tt.want {
			t.Errorf("max %d confirmations %d: bound %d, want %d", tt.max, tt.confirmations, got, tt.want)
		}
	}
	c := validConfig()
	c.Health.MaxHeadLagBlocks = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "health.max_head_lag_blocks") || !errors.Is(err, ErrConfig) {
		t.Fatalf("Validate = %v, want an ErrConfig naming health.max_head_lag_blocks", err)
	}
}
