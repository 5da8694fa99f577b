package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// wsNode is a go-ethereum JSON-RPC server over websocket whose eth_getLogs
// answers one empty log per requested block padded to pad bytes per block.
type wsNode struct{ pad atomic.Int64 }

func (n *wsNode) ChainId() hexutil.Uint64     { return 137 }
func (n *wsNode) BlockNumber() hexutil.Uint64 { return 1_000_000 }
func (n *wsNode) GetLogs(q map[string]json.RawMessage) ([]map[string]any, error) {
	from, to := hexNum(q["fromBlock"]), hexNum(q["toBlock"])
	var out []map[string]any
	for b := from; b <= to; b++ {
		out = append(out, map[string]any{"address": "0x0000000000000000000000000000000000000001", "topics": []string{},
			"data": "0x" + strings.Repeat("00", int(n.pad.Load())/2), "blockNumber": hexutil.Uint64(b), "transactionHash": "0x" + strings.Repeat("0", 63) + "1",
			"transactionIndex": "0x0", "blockHash": "0x" + strings.Repeat("0", 63) + "1", "logIndex": "0x0", "removed": false})
	}
	return out, nil
}

// TestWebsocketResponseLimit: on a ws endpoint rpc_max_response_bytes is the
// websocket message limit, and an eth_getLogs answer over it halves the
// range like an HTTP one; a single block over it fails naming the key.
func TestWebsocketResponseLimit(t *testing.T) {
	srv := gethrpc.NewServer()
	t.Cleanup(srv.Stop)
	node := &wsNode{}
	node.pad.Store(1000)
	if err := srv.RegisterName("eth", node); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.WebsocketHandler([]string{"*"}))
	t.Cleanup(hs.Close)
	m, mp := newMetrics()
	cfg := testConfig(secret.URL("ws" + strings.TrimPrefix(hs.URL, "http")))
	cfg.MaxResponseBytes = 16 << 10 // about 12 blocks' logs
	c := mustNew(t, cfg, nil, &metricProvider{mp}, nil)
	logs, err := c.Logs(context.Background(), 1000, 1099, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 100 || logs[0].BlockNumber != 1000 || logs[99].BlockNumber != 1099 {
		t.Fatalf("%d logs", len(logs))
	}
	if got := m.counts(t, "rpc_responses_rejected"); sum(got) == 0 {
		t.Fatalf("no rejection counted: %v", got)
	}
	node.pad.Store(32 << 10)
	_, err = c.Logs(context.Background(), 2000, 2000, pool, nil)
	if !errors.Is(err, ErrRangeExhausted) || !strings.Contains(err.Error(), "raise rpc_max_response_bytes") {
		t.Fatalf("err = %v", err)
	}
}
