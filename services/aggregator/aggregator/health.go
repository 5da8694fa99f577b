package aggregator

import (
	"context"
	"fmt"
	"sync"
)

// HealthConfig bounds readiness (/readyz). YAML key "health".
type HealthConfig struct {
	// MaxConsumerLagRecords: the aggregator is not ready while the records
	// of its partitions not yet committed by the group exceed this; 0 takes
	// the default 10000.
	MaxConsumerLagRecords int64 `yaml:"max_consumer_lag_records"`
}

// DefaultMaxConsumerLagRecords is the default of MaxConsumerLagRecords.
const DefaultMaxConsumerLagRecords = 10_000

// DefaultHealthConfig returns the documented defaults.
func DefaultHealthConfig() HealthConfig {
	return HealthConfig{MaxConsumerLagRecords: DefaultMaxConsumerLagRecords}
}

func (h HealthConfig) maxLag() int64 {
	if h.MaxConsumerLagRecords == 0 {
		return DefaultMaxConsumerLagRecords
	}
	return h.MaxConsumerLagRecords
}

// Validate names the bad key.
func (h HealthConfig) Validate() error {
	if h.MaxConsumerLagRecords < 0 {
		return fmt.Errorf("%w: health.max_consumer_lag_records: %d is negative (0 takes the default %d)", ErrConfig, h.MaxConsumerLagRecords, DefaultMaxConsumerLagRecords)
	}
	return nil
}

// healthState is Run's state as readiness sees it.
type healthState struct {
	cfg  HealthConfig
	addr []string // ClickHouse addresses, for reasons

	mu      sync.Mutex
	started bool
	stopped bool
	err     error
}

func (h *healthState) running(on bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if on {
		h.started = true
		return
	}
	h.stopped, h.err = true, err
}

// readyState is a snapshot of what readiness depends on.
type readyState struct {
	started, stopped bool
	runErr           error
	clickhouseErr    error // a ping
	kafkaErr         error // reading the committed lag
	lag, maxLag      int64
}

// readiness applies the rules: ready means consuming, ClickHouse answers a
// ping, Kafka answers the lag query of this member's partitions, and that
// lag is at most the bound.
func readiness(s readyState, addr []string) error {
	switch {
	case s.stopped && s.runErr != nil:
		return fmt.Errorf("aggregator stopped: %v", s.runErr)
	case s.stopped:
		return fmt.Errorf("aggregator stopped")
	case !s.started:
		return fmt.Errorf("aggregator is starting: not consuming yet")
	}
	var reasons []string
	if s.clickhouseErr != nil {
		reasons = append(reasons, fmt.Sprintf("ClickHouse at %v does not answer: %v (check clickhouse.addr)", addr, s.clickhouseErr))
	}
	if s.kafkaErr != nil {
		reasons = append(reasons, s.kafkaErr.Error())
	} else if s.lag > s.maxLag {
		reasons = append(reasons, fmt.Sprintf("consumer lag %d records > %d (health.max_consumer_lag_records)", s.lag, s.maxLag))
	}
	switch len(reasons) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s", reasons[0])
	}
	return fmt.Errorf("%s; %s", reasons[0], reasons[1])
}

// Ready reports whether the aggregator is connected and caught up within
// the configured bounds (nil), or why not; see readiness. It pings
// ClickHouse and asks Kafka for the group's offsets, within ctx. It is the
// /readyz check of cmd/aggregator.
func (a *Aggregator) Ready(ctx context.Context) error {
	h := &a.health
	h.mu.Lock()
	s := readyState{started: h.started, stopped: h.stopped, runErr: h.err, maxLag: h.cfg.maxLag()}
	h.mu.Unlock()
	if s.started && !s.stopped {
		s.clickhouseErr = a.store.Conn().Ping(ctx)
		s.lag, s.kafkaErr = a.consumer.CommittedLag(ctx)
	}
	return readiness(s, h.addr)
}
