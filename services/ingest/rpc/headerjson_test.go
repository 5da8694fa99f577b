package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// stdlibHeader is the struct HeadersBatch decoded with encoding/json
// before parseHeader: the reference of the differential tests.
type stdlibHeader struct {
	Number     *hexutil.Uint64 `json:"number"`
	Hash       *common.Hash    `json:"hash"`
	ParentHash common.Hash     `json:"parentHash"`
	Time       *hexutil.Uint64 `json:"timestamp"`
}

// stdlibParseHeader is parseHeader with encoding/json.
func stdlibParseHeader(data []byte) (rpcHeader, bool, error) {
	var raw *stdlibHeader
	if err := json.Unmarshal(data, &raw); err != nil {
		return rpcHeader{}, false, err
	}
	if raw == nil {
		return rpcHeader{}, true, nil
	}
	h := rpcHeader{ParentHash: raw.ParentHash}
	if raw.Number != nil {
		h.Number, h.HasNumber = uint64(*raw.Number), true
	}
	if raw.Hash != nil {
		h.Hash, h.HasHash = *raw.Hash, true
	}
	if raw.Time != nil {
		h.Time, h.HasTime = uint64(*raw.Time), true
	}
	return h, false, nil
}

// checkHeader fails unless parseHeader and the reference agree on data: the
// same decoding error or not, the same fields, and the same verdict of
// rpcHeader.header.
func checkHeader(t testing.TB, data []byte) {
	t.Helper()
	want, wnull, werr := stdlibParseHeader(data)
	got, gnull, gerr := parseHeader(data)
	switch {
	case werr != nil && gerr == nil:
		t.Fatalf("parseHeader accepted what encoding/json refuses (%v):\n%q", werr, truncate(string(data), 2000))
	case werr == nil && gerr != nil:
		t.Fatalf("parseHeader refused what encoding/json accepts: %v\n%q", gerr, truncate(string(data), 2000))
	case werr != nil:
		var se *scanError
		if !errors.As(gerr, &se) {
			t.Fatalf("error %v is not a *scanError", gerr)
		}
		return
	case gnull != wnull || got != want:
		t.Fatalf("parseHeader = %+v null=%v, encoding/json %+v null=%v\ninput %q", got, gnull, want, wnull, truncate(string(data), 2000))
	}
	if wnull {
		return
	}
	wh, wherr := want.header()
	gh, gherr := got.header()
	if wh != gh || fmt.Sprint(wherr) != fmt.Sprint(gherr) {
		t.Fatalf("header() = %+v, %v; reference %+v, %v", gh, gherr, wh, wherr)
	}
}

var (
	hash1 = `"0x` + strings.Repeat("ab", 32) + `"`
	hash2 = `"0x` + strings.Repeat("cd", 32) + `"`
)

func TestParseHeaderCases(t *testing.T) {
	base := func(extra string) string {
		return `{"number":"0x10","hash":` + hash1 + `,"parentHash":` + hash2 + `,"timestamp":"0x6553f100"` + extra + `}`
	}
	tests := []struct {
		name, in string
		ok       bool // parsed without error (header() may still refuse it)
	}{
		{"null", `null`, true},
		{"null with spaces", " \n null\t", true},
		{"header", base(""), true},
		{"empty object", `{}`, true},
		{"number only", `{"number":"0x1"}`, true},
		{"chainsim-like", base(`,"nonce":"0x0000000000000000","logsBloom":"0x` + strings.Repeat("00", 256) + `","transactions":[],"uncles":[]`), true},
		{"nested unknown", base(`,"withdrawals":[{"index":"0x1","amount":"0x2"}],"x":[1,-2.5e3,true,null,{"y":"\u00e9"}]`), true},
		{"case-insensitive keys", `{"NUMBER":"0x10","Hash":` + hash1 + `,"PARENTHASH":` + hash2 + `,"TimeStamp":"0x1"}`, true},
		{"folded long s", `{"number":"0x10","ha\u017fh":` + hash1 + `,"timestamp":"0x1"}`, true},
		{"escaped key", `{"\u006eumber":"0x10","hash":` + hash1 + `,"timestamp":"0x1"}`, true},
		{"duplicate number last wins", base(`,"number":"0x11"`), true},
		{"null hash is absent", base(`,"hash":null`), true},
		{"null number is absent", base(`,"number":null`), true},
		{"null timestamp is absent", base(`,"timestamp":null`), true},
		{"zero hash", base(`,"hash":"0x` + strings.Repeat("00", 32) + `"`), true},
		{"empty quantity is zero", base(`,"number":""`), true},
		{"upper case hex and 0X", base(`,"hash":"0X` + strings.Repeat("AB", 32) + `"`), true},
		{"max uint64", base(`,"timestamp":"0xffffffffffffffff"`), true},
		{"invalid utf-8 in unknown", base(",\"x\":\"\xff\""), true},

		{"null parentHash", base(`,"parentHash":null`), false},
		{"empty", ``, false},
		{"array", `[]`, false},
		{"string", `"0x1"`, false},
		{"number as JSON number", base(`,"number":16`), false},
		{"leading zero", base(`,"number":"0x010"`), false},
		{"no 0x", base(`,"number":"10"`), false},
		{"0x only", base(`,"number":"0x"`), false},
		{"over 64 bits", base(`,"number":"0x10000000000000000"`), false},
		{"short hash", base(`,"hash":"0x1234"`), false},
		{"empty hash", base(`,"hash":""`), false},
		{"hash without 0x", base(`,"hash":"` + strings.Repeat("ab", 32) + `"`), false},
		{"bad hex hash", base(`,"hash":"0x` + strings.Repeat("zz", 32) + `"`), false},
		{"escape in hex", base(`,"number":"0x\u0031"`), false},
		{"hash as object", base(`,"hash":{}`), false},
		{"bad unknown value", base(`,"x":[1,]`), false},
		{"control char", base(",\"x\":\"a\x01\""), false},
		{"trailing garbage", base("") + "x", false},
		{"trailing comma", `{"number":"0x1",}`, false},
		{"truncated", base("")[:40], false},
		{"nesting at the limit", base(`,"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999)), true},
		{"nesting past the limit", base(`,"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := parseHeader([]byte(tt.in)); (err == nil) != tt.ok {
				t.Fatalf("parseHeader error %v, want ok=%v", err, tt.ok)
			}
			checkHeader(t, []byte(tt.in))
		})
	}
}

