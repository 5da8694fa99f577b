package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// The answer path's shortcuts (hand-written decoders of eth_call and block
// parameters, hand-rendered headers, int64 prices) are checked here against
// the encoding/json and go-ethereum code they replace, which is kept below
// as the reference.

var (
	shortOnce sync.Once
	shortSim  *Sim
	shortErr  error
)

// shortcutChain is a small chain with a reorged tail (repriced oracle).
func shortcutChain(t testing.TB) *chainState {
	t.Helper()
	shortOnce.Do(func() {
		shortSim, shortErr = New(Config{Seed: 8, Scale: 0.05, Chains: []uint64{1}, ReorgPriceShiftBps: 40})
		if shortErr == nil {
			_, shortErr = shortSim.Reorg(1, 50, 2)
		}
	})
	if shortErr != nil {
		t.Fatal(shortErr)
	}
	return shortSim.chains[1]
}

// refBlockNumber is blockNumber's string case as it was, with encoding/json
// and hexutil.
func refBlockNumber(c *chainState, raw json.RawMessage) (uint64, *rpcError) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, errParams("invalid block parameter %s: want a hex quantity or a tag", raw)
	}
	switch s {
	case "latest", "pending":
		return c.head.Load(), nil
	case "safe":
		return c.lag(c.safeDepth), nil
	case "finalized":
		return c.lag(c.finalDepth), nil
	case "earliest":
		return 0, nil
	}
	n, err := hexutil.DecodeUint64(s)
	if err != nil {
		return 0, errParams("invalid block parameter %q: %v", s, err)
	}
	return n, nil
}

// headerJSON and refHeader are the header as json.Marshal rendered it.
type headerJSON struct {
	Number           string        `json:"number"`
	Hash             common.Hash   `json:"hash"`
	ParentHash       common.Hash   `json:"parentHash"`
	Nonce            string        `json:"nonce"`
	MixHash          common.Hash   `json:"mixHash"`
	Sha3Uncles       common.Hash   `json:"sha3Uncles"`
	LogsBloom        types.Bloom   `json:"logsBloom"`
	TransactionsRoot common.Hash   `json:"transactionsRoot"`
	StateRoot        common.Hash   `json:"stateRoot"`
	ReceiptsRoot     common.Hash   `json:"receiptsRoot"`
	Miner            string        `json:"miner"`
	Difficulty       string        `json:"difficulty"`
	TotalDifficulty  string        `json:"totalDifficulty"`
	ExtraData        string        `json:"extraData"`
	Size             string        `json:"size"`
	GasLimit         string        `json:"gasLimit"`
	GasUsed          string        `json:"gasUsed"`
	Timestamp        string        `json:"timestamp"`
	BaseFeePerGas    string        `json:"baseFeePerGas"`
	Transactions     []string      `json:"transactions"`
	Uncles           []common.Hash `json:"uncles"`
}

func refHeader(c *chainState, n uint64) []byte {
	h := c.blockHash(n)
	parent := common.Hash{}
	if n > 0 {
		parent = c.blockHash(n - 1)
	}
	var bloom types.Bloom
	for _, l := range c.logsIn(n, n) {
		bloom.Add(l.address.Bytes())
		for _, t := range l.topics {
			bloom.Add(t.Bytes())
		}
	}
	used := c.gasLimit / 4 * uint64(h[1]) / 255 * 2
	baseFee := uint64(h[2])*40_000_000 + 10_000_000
	return mustJSON(headerJSON{
		Number: hexutil.EncodeUint64(n), Hash: h, ParentHash: parent, Nonce: "0x0000000000000000",
		MixHash: common.BytesToHash(h[4:]), Sha3Uncles: types.EmptyUncleHash, LogsBloom: bloom,
		TransactionsRoot: types.EmptyTxsHash, StateRoot: common.BytesToHash(append(h[16:], h[:16]...)),
		ReceiptsRoot: types.EmptyReceiptsHash, Miner: strings.ToLower(derivedAddress(c.hash.seed, c.id, "miner", n%7).Hex()),
		Difficulty: "0x0", TotalDifficulty: "0x0", ExtraData: "0x", Size: "0x2a0",
		GasLimit: hexutil.EncodeUint64(c.gasLimit), GasUsed: hexutil.EncodeUint64(used),
		Timestamp: hexutil.EncodeUint64(uint64(c.clk.time(n))), BaseFeePerGas: hexutil.EncodeUint64(baseFee),
		Transactions: []string{}, Uncles: []common.Hash{},
	})
}

