package testsupport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Environment variables read by the fixtures.
const (
	EnvKafka      = "LIQSTREAM_TEST_KAFKA_BROKERS"
	EnvClickHouse = "LIQSTREAM_TEST_CLICKHOUSE_ADDR"
	EnvSeed       = "LIQSTREAM_TEST_SEED"
)

const skipHint = "run `make test`, which starts the real servers, or start them with scripts/ and set %s"

// KafkaBrokers returns the real broker's addresses or skips the test.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	v := os.Getenv(EnvKafka)
	if v == "" {
		t.Skipf("integration test needs Kafka: "+skipHint, EnvKafka)
	}
	return strings.Split(v, ",")
}

// ClickHouseAddr returns the real ClickHouse native address or skips the test.
func ClickHouseAddr(t testing.TB) string {
	t.Helper()
	v := os.Getenv(EnvClickHouse)
	if v == "" {
		t.Skipf("integration test needs ClickHouse: "+skipHint, EnvClickHouse)
	}
	return v
}

// seeds holds each running test's seed, so that every Seed call of one
// test returns the same value and a failure prints one seed that replays
// the whole run.
var seeds sync.Map // testing.TB → int64

// Seed returns the seed for a test's randomness: LIQSTREAM_TEST_SEED when set,
// otherwise one derived from the clock. Every call within one test (or
// subtest) returns the same seed. It is logged when the test fails so the
// run can be repeated.
func Seed(t testing.TB) int64 {
	t.Helper()
	if s, ok := seeds.Load(t); ok {
		return s.(int64)
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv(EnvSeed); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q is not an integer", EnvSeed, v)
		}
		seed = s
	}
	seeds.Store(t, seed)
	t.Cleanup(func() {
		seeds.Delete(t)
		if t.Failed() {
			t.Logf("random seed: %d (repeat with %s=%d)", seed, EnvSeed, seed)
		}
	})
	return seed
}

// UniqueName returns prefix plus a random suffix, for databases, topics and
// consumer groups that must not collide between tests and runs.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// ClickHouseDB creates a fresh database on the real server, drops it when the
// test ends (unless it failed, to help debugging), and returns its name and an
// open connection to it.
func ClickHouseDB(t testing.TB) (string, driver.Conn) {
	t.Helper()
	addr := ClickHouseAddr(t)
	db := UniqueName("liqstream_test")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatalf("connecting to ClickHouse at %s: %v", addr, err)
	}
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("creating database %s: %v", db, err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatalf("connecting to ClickHouse database %s: %v", db, err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		if !t.Failed() {
			_ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		} else {
			t.Logf("kept ClickHouse database %s for inspection", db)
		}
		_ = admin.Close()
	})
	return db, conn
}

// Eventually polls cond every interval until it returns true or the timeout
// passes, then fails the test with msg. It bounds every wait in a test.
func Eventually(t testing.TB, timeout, interval time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, fmt.Sprintf(msg, args...))
		}
		time.Sleep(interval)
	}
}
