package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

// multicall3ABI is aggregate3 from the real Multicall3 ABI
// (github.com/mds1/multicall3, as published at multicall3.com).
const multicall3ABI = `[{"inputs":[{"components":[{"internalType":"address","name":"target","type":"address"},{"internalType":"bool","name":"allowFailure","type":"bool"},{"internalType":"bytes","name":"callData","type":"bytes"}],"internalType":"struct Multicall3.Call3[]","name":"calls","type":"tuple[]"}],"name":"aggregate3","outputs":[{"components":[{"internalType":"bool","name":"success","type":"bool"},{"internalType":"bytes","name":"returnData","type":"bytes"}],"internalType":"struct Multicall3.Result[]","name":"returnData","type":"tuple[]"}],"stateMutability":"payable","type":"function"}]`

// call3 and result3 mirror Multicall3's Call3 and Result structs for the
// abi package.
type call3 struct {
	Target       common.Address
	AllowFailure bool
	CallData     []byte
}

type result3 struct {
	Success    bool
	ReturnData []byte
}

func packAggregate3(t testing.TB, mc abi.ABI, calls []call3) []byte {
	t.Helper()
	data, err := mc.Pack("aggregate3", calls)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func unpackAggregate3(t testing.TB, mc abi.ABI, out []byte) []result3 {
	t.Helper()
	vs, err := mc.Unpack("aggregate3", out)
	if err != nil {
		t.Fatalf("unpacking aggregate3's answer %x: %v", out, err)
	}
	var rs []result3
	if err := mc.Methods["aggregate3"].Outputs.Copy(&rs, vs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// ethCall sends one eth_call and returns its raw result or error.
func ethCall(t testing.TB, rc *rpc.Client, to common.Address, data []byte, block uint64) ([]byte, error) {
	t.Helper()
	var out hexutil.Bytes
	err := rc.CallContext(context.Background(), &out, "eth_call", map[string]any{"to": to, "data": hexutil.Bytes(data)}, hexutil.EncodeUint64(block))
	return out, err
}

func TestMulticall3(t *testing.T) {
	const id = polygonID
	s := newSim(t, sim.Config{Seed: 12, Scale: 0.05, Chains: []uint64{id}})
	_, rc := dial(t, serve(t, s)+"/polygon")
	mc, orc, b32 := mustABI(t, multicall3ABI), mustABI(t, oracleABI), mustABI(t, bytes32SymbolABI)
	_ = b32
	ev := s.Truth().Events(id)[4]
	n := ev.BlockNumber
	pack := func(a abi.ABI, method string, args ...any) []byte {
		data, err := a.Pack(method, args...)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	price := call3{s.Oracle(id), false, pack(orc, "getAssetPrice", ev.DebtAsset)}
	prices := call3{s.Oracle(id), false, pack(orc, "getAssetsPrices", []common.Address{ev.CollateralAsset, ev.DebtAsset})}
	symbol := call3{ev.CollateralAsset, false, pack(orc, "symbol")}
	decimals := call3{ev.DebtAsset, false, pack(orc, "decimals")}
	badAsset := call3{s.Oracle(id), true, pack(orc, "getAssetPrice", common.HexToAddress("0xdead"))}
	noContract := call3{common.HexToAddress("0xbeef"), true, pack(orc, "symbol")}
	short := call3{s.Oracle(id), true, []byte{0xb3, 0x59}}
	inner := packAggregate3(t, mc, []call3{price, decimals})
	nested := call3{sim.Multicall3, false, inner}

	// direct answers each inner call as its own eth_call at the same block:
	// nil for a revert.
	direct := func(c call3) []byte {
		t.Helper()
		out, err := ethCall(t, rc, c.Target, c.CallData, n)
		if err != nil {
			return nil
		}
		return out
	}
	tests := []struct {
		name  string
		calls []call3
	}{
		{"all succeed", []call3{price, prices, symbol, decimals}},
		{"failures allowed", []call3{badAsset, price, noContract, short, symbol}},
		{"nested aggregate3", []call3{nested, symbol}},
		{"empty list", []call3{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ethCall(t, rc, sim.Multicall3, packAggregate3(t, mc, tt.calls), n)
			if err != nil {
				t.Fatal(err)
			}
			rs := unpackAggregate3(t, mc, out)
			if len(rs) != len(tt.calls) {
				t.Fatalf("%d results for %d calls", len(rs), len(tt.calls))
			}
			for i, c := range tt.calls {
				want := direct(c)
				if rs[i].Success != (want != nil) || !bytes.Equal(rs[i].ReturnData, want) {
					t.Fatalf("call %d: (%v, %x), want the direct eth_call's %x", i, rs[i].Success, rs[i].ReturnData, want)
				}
			}
		})
	}

	// A call that may not fail fails: the whole eth_call reverts with the
	// contract's reason, as geth words it.
	t.Run("failure not allowed", func(t *testing.T) {
		strict := badAsset
		strict.AllowFailure = false
		_, err := ethCall(t, rc, sim.Multicall3, packAggregate3(t, mc, []call3{price, strict, symbol}), n)
		var de rpc.DataError
		if !errors.As(err, &de) || err.Error() != "execution reverted: Multicall3: call failed" {
			t.Fatalf("err = %v, want execution reverted: Multicall3: call failed", err)
		}
		data, derr := hexutil.Decode(fmt.Sprint(de.ErrorData()))
		if reason, uerr := abi.UnpackRevert(data); derr != nil || uerr != nil || reason != "Multicall3: call failed" || len(data) != 100 {
			t.Fatalf("revert data %v: %q, %v, %v", de.ErrorData(), reason, derr, uerr)
		}
		var ec rpc.Error
		if !errors.As(err, &ec) || ec.ErrorCode() != 3 {
			t.Fatalf("error code of %v, want 3", err)
		}
	})

	// Below the deployment block the address has no code: "0x" whatever is
	// sent, as a real node answers.
	t.Run("below deployment block", func(t *testing.T) {
		deployed := sim.DefaultMulticall3Block(id)
		if deployed != 25_770_160 || s.Multicall3Block(id) != deployed {
			t.Fatalf("deployment block %d, %d", deployed, s.Multicall3Block(id))
		}
		for _, data := range [][]byte{packAggregate3(t, mc, []call3{price}), nil, {1, 2, 3, 4, 5}} {
			out, err := ethCall(t, rc, sim.Multicall3, data, deployed-1)
			if err != nil || len(out) != 0 {
				t.Fatalf("at block %d: %x, %v; want 0x", deployed-1, out, err)
			}
		}
		out, err := ethCall(t, rc, sim.Multicall3, packAggregate3(t, mc, []call3{decimals}), deployed)
		if rs := unpackAggregate3(t, mc, out); err != nil || len(rs) != 1 || !rs[0].Success {
			t.Fatalf("at the deployment block: %x, %v", out, err)
		}
	})

	// Bad calldata reverts without data; it never panics.
	t.Run("bad calldata", func(t *testing.T) {
		good := packAggregate3(t, mc, []call3{price, symbol})
		word := func(v uint64) []byte { return common.LeftPadBytes(new(big.Int).SetUint64(v).Bytes(), 32) }
		with := func(at int, w []byte) []byte {
			b := bytes.Clone(good)
			copy(b[at:], w)
			return b
		}
		dirty := with(4+32*4, append([]byte{1}, make([]byte, 31)...)) // first tuple's target word, high byte set
		bad := map[string][]byte{
			"no selector":         nil,
			"other selector":      append([]byte{0x25, 0x2d, 0xba, 0x42}, good[4:]...), // aggregate((address,bytes)[])
			"selector only":       good[:4],
			"truncated":           good[:len(good)-40],
			"array offset beyond": with(4, word(1<<40)),
			"huge length":         with(4+32, word(1<<62)),
			"tuple offset beyond": with(4+64, word(uint64(len(good)))),
			"bytes length beyond": with(4+32*4+64+32, word(1<<20)),
			"dirty address":       dirty,
		}
		for name, data := range bad {
			_, err := ethCall(t, rc, sim.Multicall3, data, n)
			var de rpc.DataError
			if !errors.As(err, &de) || err.Error() != "execution reverted" || de.ErrorData() != "0x" {
				t.Errorf("%s: err = %v, want a revert without data", name, err)
			}
		}
	})

	// Above the head the outer call fails, like any eth_call.
	if _, err := ethCall(t, rc, sim.Multicall3, packAggregate3(t, mc, []call3{price}), s.Head(id)+1); err == nil || !strings.Contains(err.Error(), "header not found") {
		t.Fatalf("above the head: %v", err)
	}
}

// TestMulticall3Counted checks the per-method and aggregate3 counters.
func TestMulticall3Counted(t *testing.T) {
	const id = baseID
	s := newSim(t, sim.Config{Seed: 2, Scale: 0.05, Chains: []uint64{id}})
	mc, orc := mustABI(t, multicall3ABI), mustABI(t, oracleABI)
	data, _ := orc.Pack("BASE_CURRENCY_UNIT")
	inner := packAggregate3(t, mc, []call3{{s.Oracle(id), false, data}, {s.Oracle(id), true, data}})
	outer := packAggregate3(t, mc, []call3{{sim.Multicall3, false, inner}, {s.Oracle(id), false, data}})
	body := fmt.Sprintf(`[{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"%s","data":"%s"},"latest"]},{"jsonrpc":"2.0","id":2,"method":"eth_chainId"},{"jsonrpc":"2.0","id":3,"method":"eth_nope"}]`,
		sim.Multicall3.Hex(), hexutil.Encode(outer))
	var resps []struct {
		Result hexutil.Bytes
		Error  *struct{ Message string }
	}
	if err := json.Unmarshal(post(t, s, "/base", body), &resps); err != nil || len(resps) != 3 || resps[0].Error != nil || len(resps[0].Result) == 0 {
		t.Fatalf("answers %+v, %v", resps, err)
	}
	st := s.ServerStats()
	want := map[string]uint64{"eth_call": 1, "eth_chainId": 1, "other": 1}
	if fmt.Sprint(st.Calls) != fmt.Sprint(want) || st.Aggregate3 != 2 || st.Aggregate3Inner != 4 {
		t.Fatalf("stats %+v, want calls %v, 2 aggregate3 runs, 4 inner calls", st, want)
	}
}

// TestMulticall3Blocks: a configured deployment block moves where the code
// starts; unknown chains are refused.
func TestMulticall3Blocks(t *testing.T) {
	const id = arbitrumID
	jan1, _ := sim.DefaultWindow()
	s := newSim(t, sim.Config{Seed: 3, Scale: 0.05, Chains: []uint64{id}})
	deploy := s.BlockAt(id, jan1) + 1000
	s = newSim(t, sim.Config{Seed: 3, Scale: 0.05, Chains: []uint64{id}, Multicall3Blocks: map[uint64]uint64{id: deploy}})
	mc := mustABI(t, multicall3ABI)
	empty := packAggregate3(t, mc, nil)
	if out, ok := s.RunCall(id, sim.Multicall3, empty, deploy-1); !ok || len(out) != 0 {
		t.Fatalf("below the configured block: %x, %v", out, ok)
	}
	if out, ok := s.RunCall(id, sim.Multicall3, empty, deploy); !ok || len(out) != 64 {
		t.Fatalf("at the configured block: %x, %v", out, ok)
	}
	if _, err := sim.New(sim.Config{Chains: []uint64{id}, Multicall3Blocks: map[uint64]uint64{10: 1}}); !errors.Is(err, sim.ErrConfig) || !strings.Contains(err.Error(), "multicall3_blocks") {
		t.Fatalf("unknown chain in multicall3_blocks: %v", err)
	}
}

// aggregate3Seeds are calldata bodies for FuzzAggregate3: canonical ones
// and cuts of them.
func aggregate3Seeds(t testing.TB, s *sim.Sim, mc abi.ABI) [][]byte {
	t.Helper()
	orc := mustABI(t, oracleABI)
	data, _ := orc.Pack("BASE_CURRENCY_UNIT")
	price, _ := orc.Pack("getAssetPrice", s.Assets(polygonID)[0].Address)
	calls := []call3{{s.Oracle(polygonID), false, data}, {s.Oracle(polygonID), true, price[:20]}, {s.Assets(polygonID)[1].Address, true, []byte("x")}}
	var out [][]byte
	for i := range len(calls) + 1 {
		b := packAggregate3(t, mc, calls[:i])
		out = append(out, b, b[:len(b)/2], b[:len(b)-1])
	}
	out = append(out, packAggregate3(t, mc, []call3{{sim.Multicall3, true, out[3]}}))
	return out
}

// checkAggregate3 runs data at Multicall3 and requires: no panic; any
// answer is a valid Result[] encoding; calldata the abi package decodes and
// re-encodes to the same bytes is accepted, each result being the direct
// call's. It reports whether data was canonical.
func checkAggregate3(t *testing.T, s *sim.Sim, mc abi.ABI, data []byte, n uint64) bool {
	t.Helper()
	out, ok := s.RunCall(polygonID, sim.Multicall3, data, n)
	if ok {
		unpackAggregate3(t, mc, out)
	}
	if len(data) < 4 || !bytes.Equal(data[:4], mc.Methods["aggregate3"].ID) {
		return false
	}
	vs, err := mc.Methods["aggregate3"].Inputs.Unpack(data[4:])
	if err != nil {
		return false
	}
	var calls []call3
	if err := mc.Methods["aggregate3"].Inputs.Copy(&calls, vs); err != nil {
		return false
	}
	if again, err := mc.Pack("aggregate3", calls); err != nil || !bytes.Equal(again, data) {
		return false // not canonical: the abi package is more lenient than the contract
	}
	if !ok {
		// Only a call that may not fail failing makes it revert.
		for _, c := range calls {
			if _, cok := s.RunCall(polygonID, c.Target, c.CallData, n); !cok && !c.AllowFailure {
				return true
			}
		}
		t.Fatalf("canonical calldata %x reverted: %x", data, out)
	}
	rs := unpackAggregate3(t, mc, out)
	if len(rs) != len(calls) {
		t.Fatalf("%d results for %d calls", len(rs), len(calls))
	}
	for i, c := range calls {
		want, wok := s.RunCall(polygonID, c.Target, c.CallData, n)
		if rs[i].Success != wok || !bytes.Equal(rs[i].ReturnData, want) {
			t.Fatalf("call %d of %x: (%v, %x), want (%v, %x)", i, data, rs[i].Success, rs[i].ReturnData, wok, want)
		}
	}
	return true
}

func TestAggregate3Random(t *testing.T) {
	s := diffSim(t)
	mc := mustABI(t, multicall3ABI)
	seeds := aggregate3Seeds(t, s, mc)
	r := rand.New(rand.NewPCG(uint64(testSeed(t)), 3))
	n := s.Head(polygonID) - 10
	canonical := 0
	for _, d := range seeds {
		if checkAggregate3(t, s, mc, d, n) {
			canonical++
		}
	}
	for range 5_000 {
		d := bytes.Clone(seeds[r.IntN(len(seeds))])
		for range 1 + r.IntN(3) {
			if len(d) > 4 {
				// Mostly small changes in the low byte of a word: lengths,
				// offsets and flags stay plausible.
				at := 4 + r.IntN(len(d)-4)
				if r.IntN(4) > 0 {
					at |= 31
					at = min(at, len(d)-1)
				}
				d[at] = byte(r.UintN(256))
			}
		}
		if checkAggregate3(t, s, mc, d, n) {
			canonical++
		}
	}
	t.Logf("%d of %d bodies were canonical encodings", canonical, len(seeds)+5_000)
	if canonical < 100 {
		t.Fatalf("only %d canonical bodies: the mutations say too little", canonical)
	}
}

func FuzzAggregate3(f *testing.F) {
	s := diffSim(f)
	mc := mustABI(f, multicall3ABI)
	for _, d := range aggregate3Seeds(f, s, mc) {
		f.Add(d)
	}
	n := s.Head(polygonID) - 10
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAggregate3(t, s, mc, data, n)
	})
}

// TestMulticall3ThroughEthclient decodes an aggregate3 answer fetched with
// ethclient's CallContract, as a consumer would.
func TestMulticall3ThroughEthclient(t *testing.T) {
	s := sharedSim(t, 11, 0.1)
	ec, _ := dial(t, serve(t, s)+"/ethereum")
	mc, b32 := mustABI(t, multicall3ABI), mustABI(t, bytes32SymbolABI)
	var mkr common.Address
	for _, a := range s.Assets(ethereumID) {
		if a.Bytes32Symbol {
			mkr = a.Address
		}
	}
	sym, _ := b32.Pack("symbol")
	data := packAggregate3(t, mc, []call3{{mkr, false, sym}})
	out, err := ec.CallContract(context.Background(), ethereum.CallMsg{To: &sim.Multicall3, Data: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := unpackAggregate3(t, mc, out)
	got, err := b32.Unpack("symbol", rs[0].ReturnData)
	if s32, _ := got[0].([32]byte); err != nil || strings.TrimRight(string(s32[:]), "\x00") != "MKR" {
		t.Fatalf("MKR symbol through aggregate3: %v, %v", got, err)
	}
}
