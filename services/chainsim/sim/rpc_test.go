package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/liqstream/liqstream/services/chainsim/sim"
)

const poolABI = `[{"type":"event","name":"LiquidationCall","anonymous":false,"inputs":[
 {"name":"collateralAsset","type":"address","indexed":true},
 {"name":"debtAsset","type":"address","indexed":true},
 {"name":"user","type":"address","indexed":true},
 {"name":"debtToCover","type":"uint256","indexed":false},
 {"name":"liquidatedCollateralAmount","type":"uint256","indexed":false},
 {"name":"liquidator","type":"address","indexed":false},
 {"name":"receiveAToken","type":"bool","indexed":false}]}]`

const oracleABI = `[
 {"type":"function","name":"getAssetPrice","stateMutability":"view","inputs":[{"name":"asset","type":"address"}],"outputs":[{"name":"","type":"uint256"}]},
 {"type":"function","name":"getAssetsPrices","stateMutability":"view","inputs":[{"name":"assets","type":"address[]"}],"outputs":[{"name":"","type":"uint256[]"}]},
 {"type":"function","name":"BASE_CURRENCY_UNIT","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"uint256"}]},
 {"type":"function","name":"symbol","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"string"}]},
 {"type":"function","name":"decimals","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"uint8"}]}]`

const bytes32SymbolABI = `[{"type":"function","name":"symbol","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"bytes32"}]}]`