// TestHeaderMatchesMarshal renders headers of seeded random blocks, blocks
// with logs and reorged blocks both ways.
func TestHeaderMatchesMarshal(t *testing.T) {
	c := shortcutChain(t)
	r := rand.New(rand.NewPCG(3, 4))
	head := c.head.Load()
	blocks := []uint64{0, 1, head, head - 1, head - 49, head - 50}
	for i := 0; i < len(c.logs); i += 7 {
		blocks = append(blocks, c.logs[i].pos.block)
	}
	for range 2_000 {
		blocks = append(blocks, r.Uint64N(head+1))
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, n := range blocks {
		if got, want := c.appendHeader(nil, n), refHeader(c, n); !bytes.Equal(got, want) {
			t.Fatalf("block %d:\ngot  %s\nwant %s", n, got, want)
		}
	}
}

// TestPriceWordMatchesBig compares appendPriceWord with the big.Int price
// word, in original and reorged (repriced) blocks.
func TestPriceWordMatchesBig(t *testing.T) {
	c := shortcutChain(t)
	r := rand.New(rand.NewPCG(5, 6))
	head := c.head.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i := range 5_000 {
		n := r.Uint64N(head + 1)
		if i%3 == 0 {
			n = head - r.Uint64N(60) // reorged blocks among them
		}
		if i%50 == 0 {
			n = r.Uint64() >> 20 // far outside the window
		}
		a := &c.assets[r.IntN(len(c.assets))]
		if got, want := c.appendPriceWord(nil, a, n), uintWord(c.priceAt(a, n)); !bytes.Equal(got, want) {
			t.Fatalf("%s at block %d: %x, want %x", a.Symbol, n, got, want)
		}
	}
}

// TestJitterTableMatchesKeccak compares the precomputed jitter with the
// keccak it replaces, over the table and beyond its edges.
func TestJitterTableMatchesKeccak(t *testing.T) {
	c := shortcutChain(t)
	for _, a := range c.assets {
		tab := c.prices.jitter[a.jitter]
		if len(tab) == 0 {
			t.Fatalf("no jitter table for %s", a.jitter)
		}
		for h := c.prices.h0 - 3; h < c.prices.h0+int64(len(tab))+3; h++ {
			if got, want := c.prices.jitterPPM(&a, h), c.prices.computeJitterPPM(&a, h); got != want {
				t.Fatalf("%s hour %d: %d, want %d", a.Symbol, h, got, want)
			}
		}
	}
}

// paramCorpus holds eth_call objects, block parameters and hashes, good and
// bad, for the decoder tests and fuzz seeds.
var paramCorpus = []string{
	`{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","data":"0x95d89b41"}`,
	`{"to":"0x7ceB23fD6bC0adD59E62ac25578270cFf1b9f619","input":"0xB3596F07000000000000000000000000c2132d05d31c914a87c6611c10748aeb04b58e8f"}`,
	`{"from":"0x0000000000000000000000000000000000000001","to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","gas":"0x1000","data":"0x","input":"0x01"}`,
	`{ "to" : "0x7ceb23fd6bc0add59e62ac25578270cff1b9f619" , "data" : "0x313ce567" , "value":null, "x":[1,{"y":2}] }`,
	`{}`, `{"to":null,"data":"0x00"}`, `{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f61","data":"0x00"}`,
	`{"to":"0X7ceb23fd6bc0add59e62ac25578270cff1b9f619","data":"0x00"}`, `{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","data":"0x0"}`,
	`{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","data":"0xzz"}`, `{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","data":"00"}`,
	`{"To":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","data":"0x00"}`, `{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","DATA":"0x00"}`,
	`{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","data":"0x00","data":"0x01"}`, `{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","data":5}`,
	`{"t\u006f":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619"}`, "{\"\u212a\":1,\"to\":\"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619\"}",
	`{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619","data":"0x00"} `, `{"to":"0x7ceb23fd6bc0add59e62ac25578270cff1b9f619",}`,
	`"latest"`, `"safe"`, `"finalized"`, `"earliest"`, `"pending"`, `"0x0"`, `"0x00"`, `"0x1"`, `"0xA"`, `"0Xa"`, `"0x"`, `""`, `"12"`,
	`"0xffffffffffffffff"`, `"0x10000000000000000"`, `"0x0000000000000001"`, `"0xg"`, `"lat\u0065st"`, `"0x1\u0030"`, "\"0x1\xff\"", `12`, `null`, `true`, `[]`,
	`"0x` + strings.Repeat("ab", 32) + `"`, `"0x` + strings.Repeat("AB", 32) + `"`, `"0x` + strings.Repeat("ab", 31) + `"`, `"0X` + strings.Repeat("ab", 32) + `"`,
}

// checkCallArgs fails when fastCallArgs claims raw but decodes it otherwise
// than json.Unmarshal into callArgs.
func checkCallArgs(t *testing.T, raw []byte) bool {
	t.Helper()
	fast, ok := fastCallArgs(raw)
	if !ok {
		return false
	}
	var ref callArgs
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("%q: fast path decoded what encoding/json refuses: %v", raw, err)
	}
	same := func(a, b *hexutil.Bytes) bool { return (a == nil) == (b == nil) && (a == nil || bytes.Equal(*a, *b)) }
	if (fast.To == nil) != (ref.To == nil) || fast.To != nil && *fast.To != *ref.To || !same(fast.Data, ref.Data) || !same(fast.Input, ref.Input) {
		t.Fatalf("%q: fast %s, encoding/json %s", raw, describeArgs(fast), describeArgs(ref))
	}
	return true
}

