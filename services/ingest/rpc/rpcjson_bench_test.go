package rpc

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Benchmarks of the client's JSON: each compares the encoding/json
// implementation the client used ("encoding_json", the references in the
// _test files) with the hand-written one ("handwritten") on the same input.

// callResults returns a batch answer of n eth_call results of 96..480
// bytes (JSON strings of about 200..1000 bytes), like the pricer's
// getAssetPrice / getReserveData / getReserveConfigurationData calls.
func callResults(n int) []byte {
	rng := rand.New(rand.NewPCG(11, 12))
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		data := make([]byte, 32*(3+rng.IntN(13)))
		for j := range data {
			data[j] = byte(rng.UintN(256))
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"result":"%s"}`, i+1, hexutil.Encode(data))
	}
	b.WriteByte(']')
	return []byte(b.String())
}

type benchAnswer struct {
	name string
	body []byte
	n    int
}

func benchAnswers(b *testing.B) []benchAnswer {
	b.Helper()
	ch, chn := chainsimHeaders(b, 100)
	geth, gethn := gethHeaders(100, 150)
	return []benchAnswer{
		{"chainsim_headers", ch, len(chn)},
		{"geth_headers", geth, len(gethn)},
		{"eth_call", callResults(100), 100},
	}
}

// BenchmarkDecodeAnswers: splitting a batch answer of 100 into responses.
func BenchmarkDecodeAnswers(b *testing.B) {
	for _, in := range benchAnswers(b) {
		for _, impl := range []struct {
			name string
			fn   func([]byte, int, bool) ([]response, error)
		}{{"encoding_json", stdlibDecodeAnswers}, {"handwritten", decodeAnswers}} {
			b.Run(in.name+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(in.body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := impl.fn(in.body, in.n, true); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkHeaders: what HeadersBatch does with a batch answer of 100
// blocks: split it, decode each block, check it.
func BenchmarkHeaders(b *testing.B) {
	ch, chn := chainsimHeaders(b, 100)
	geth, gethn := gethHeaders(100, 150)
	for _, in := range []struct {
		name string
		body []byte
		nums []uint64
	}{{"chainsim", ch, chn}, {"geth", geth, gethn}} {
		for _, impl := range []struct {
			name   string
			decode func([]byte, int, bool) ([]response, error)
			parse  func([]byte) (rpcHeader, bool, error)
		}{{"encoding_json", stdlibDecodeAnswers, stdlibParseHeader}, {"handwritten", decodeAnswers, parseHeader}} {
			b.Run(in.name+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(in.body)))
				b.ReportAllocs()
				for b.Loop() {
					rs, err := impl.decode(in.body, len(in.nums), true)
					if err != nil {
						b.Fatal(err)
					}
					for i, r := range rs {
						raw, null, err := impl.parse(r.Result)
						if err != nil || null {
							b.Fatal(err, null)
						}
						h, err := raw.header()
						if err != nil || h.Number != in.nums[i] {
							b.Fatal(err, h.Number)
						}
					}
				}
			})
		}
	}
}

// BenchmarkCallResults: what CallBatch does with a batch answer of 100
// eth_call results: split it and decode each result's bytes.
func BenchmarkCallResults(b *testing.B) {
	body := callResults(100)
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			rs, err := stdlibDecodeAnswers(body, 100, true)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range rs {
				if _, err := stdlibCallResult(r.Result); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("handwritten", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			rs, err := decodeAnswers(body, 100, true)
			if err != nil {
				b.Fatal(err)
			}
			size := 0
			for _, r := range rs {
				size += callResultSize(r.Result)
			}
			buf := make([]byte, 0, size)
			for _, r := range rs {
				if buf, err = appendCallResult(buf, r.Result); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkEncodeRequests: the body of a batch of 100 requests, built
// before the loop as the client builds them (old: map params; new: structs).
func BenchmarkEncodeRequests(b *testing.B) {
	headers := make([]request, 100)
	calls, oldCalls := make([]request, 100), make([]request, 100)
	for i := range 100 {
		headers[i] = request{Method: "eth_getBlockByNumber", Params: []any{hexutil.Uint64(65_000_000 + i), false}}
		to := common.Address{19: byte(i)}
		data := make([]byte, 36)
		data[3] = byte(i)
		calls[i] = request{Method: "eth_call", Params: []any{callArgs{To: to, Data: data}, hexutil.Uint64(65_000_000)}}
		oldCalls[i] = request{Method: "eth_call", Params: []any{map[string]any{"to": to, "data": hexutil.Bytes(data)}, hexutil.Uint64(65_000_000)}}
	}
	for _, in := range []struct {
		name      string
		old, reqs []request
	}{{"headers", headers, headers}, {"eth_call", oldCalls, calls}} {
		b.Run(in.name+"/encoding_json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := stdlibEncodeRequests(in.old, true); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/handwritten", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := appendRequests(make([]byte, 0, requestsSize(in.reqs)), in.reqs, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