func mustABI(t testing.TB, s string) abi.ABI {
	t.Helper()
	a, err := abi.JSON(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func dial(t testing.TB, url string) (*ethclient.Client, *rpc.Client) {
	t.Helper()
	rc, err := rpc.DialContext(context.Background(), url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(rc.Close)
	return ethclient.NewClient(rc), rc
}

// rawHeader is what the node serves, including its own hash (types.Header's
// Hash() recomputes an RLP hash instead).
type rawHeader struct {
	Number     hexutil.Uint64 `json:"number"`
	Hash       common.Hash    `json:"hash"`
	ParentHash common.Hash    `json:"parentHash"`
	Timestamp  hexutil.Uint64 `json:"timestamp"`
}

func TestRPCHeaders(t *testing.T) {
	s := sharedSim(t, 11, 0.1)
	url := serve(t, s)
	ctx := context.Background()
	for _, id := range s.Chains() {
		for _, path := range []string{"/" + fmt.Sprint(id), "/" + slug(id)} {
			t.Run(path, func(t *testing.T) {
				ec, rc := dial(t, url+path)
				if got, err := ec.ChainID(ctx); err != nil || got.Uint64() != id {
					t.Fatalf("ChainID = %v, %v", got, err)
				}
				head := s.Head(id)
				if got, err := ec.BlockNumber(ctx); err != nil || got != head {
					t.Fatalf("BlockNumber = %d, %v; want %d", got, err, head)
				}
				tags := []struct {
					num  *big.Int
					want uint64
				}{
					{nil, head},
					{big.NewInt(int64(rpc.LatestBlockNumber)), head},
					{big.NewInt(int64(rpc.SafeBlockNumber)), s.Safe(id)},
					{big.NewInt(int64(rpc.FinalizedBlockNumber)), s.Finalized(id)},
					{big.NewInt(int64(head - 1000)), head - 1000},
				}
				for _, tag := range tags {
					h, err := ec.HeaderByNumber(ctx, tag.num)
					if err != nil || h.Number.Uint64() != tag.want {
						t.Fatalf("HeaderByNumber(%v) = %v, %v; want %d", tag.num, h, err, tag.want)
					}
					if h.Time != uint64(s.BlockTime(id, tag.want).Unix()) {
						t.Fatalf("header %d time %d", tag.want, h.Time)
					}
				}
				if s.Finalized(id) >= head || s.Safe(id) >= head || s.Finalized(id) > s.Safe(id) {
					t.Fatalf("safe %d finalized %d head %d", s.Safe(id), s.Finalized(id), head)
				}
				if _, err := ec.HeaderByNumber(ctx, new(big.Int).SetUint64(head+1)); !errors.Is(err, ethereum.NotFound) {
					t.Fatalf("header above head: err = %v, want NotFound", err)
				}
				if _, err := ec.BlockByNumber(ctx, new(big.Int).SetUint64(head-5)); err != nil {
					t.Fatalf("BlockByNumber: %v", err)
				}
				jan1, _ := sim.DefaultWindow()
				anchor, err := ec.HeaderByNumber(ctx, new(big.Int).SetUint64(s.BlockAt(id, jan1)))
				if err != nil || anchor.Time != uint64(jan1.Unix()) {
					t.Fatalf("anchor header %v, %v", anchor, err)
				}

				// A batch of consecutive headers chains by parent hash, with monotonic timestamps.
				start := s.BlockAt(id, jan1) - 10
				batch := make([]rpc.BatchElem, 64)
				hs := make([]*rawHeader, len(batch))
				for i := range batch {
					batch[i] = rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{hexutil.EncodeUint64(start + uint64(i)), false}, Result: &hs[i]}
				}
				if err := rc.BatchCallContext(ctx, batch); err != nil {
					t.Fatal(err)
				}
				for i, el := range batch {
					if el.Error != nil || hs[i] == nil || uint64(hs[i].Number) != start+uint64(i) || hs[i].Hash != s.BlockHash(id, start+uint64(i)) {
						t.Fatalf("batch element %d: %+v, %v", i, hs[i], el.Error)
					}
					if i > 0 && (hs[i].ParentHash != hs[i-1].Hash || hs[i].Timestamp < hs[i-1].Timestamp) {
						t.Fatalf("block %d: parent %s, previous hash %s; time %d after %d", hs[i].Number, hs[i].ParentHash, hs[i-1].Hash, hs[i].Timestamp, hs[i-1].Timestamp)
					}
				}
				var byHash *rawHeader
				if err := rc.CallContext(ctx, &byHash, "eth_getBlockByHash", hs[5].Hash, false); err != nil || byHash == nil || byHash.Number != hs[5].Number {
					t.Fatalf("eth_getBlockByHash = %+v, %v", byHash, err)
				}
			})
		}
	}
}

func slug(id uint64) string {
	return map[uint64]string{ethereumID: "ethereum", polygonID: "polygon", avalancheID: "avalanche", arbitrumID: "arbitrum", baseID: "base"}[id]
}

// TestRPCLogs fetches every LiquidationCall through ethclient, decodes it with
// go-ethereum's abi package and compares it with the truth.
func TestRPCLogs(t *testing.T) {
	s := sharedSim(t, 11, 0.1)
	url := serve(t, s)
	ctx := context.Background()
	pool := mustABI(t, poolABI)
	jan1, mar1 := sim.DefaultWindow()
	for _, id := range s.Chains() {
		t.Run(slug(id), func(t *testing.T) {
			ec, _ := dial(t, url+"/"+slug(id))
			q := ethereum.FilterQuery{
				FromBlock: new(big.Int).SetUint64(s.BlockAt(id, jan1)),
				ToBlock:   new(big.Int).SetUint64(s.Head(id)),
				Addresses: []common.Address{s.Pool(id)},
				Topics:    [][]common.Hash{{sim.TopicLiquidationCall}},
			}
			start := time.Now()
			logs, err := ec.FilterLogs(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d logs over %d blocks in %s", len(logs), s.Head(id)-s.BlockAt(id, jan1), time.Since(start))
			truth := s.Truth().Events(id)
			if len(logs) != len(truth) {
				t.Fatalf("%d logs, %d truth events", len(logs), len(truth))
			}
			for i, l := range logs {
				compareLog(t, pool, l, truth[i])
			}

			// Without the topic filter the pool's other events come too.
			q.Topics = nil
			all, err := ec.FilterLogs(ctx, q)
			if err != nil || len(all) <= len(logs) {
				t.Fatalf("unfiltered: %d logs, %v; want more than %d", len(all), err, len(logs))
			}
			// Another address matches nothing.
			q.Addresses = []common.Address{common.HexToAddress("0x01")}
			if none, err := ec.FilterLogs(ctx, q); err != nil || len(none) != 0 {
				t.Fatalf("other address: %d logs, %v", len(none), err)
			}

			// Filtering by borrower (topics[3]) returns exactly that borrower's events.
			who := truth[len(truth)/2].Borrower
			q.Addresses = nil
			q.Topics = [][]common.Hash{{sim.TopicLiquidationCall}, nil, nil, {common.BytesToHash(who.Bytes())}}
			mine, err := ec.FilterLogs(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, ev := range truth {
				if ev.Borrower == who {
					want++
				}
			}
			if len(mine) != want || want == 0 {
				t.Fatalf("borrower filter: %d logs, want %d", len(mine), want)
			}

			// By block hash.
			ev := truth[0]
			byHash, err := ec.FilterLogs(ctx, ethereum.FilterQuery{BlockHash: &ev.BlockHash, Topics: [][]common.Hash{{sim.TopicLiquidationCall}}})
			if err != nil || len(byHash) == 0 || byHash[0].TxHash != ev.TxHash {
				t.Fatalf("by block hash: %v, %v", byHash, err)
			}

			// Window truth agrees with what the logs say.
			if w := s.Truth().Window(id, jan1, mar1); w.Events != uint64(len(logs)) {
				t.Fatalf("window events %d, logs %d", w.Events, len(logs))
			}
		})
	}
}

func compareLog(t *testing.T, pool abi.ABI, l types.Log, ev sim.Event) {
	t.Helper()
	if l.Address != ev.Pool || l.BlockNumber != ev.BlockNumber || l.BlockHash != ev.BlockHash || l.TxHash != ev.TxHash ||
		l.TxIndex != ev.TxIndex || l.Index != ev.LogIndex || l.Removed || len(l.Topics) != 4 {
		t.Fatalf("log %+v does not match event %+v", l, ev)
	}
	if common.BytesToAddress(l.Topics[1].Bytes()) != ev.CollateralAsset ||
		common.BytesToAddress(l.Topics[2].Bytes()) != ev.DebtAsset ||
		common.BytesToAddress(l.Topics[3].Bytes()) != ev.Borrower {
		t.Fatalf("log topics %v do not match event %+v", l.Topics, ev)
	}
	var out struct {
		DebtToCover                *big.Int
		LiquidatedCollateralAmount *big.Int
		Liquidator                 common.Address
		ReceiveAToken              bool
	}
	if err := pool.UnpackIntoInterface(&out, "LiquidationCall", l.Data); err != nil {
		t.Fatalf("decoding log data: %v", err)
	}
	if out.DebtToCover.Cmp(ev.DebtToCover) != 0 || out.LiquidatedCollateralAmount.Cmp(ev.LiquidatedCollateralAmount) != 0 ||
		out.Liquidator != ev.Liquidator || out.ReceiveAToken != ev.ReceiveAToken {
		t.Fatalf("log data %+v does not match event %+v", out, ev)
	}
}

func TestRPCHeadGatesLogs(t *testing.T) {
	s := newSim(t, sim.Config{Seed: 21, Scale: 0.1, Chains: []uint64{baseID}})
	url := serve(t, s)
	ec, _ := dial(t, url+"/base")
	ctx := context.Background()
	truth := s.Truth().Events(baseID)
	mid := truth[len(truth)/2].BlockNumber
	s.SetHead(baseID, mid)
	if n, err := ec.BlockNumber(ctx); err != nil || n != mid {
		t.Fatalf("BlockNumber after SetHead = %d, %v", n, err)
	}
	logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0), Topics: [][]common.Hash{{sim.TopicLiquidationCall}}})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, ev := range truth {
		if ev.BlockNumber <= mid {
			want++
		}
	}
	if len(logs) != want || logs[len(logs)-1].BlockNumber > mid {
		t.Fatalf("with head %d: %d logs, want %d", mid, len(logs), want)
	}
	// An explicit range beyond the head is clamped to it.
	logs, err = ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: new(big.Int).SetUint64(mid + 1), ToBlock: new(big.Int).SetUint64(mid + 1_000_000)})
	if err != nil || len(logs) != 0 {
		t.Fatalf("above head: %d logs, %v", len(logs), err)
	}
	s.SetHead(baseID, mid+1_000_000)
	if logs, err = ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: new(big.Int).SetUint64(mid + 1), ToBlock: new(big.Int).SetUint64(mid + 1_000_000)}); err != nil || len(logs) == 0 {
		t.Fatalf("after advancing the head: %d logs, %v", len(logs), err)
	}
}

