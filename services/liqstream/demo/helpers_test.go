package demo

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func bigInt(v int64) *big.Int { return big.NewInt(v) }

// dropDatabase removes a test's database unless the test failed.
func dropDatabase(t *testing.T, cfg Config) {
	t.Helper()
	if t.Failed() {
		t.Logf("kept ClickHouse database %s for inspection", cfg.Database)
		return
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{cfg.ClickHouseAddr}})
	if err != nil {
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database)
}
