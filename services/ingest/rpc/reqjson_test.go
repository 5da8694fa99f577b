package rpc

import (
	"bytes"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// wireRequest and stdlibEncodeRequests are the encoding/json request
// encoder appendRequests replaced: the reference of the differential tests.
type wireRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      int    `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

func stdlibEncodeRequests(reqs []request, batch bool) ([]byte, error) {
	wire := make([]wireRequest, len(reqs))
	for i, r := range reqs {
		params := r.Params
		if params == nil {
			params = []any{}
		}
		wire[i] = wireRequest{JSONRPC: "2.0", ID: i + 1, Method: r.Method, Params: params}
	}
	if batch {
		return json.Marshal(wire)
	}
	return json.Marshal(wire[0])
}

// checkRequests fails unless appendRequests(got) writes the bytes
// encoding/json writes for want (the same requests, possibly with the
// params in the map form the client used before), and unless both decode
// to the same JSON value.
func checkRequests(t testing.TB, got, want []request, batch bool) {
	t.Helper()
	wb, werr := stdlibEncodeRequests(want, batch)
	gb, gerr := appendRequests([]byte("junk")[:0], got, batch)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("appendRequests error %v, encoding/json %v", gerr, werr)
	}
	if werr != nil {
		return
	}
	var wv, gv any
	if err := json.Unmarshal(wb, &wv); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(gb, &gv); err != nil {
		t.Fatalf("appendRequests wrote invalid JSON (%v): %s", err, gb)
	}
	if !reflect.DeepEqual(gv, wv) {
		t.Fatalf("appendRequests wrote\n%s\nwhich decodes differently from encoding/json's\n%s", gb, wb)
	}
	if !bytes.Equal(gb, wb) {
		t.Fatalf("appendRequests wrote\n%s\nencoding/json\n%s", gb, wb)
	}
}

func addrN(i byte) common.Address { return common.Address{0x79, i, 0xab, 0xcd, 19: i} }
func hashN(i byte) common.Hash    { return common.Hash{0xe4, i, 31: i} }

func TestAppendRequestsMatchesEncodingJSON(t *testing.T) {
	call := func(to common.Address, data []byte, block uint64) (request, request) {
		return request{Method: "eth_call", Params: []any{callArgs{To: to, Data: data}, hexutil.Uint64(block)}},
			request{Method: "eth_call", Params: []any{map[string]any{"to": to, "data": hexutil.Bytes(data)}, hexutil.Uint64(block)}}
	}
	logs := func(lo, hi uint64, addrs []common.Address, topics []common.Hash) (request, request) {
		return request{Method: "eth_getLogs", Params: []any{logFilter{FromBlock: hexutil.Uint64(lo), ToBlock: hexutil.Uint64(hi),
				Address: addrs, Topics: [][]common.Hash{topics}}}},
			request{Method: "eth_getLogs", Params: []any{map[string]any{"fromBlock": hexutil.Uint64(lo), "toBlock": hexutil.Uint64(hi),
				"address": addrs, "topics": [][]common.Hash{topics}}}}
	}
	same := func(r request) (request, request) { return r, r }
	pairs := func(ps ...func() (request, request)) (got, want []request) {
		for _, p := range ps {
			g, w := p()
			got, want = append(got, g), append(want, w)
		}
		return got, want
	}
	tests := []struct {
		name  string
		reqs  []func() (request, request)
		batch bool
	}{
		{"eth_chainId", []func() (request, request){func() (request, request) { return same(request{Method: "eth_chainId"}) }}, false},
		{"eth_blockNumber empty params", []func() (request, request){func() (request, request) {
			return same(request{Method: "eth_blockNumber", Params: []any{}})
		}}, false},
		{"header by tag", []func() (request, request){func() (request, request) {
			return same(request{Method: "eth_getBlockByNumber", Params: []any{"finalized", false}})
		}}, false},
		{"headers batch", []func() (request, request){
			func() (request, request) {
				return same(request{Method: "eth_getBlockByNumber", Params: []any{hexutil.Uint64(0), false}})
			},
			func() (request, request) {
				return same(request{Method: "eth_getBlockByNumber", Params: []any{hexutil.Uint64(65_000_123), false}})
			},
			func() (request, request) {
				return same(request{Method: "eth_getBlockByNumber", Params: []any{hexutil.Uint64(1<<64 - 1), true}})
			},
		}, true},
		{"eth_call batch", []func() (request, request){
			func() (request, request) { return call(addrN(1), []byte{0xb3, 0x59, 0x6f, 0x07, 0, 1, 2}, 50_000_000) },
			func() (request, request) { return call(common.Address{}, nil, 0) },
			func() (request, request) { return call(addrN(2), []byte{}, 1) },
		}, true},
		{"eth_getLogs", []func() (request, request){func() (request, request) {
			return logs(100, 2099, []common.Address{addrN(1), addrN(2)}, []common.Hash{hashN(1), hashN(2)})
		}}, false},
		{"eth_getLogs nil lists", []func() (request, request){func() (request, request) { return logs(1, 1, nil, nil) }}, false},
		{"eth_getLogs empty lists", []func() (request, request){func() (request, request) {
			return logs(1, 1, []common.Address{}, []common.Hash{})
		}}, false},
		{"single of a batch of one", []func() (request, request){func() (request, request) { return call(addrN(3), []byte{1}, 7) }}, true},
		{"other param types", []func() (request, request){func() (request, request) {
			return same(request{Method: "eth_x", Params: []any{nil, 12, uint64(1 << 63), hashN(4), addrN(5), hexutil.Bytes(nil),
				[]common.Hash{hashN(1)}, []common.Hash(nil), [][]common.Hash(nil), []common.Address(nil), big.NewInt(-5),
				map[string]any{"b": 1, "a": []any{"x", nil}}, struct {
					X int `json:"x"`
				}{3}, 1.5, []byte{1, 2}}})
		}}, false},
		{"strings needing escapes", []func() (request, request){func() (request, request) {
			return same(request{Method: "weird<&>\"\\\u2028é\x01\xff", Params: []any{"a<b", "tab\t", "\u00e9\u2029", "\xff\xfe", "ok"}})
		}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := pairs(tt.reqs...)
			checkRequests(t, got, want, tt.batch)
		})
	}
}

// TestParamStructsMarshalLikeMaps: the websocket transport marshals
// callArgs and logFilter with encoding/json; they must give the bytes the
// maps they replaced gave.
func TestParamStructsMarshalLikeMaps(t *testing.T) {
	for _, tc := range []struct{ got, want any }{
		{callArgs{To: addrN(1), Data: []byte{1, 2, 3}}, map[string]any{"to": addrN(1), "data": hexutil.Bytes{1, 2, 3}}},
		{callArgs{}, map[string]any{"to": common.Address{}, "data": hexutil.Bytes(nil)}},
		{logFilter{FromBlock: 1, ToBlock: 2, Address: []common.Address{addrN(1)}, Topics: [][]common.Hash{{hashN(1)}}},
			map[string]any{"fromBlock": hexutil.Uint64(1), "toBlock": hexutil.Uint64(2), "address": []common.Address{addrN(1)},
				"topics": [][]common.Hash{{hashN(1)}}}},
		{logFilter{Topics: [][]common.Hash{nil}}, map[string]any{"fromBlock": hexutil.Uint64(0), "toBlock": hexutil.Uint64(0),
			"address": []common.Address(nil), "topics": [][]common.Hash{nil}}},
	} {
		g, err := json.Marshal(tc.got)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := json.Marshal(tc.want)
		if !bytes.Equal(g, w) {
			t.Fatalf("json.Marshal(%T) = %s, the map gave %s", tc.got, g, w)
		}
	}
}

// TestRequestsSizeHoldsTheBody: the buffer requestsSize sizes holds the
// body of the requests the client sends without growing.
func TestRequestsSizeHoldsTheBody(t *testing.T) {
	var headers, calls []request
	for i := range 100 {
		headers = append(headers, request{Method: "eth_getBlockByNumber", Params: []any{hexutil.Uint64(1<<40 + i), false}})
		calls = append(calls, request{Method: "eth_call", Params: []any{callArgs{To: addrN(byte(i)), Data: make([]byte, 4+32*(i%8))},
			hexutil.Uint64(1 << 40)}})
	}
	addrs := []common.Address{addrN(1), addrN(2), addrN(3)}
	topics := []common.Hash{hashN(1), hashN(2)}
	for name, reqs := range map[string][]request{
		"headers":     headers,
		"eth_call":    calls,
		"eth_getLogs": {{Method: "eth_getLogs", Params: []any{logFilter{FromBlock: 1 << 40, ToBlock: 1<<40 + 1999, Address: addrs, Topics: [][]common.Hash{topics}}}}},
		"tag":         {{Method: "eth_getBlockByNumber", Params: []any{"finalized", false}}},
		"no params":   {{Method: "eth_blockNumber"}},
	} {
		size := requestsSize(reqs)
		body, err := appendRequests(make([]byte, 0, size), reqs, len(reqs) > 1)
		if err != nil {
			t.Fatal(err)
		}
		if cap(body) != size {
			t.Errorf("%s: body of %d bytes outgrew the %d requestsSize gave", name, len(body), size)
		}
	}
}

// randomParam returns a param of a special-cased type, or of another.
func randomParam(rng *rand.Rand) any {
	bs := func() []byte {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		if rng.IntN(5) == 0 {
			return nil
		}
		return b
	}
	addrs := func() []common.Address {
		if rng.IntN(4) == 0 {
			return nil
		}
		a := make([]common.Address, rng.IntN(3))
		for i := range a {
			a[i] = addrN(byte(rng.UintN(256)))
		}
		return a
	}
	hashes := func() []common.Hash {
		if rng.IntN(4) == 0 {
			return nil
		}
		h := make([]common.Hash, rng.IntN(3))
		for i := range h {
			h[i] = hashN(byte(rng.UintN(256)))
		}
		return h
	}
	switch rng.IntN(14) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return string(bs())
	case 3:
		return hexutil.Uint64(rng.Uint64() >> rng.UintN(64))
	case 4:
		return hexutil.Bytes(bs())
	case 5:
		return addrN(byte(rng.UintN(256)))
	case 6:
		return hashN(byte(rng.UintN(256)))
	case 7:
		return addrs()
	case 8:
		return hashes()
	case 9:
		return [][]common.Hash{hashes(), hashes()}
	case 10:
		return callArgs{To: addrN(byte(rng.UintN(256))), Data: bs()}
	case 11:
		return logFilter{FromBlock: hexutil.Uint64(rng.Uint64()), ToBlock: hexutil.Uint64(rng.Uint64()), Address: addrs(),
			Topics: [][]common.Hash{hashes()}}
	case 12:
		return rng.Int() - rng.Int()
	default:
		return map[string]any{"k": string(bs()), "n": rng.Float64()}
	}
}

func TestAppendRequestsDifferentialRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 19))
	for range 2000 {
		reqs := make([]request, 1+rng.IntN(4))
		for i := range reqs {
			var params []any
			if rng.IntN(6) != 0 {
				params = make([]any, rng.IntN(4))
				for j := range params {
					params[j] = randomParam(rng)
				}
			}
			reqs[i] = request{Method: []string{"eth_call", "eth_getLogs", "eth_getBlockByNumber", "x<y"}[rng.IntN(4)], Params: params}
		}
		checkRequests(t, reqs, reqs, rng.IntN(3) != 0)
	}
}

// FuzzAppendRequests: appendRequests writes what encoding/json writes for
// the requests the client sends, whatever their strings and numbers.
func FuzzAppendRequests(f *testing.F) {
	f.Add("eth_call", "finalized", []byte{0xb3, 0x59, 0x6f, 0x07}, uint64(50_000_000), true)
	f.Add("eth_getBlockByNumber", "\u2028<&>\xff", []byte{}, uint64(0), false)
	f.Fuzz(func(t *testing.T, method, tag string, data []byte, n uint64, flag bool) {
		var a common.Address
		var h common.Hash
		copy(a[:], data)
		copy(h[:], data)
		reqs := []request{
			{Method: method, Params: []any{tag, flag}},
			{Method: "eth_getBlockByNumber", Params: []any{hexutil.Uint64(n), flag}},
			{Method: "eth_call", Params: []any{callArgs{To: a, Data: data}, hexutil.Uint64(n)}},
			{Method: "eth_getLogs", Params: []any{logFilter{FromBlock: hexutil.Uint64(n), ToBlock: hexutil.Uint64(n >> 3),
				Address: []common.Address{a}, Topics: [][]common.Hash{{h}}}}},
			{Method: method},
		}
		checkRequests(t, reqs, reqs, true)
		checkRequests(t, reqs[:1], reqs[:1], false)
	})
}