func describeArgs(a callArgs) string {
	return fmt.Sprintf("to=%v data=%v input=%v", a.To, a.Data, a.Input)
}

// checkBlockParam fails when blockNumber answers raw otherwise than the
// encoding/json and hexutil code it replaces.
func checkBlockParam(t *testing.T, c *chainState, raw []byte) {
	t.Helper()
	if len(raw) == 0 || raw[0] == '{' || string(raw) == "null" {
		return // not the string case
	}
	n, err := c.blockNumber(raw, false)
	rn, rerr := refBlockNumber(c, raw)
	if n != rn || fmt.Sprint(err) != fmt.Sprint(rerr) {
		t.Fatalf("block parameter %q: %d, %v; want %d, %v", raw, n, err, rn, rerr)
	}
}

// checkHash fails when fixedHex claims raw but reads another hash than
// common.Hash's UnmarshalJSON.
func checkHash(t *testing.T, raw []byte) {
	t.Helper()
	var fast common.Hash
	if !fixedHex(fast[:], raw) {
		return
	}
	var ref common.Hash
	if err := json.Unmarshal(raw, &ref); err != nil || ref != fast {
		t.Fatalf("hash %q: fast %s, encoding/json %s, %v", raw, fast, ref, err)
	}
}

func TestParamDecodersMatchLibrary(t *testing.T) {
	c := shortcutChain(t)
	claimed := 0
	for _, raw := range paramCorpus {
		if checkCallArgs(t, []byte(raw)) {
			claimed++
		}
		checkBlockParam(t, c, []byte(raw))
		checkHash(t, []byte(raw))
	}
	if claimed < 5 {
		t.Fatalf("the fast decoder claimed only %d call objects", claimed)
	}
}

func FuzzParamDecoders(f *testing.F) {
	c := shortcutChain(f)
	for _, raw := range paramCorpus {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkCallArgs(t, raw)
		checkBlockParam(t, c, raw)
		checkHash(t, raw)
	})
}