// chainsimBatch posts body to chainsim's chain and returns the answer.
func chainsimBatch(t testing.TB, s *sim.Sim, chainID uint64, body string) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, fmt.Sprintf("/%d", chainID), strings.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("chainsim: HTTP %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// chainsimHeaders returns chainsim's answer to a batch of eth_getBlockByNumber
// for blocks first..first+n-1, as the client sends it.
func chainsimHeaders(t testing.TB, n int) ([]byte, []uint64) {
	t.Helper()
	s, err := sim.New(sim.Config{Seed: 1, Scale: 0.1, Chains: []uint64{137}})
	if err != nil {
		t.Fatal(err)
	}
	first := s.Head(137) - uint64(n)
	reqs := make([]request, n)
	nums := make([]uint64, n)
	for i := range reqs {
		nums[i] = first + uint64(i)
		reqs[i] = request{Method: "eth_getBlockByNumber", Params: []any{hexutil.Uint64(nums[i]), false}}
	}
	body, err := appendRequests(nil, reqs, true)
	if err != nil {
		t.Fatal(err)
	}
	return chainsimBatch(t, s, 137, string(body)), nums
}

// gethBlockJSON renders a block as geth's eth_getBlockByNumber(n, false)
// does on Ethereum mainnet: the header fields, then hash, size, ntx
// transaction hashes, uncles and withdrawals.
func gethBlockJSON(rng *rand.Rand, n uint64, ntx int) string {
	hash := func() common.Hash {
		var h common.Hash
		for i := range h {
			h[i] = byte(rng.UintN(256))
		}
		return h
	}
	var bloom types.Bloom
	for i := range bloom {
		bloom[i] = byte(rng.UintN(256))
	}
	blobGas, excess := uint64(393216), uint64(0)
	h := types.Header{ParentHash: hash(), UncleHash: types.EmptyUncleHash, Coinbase: common.Address(hash().Bytes()[:20]),
		Root: hash(), TxHash: hash(), ReceiptHash: hash(), Bloom: bloom, Difficulty: common.Big0,
		Number: new(big.Int).SetUint64(n), GasLimit: 36_000_000, GasUsed: 17_123_456, Time: 1_730_000_000 + 12*n,
		Extra: []byte("beaverbuild.org"), MixDigest: hash(), BaseFee: big.NewInt(3_123_456_789), WithdrawalsHash: ptr(hash()),
		BlobGasUsed: &blobGas, ExcessBlobGas: &excess, ParentBeaconRoot: ptr(hash()), RequestsHash: ptr(hash())}
	hj, err := json.Marshal(&h)
	if err != nil {
		panic(err)
	}
	var b strings.Builder
	b.Write(hj[:len(hj)-1])
	fmt.Fprintf(&b, `,"size":"0x%x","transactions":[`, 1000+200*ntx)
	for i := range ntx {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%s"`, hash().Hex())
	}
	b.WriteString(`],"uncles":[],"withdrawals":[`)
	for i := range 16 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"index":"0x%x","validatorIndex":"0x%x","address":"%s","amount":"0x%x"}`,
			80_000_000+i, 1_000_000+rng.IntN(900_000), strings.ToLower(common.Address(hash().Bytes()[:20]).Hex()), 17_000_000+rng.IntN(1000))
	}
	b.WriteString("]}")
	return b.String()
}

func ptr[T any](v T) *T { return &v }

// gethHeaders returns a batch answer of n mainnet-like blocks with ntx
// transaction hashes each.
func gethHeaders(n, ntx int) ([]byte, []uint64) {
	rng := rand.New(rand.NewPCG(5, 6))
	var b strings.Builder
	b.WriteByte('[')
	nums := make([]uint64, n)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		nums[i] = 21_000_000 + uint64(i)
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"result":%s}`, i+1, gethBlockJSON(rng, nums[i], ntx))
	}
	b.WriteByte(']')
	return []byte(b.String()), nums
}