func TestRPCCalls(t *testing.T) {
	s := sharedSim(t, 11, 0.1)
	url := serve(t, s)
	ctx := context.Background()
	oracle := mustABI(t, oracleABI)
	b32 := mustABI(t, bytes32SymbolABI)
	for _, id := range s.Chains() {
		t.Run(slug(id), func(t *testing.T) {
			ec, _ := dial(t, url+"/"+slug(id))
			call := func(to common.Address, block uint64, method string, a abi.ABI, args ...any) ([]any, error) {
				t.Helper()
				data, err := a.Pack(method, args...)
				if err != nil {
					t.Fatal(err)
				}
				out, err := ec.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, new(big.Int).SetUint64(block))
				if err != nil {
					return nil, err
				}
				return a.Unpack(method, out)
			}
			orc := s.Oracle(id)
			ev := s.Truth().Events(id)[7]
			got, err := call(orc, ev.BlockNumber, "getAssetPrice", oracle, ev.DebtAsset)
			if err != nil || got[0].(*big.Int).Cmp(ev.DebtPriceE8) != 0 {
				t.Fatalf("getAssetPrice = %v, %v; want %s", got, err, ev.DebtPriceE8)
			}
			got, err = call(orc, ev.BlockNumber, "getAssetsPrices", oracle, []common.Address{ev.CollateralAsset, ev.DebtAsset})
			if ps, _ := got[0].([]*big.Int); err != nil || len(ps) != 2 || ps[0].Cmp(ev.CollateralPriceE8) != 0 || ps[1].Cmp(ev.DebtPriceE8) != 0 {
				t.Fatalf("getAssetsPrices = %v, %v", got, err)
			}
			got, err = call(orc, s.Head(id), "BASE_CURRENCY_UNIT", oracle)
			if err != nil || got[0].(*big.Int).Cmp(big.NewInt(1e8)) != 0 {
				t.Fatalf("BASE_CURRENCY_UNIT = %v, %v", got, err)
			}
			// Prices move with the block's time.
			jan1, _ := sim.DefaultWindow()
			early, _ := call(orc, s.BlockAt(id, jan1), "getAssetPrice", oracle, ev.CollateralAsset)
			late, _ := call(orc, s.BlockAt(id, time.Date(2026, 2, 5, 0, 0, 0, 0, time.UTC)), "getAssetPrice", oracle, ev.CollateralAsset)
			if early[0].(*big.Int).Cmp(late[0].(*big.Int)) == 0 {
				t.Fatalf("price of %s unchanged over a month", ev.CollateralSymbol)
			}
			for _, a := range s.Assets(id) {
				if a.Bytes32Symbol {
					got, err = call(a.Address, s.Head(id), "symbol", b32)
					if sym, _ := got[0].([32]byte); err != nil || strings.TrimRight(string(sym[:]), "\x00") != a.Symbol {
						t.Fatalf("bytes32 symbol of %s = %v, %v", a.Address, got, err)
					}
				} else if got, err = call(a.Address, s.Head(id), "symbol", oracle); err != nil || got[0].(string) != a.Symbol {
					t.Fatalf("symbol of %s = %v, %v", a.Address, got, err)
				}
				if got, err = call(a.Address, s.Head(id), "decimals", oracle); err != nil || got[0].(uint8) != a.Decimals {
					t.Fatalf("decimals of %s = %v, %v", a.Symbol, got, err)
				}
			}
			// Unknown asset, unknown selector, unknown contract, future block.
			for name, fn := range map[string]func() error{
				"unknown asset": func() error {
					_, err := call(orc, s.Head(id), "getAssetPrice", oracle, common.HexToAddress("0xdead"))
					return err
				},
				"unknown selector": func() error { _, err := call(ev.DebtAsset, s.Head(id), "BASE_CURRENCY_UNIT", oracle); return err },
				"unknown contract": func() error { _, err := call(common.HexToAddress("0xbeef"), s.Head(id), "symbol", oracle); return err },
				"future block":     func() error { _, err := call(orc, s.Head(id)+1, "BASE_CURRENCY_UNIT", oracle); return err },
			} {
				if err := fn(); err == nil {
					t.Errorf("%s: call succeeded", name)
				}
			}
		})
	}
}

