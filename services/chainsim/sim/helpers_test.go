package sim_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

// testSeed returns LIQSTREAM_TEST_SEED when set, otherwise a fresh random
// seed, and logs it on failure so the run can be reproduced.
func testSeed(t testing.TB) int64 {
	t.Helper()
	seed := time.Now().UnixNano() % 1_000_000
	if s := os.Getenv("LIQSTREAM_TEST_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("LIQSTREAM_TEST_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d: rerun with LIQSTREAM_TEST_SEED=%d", seed, seed)
		}
	})
	return seed
}

// sims caches generated simulations by config: they are immutable apart
// from the head, which tests that move it must not share.
var (
	simsMu sync.Mutex
	sims   = map[string]*sim.Sim{}
)

// sharedSim returns a cached Sim for (seed, scale); callers must not SetHead.
func sharedSim(t testing.TB, seed int64, scale float64) *sim.Sim {
	t.Helper()
	key := strconv.FormatInt(seed, 10) + "/" + strconv.FormatFloat(scale, 'g', -1, 64)
	simsMu.Lock()
	defer simsMu.Unlock()
	if s, ok := sims[key]; ok {
		return s
	}
	s := newSim(t, sim.Config{Seed: seed, Scale: scale})
	sims[key] = s
	return s
}

func newSim(t testing.TB, cfg sim.Config) *sim.Sim {
	t.Helper()
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("sim.New(%+v): %v", cfg, err)
	}
	return s
}

// serve starts s on a free port and stops it when the test ends.
func serve(t testing.TB, s *sim.Sim) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	url, err := s.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	return url
}