// TestParseHeaderDifferentialNodes compares parseHeader with encoding/json
// on the blocks chainsim serves and on geth-like mainnet blocks.
func TestParseHeaderDifferentialNodes(t *testing.T) {
	for name, answer := range map[string]func() ([]byte, []uint64){
		"chainsim": func() ([]byte, []uint64) { return chainsimHeaders(t, 100) },
		"geth":     func() ([]byte, []uint64) { return gethHeaders(20, 150) },
	} {
		t.Run(name, func(t *testing.T) {
			body, nums := answer()
			rs, err := decodeAnswers(body, len(nums), true)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range rs {
				checkHeader(t, r.Result)
				h, _, _ := parseHeader(r.Result)
				if hd, err := h.header(); err != nil || hd.Number != nums[i] || hd.Time == 0 {
					t.Fatalf("block %d: header %+v, %v", nums[i], hd, err)
				}
			}
		})
	}
}

// randomHeaderJSON builds a block object, mostly valid, with random
// spacing, key order and case, unknown fields, nulls, duplicates and,
// sometimes, one corruption.
func randomHeaderJSON(rng *rand.Rand) string {
	hexOf := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		s := hexutil.Encode(b)
		if rng.IntN(8) == 0 {
			s = strings.ToUpper(s)
		}
		return `"` + s + `"`
	}
	qty := func() string {
		switch rng.IntN(12) {
		case 0:
			return `""`
		case 1:
			return `null`
		case 2:
			return `"0x0"`
		default:
			return `"` + hexutil.EncodeUint64(rng.Uint64()>>rng.UintN(64)) + `"`
		}
	}
	ws := func() string { return []string{"", "", "", " ", "\n\t"}[rng.IntN(5)] }
	fields := [][2]string{
		{"number", qty()},
		{"hash", []string{hexOf(32), hexOf(32), hexOf(32), "null", `"0x` + strings.Repeat("0", 64) + `"`}[rng.IntN(5)]},
		{"parentHash", hexOf(32)},
		{"timestamp", qty()},
		{"logsBloom", hexOf(256)},
		{"transactions", "[" + strings.Repeat(hexOf(32)+",", rng.IntN(4)) + hexOf(32) + "]"},
		{"withdrawals", `[{"index":"0x1","amount":"0x2"},{"x":[1.5e3,-0,null,true]}]`},
	}
	if rng.IntN(4) == 0 {
		fields = append(fields, [2]string{"extra", `{"x":["\u00e9\"",null,{}]}`})
	}
	rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	if rng.IntN(5) == 0 {
		f := fields[rng.IntN(len(fields))]
		if rng.IntN(2) == 0 {
			f[1] = "null"
		}
		fields = append(fields, f)
	}
	if rng.IntN(6) == 0 {
		i := rng.IntN(len(fields))
		fields = append(fields[:i], fields[i+1:]...)
	}
	parts := make([]string, len(fields))
	for i, f := range fields {
		k := f[0]
		switch rng.IntN(12) {
		case 0:
			k = strings.ToUpper(k)
		case 1:
			k = `\u00` + fmt.Sprintf("%02x", k[0]) + k[1:]
		case 2:
			k = strings.Replace(k, "s", "\u017f", 1)
		}
		parts[i] = ws() + `"` + k + `"` + ws() + ":" + ws() + f[1] + ws()
	}
	s := "{" + strings.Join(parts, ",") + "}"
	if rng.IntN(4) == 0 {
		i := rng.IntN(len(s))
		s = s[:i] + string("0x\"{}[],:gG \\n"[rng.IntN(14)]) + s[i+1:]
	}
	return s
}

// TestParseHeaderDifferentialRandom compares parseHeader with encoding/json
// on seeded random, partly malformed blocks.
func TestParseHeaderDifferentialRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 13))
	accepted := 0
	const runs = 3000
	for range runs {
		in := []byte(randomHeaderJSON(rng))
		checkHeader(t, in)
		if h, _, err := parseHeader(in); err == nil {
			if _, err := h.header(); err == nil {
				accepted++
			}
		}
	}
	if accepted < runs/10 || accepted > runs*9/10 {
		t.Fatalf("%d of %d headers accepted: the generator no longer mixes valid and invalid input", accepted, runs)
	}
}

// FuzzParseHeader: parseHeader never panics and agrees with encoding/json
// into the reference struct on every input.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`null`))
	f.Add([]byte(`{"number":"0x10","hash":` + hash1 + `,"parentHash":` + hash2 + `,"timestamp":"0x1","x":[{"y":-0.5E-2}]}`))
	rng := rand.New(rand.NewPCG(7, 8))
	f.Add([]byte(gethBlockJSON(rng, 1, 3)))
	for range 20 {
		f.Add([]byte(randomHeaderJSON(rng)))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkHeader(t, in)
	})
}