func TestRPCErrors(t *testing.T) {
	s := newSim(t, sim.Config{Seed: 3, Scale: 0.05, Chains: []uint64{arbitrumID}, MaxLogRange: 100_000, MaxLogResults: 5})
	url := serve(t, s)
	_, rc := dial(t, url+"/arbitrum")
	ctx := context.Background()
	code := func(err error) int {
		var e rpc.Error
		if errors.As(err, &e) {
			return e.ErrorCode()
		}
		return 0
	}
	var out json.RawMessage
	tests := []struct {
		name     string
		method   string
		args     []any
		wantCode int
		wantText string
	}{
		{"unknown method", "eth_foo", nil, -32601, "does not exist"},
		{"from after to", "eth_getLogs", []any{map[string]any{"fromBlock": "0x10", "toBlock": "0x5"}}, -32000, "invalid block range"},
		{"range cap", "eth_getLogs", []any{map[string]any{"fromBlock": "0x0", "toBlock": "0x186a0"}}, -32005, "[0x0, 0x1869f]"},
		{"result cap", "eth_getLogs", []any{map[string]any{"fromBlock": hexutil.EncodeUint64(s.BlockAt(arbitrumID, time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC))), "toBlock": hexutil.EncodeUint64(s.BlockAt(arbitrumID, time.Date(2026, 2, 3, 6, 0, 0, 0, time.UTC)))}}, -32005, "more than 5 results"},
		{"bad block tag", "eth_getBlockByNumber", []any{"pending-ish", false}, -32602, "invalid block"},
		{"bad topic", "eth_getLogs", []any{map[string]any{"topics": []any{"0x12"}}}, -32602, "invalid topic"},
		{"hash and range", "eth_getLogs", []any{map[string]any{"blockHash": s.BlockHash(arbitrumID, 5), "fromBlock": "0x1"}}, -32602, "blockHash"},
		{"unknown block hash", "eth_getLogs", []any{map[string]any{"blockHash": common.HexToHash("0x1234")}}, -32000, "unknown block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rc.CallContext(ctx, &out, tt.method, tt.args...)
			if code(err) != tt.wantCode || !strings.Contains(fmt.Sprint(err), tt.wantText) {
				t.Fatalf("err = %v (code %d), want code %d containing %q", err, code(err), tt.wantCode, tt.wantText)
			}
		})
	}

	// Following the suggested ranges (first the range cap, then the result
	// cap) converges on a request that succeeds.
	req := map[string]any{"fromBlock": hexutil.EncodeUint64(s.BlockAt(arbitrumID, time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC))), "toBlock": "latest"}
	var logs []json.RawMessage
	for i := 0; ; i++ {
		err := rc.CallContext(ctx, &logs, "eth_getLogs", req)
		if err == nil {
			break
		}
		_, suggested, ok := strings.Cut(err.Error(), "block range [")
		if !ok || i == 5 {
			t.Fatalf("attempt %d: %v", i, err)
		}
		lo, hi, _ := strings.Cut(strings.TrimSuffix(suggested, "]."), ", ")
		req = map[string]any{"fromBlock": lo, "toBlock": hi}
	}
	if len(logs) == 0 || len(logs) > 5 {
		t.Fatalf("%d logs for %v", len(logs), req)
	}

	// Malformed JSON, an empty batch, an unknown chain and ids of any type.
	raw := []struct {
		name, path, body, want string
		status                 int
	}{
		{"malformed", "/arbitrum", `{"jsonrpc":`, `"code":-32700`, 200},
		{"empty batch", "/arbitrum", `[]`, `"code":-32600`, 200},
		{"string id", "/42161", `{"jsonrpc":"2.0","id":"abc","method":"eth_chainId"}`, `{"jsonrpc":"2.0","id":"abc","result":"0xa4b1"}`, 200},
		{"batch", "/arbitrum", `[{"jsonrpc":"2.0","id":1,"method":"net_version"},{"jsonrpc":"2.0","id":2,"method":"nope"}]`, `[{"jsonrpc":"2.0","id":1,"result":"42161"},{"jsonrpc":"2.0","id":2,"error":{"code":-32601`, 200},
		{"unknown chain", "/solana", `{}`, "unknown chain", 404},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(url+tt.path, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Fatalf("status %d body %s; want %d containing %s", resp.StatusCode, b, tt.status, tt.want)
			}
		})
	}
}

// post sends one body to s's handler in-process and returns the answer.
func post(t testing.TB, s *sim.Sim, path, body string) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("POST %s: status %d: %s", path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}
