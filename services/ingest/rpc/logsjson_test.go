package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// stdlibLogs is the reference: encoding/json into go-ethereum's types.Log.
func stdlibLogs(data []byte) ([]types.Log, error) {
	var logs []types.Log
	err := json.Unmarshal(data, &logs)
	return logs, err
}

// checkSame fails unless ParseLogs and the reference agree on input: both
// fail, or both succeed with deeply equal logs.
func checkSame(t testing.TB, input []byte) {
	t.Helper()
	want, werr := stdlibLogs(input)
	got, gerr := ParseLogs(input)
	switch {
	case werr != nil && gerr == nil:
		t.Fatalf("ParseLogs accepted what encoding/json refuses (%v):\n%s", werr, truncate(string(input), 2000))
	case werr == nil && gerr != nil:
		t.Fatalf("ParseLogs refused what encoding/json accepts: %v\n%s", gerr, truncate(string(input), 2000))
	case werr == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("ParseLogs differs from encoding/json\n got %+v\nwant %+v\ninput %s", got, want, truncate(string(input), 2000))
	}
	if gerr != nil && !errors.Is(gerr, ErrBadResponse) {
		t.Fatalf("error %v does not wrap ErrBadResponse", gerr)
	}
}

const validLog = `{"address":"0x794a61358d6845594f94dc1db02a252b5b4814ad","topics":["0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286","0x0000000000000000000000002791bca1f2de4661ed88a30c99a7a9449aa84174"],"data":"0x00000000000000000000000000000000000000000000000000000000000f4240","blockNumber":"0x3e8","transactionHash":"0x1111111111111111111111111111111111111111111111111111111111111111","transactionIndex":"0x2","blockHash":"0x2222222222222222222222222222222222222222222222222222222222222222","logIndex":"0x7","removed":false}`

func TestParseLogsCases(t *testing.T) {
	h := `"0x` + strings.Repeat("ab", 32) + `"`
	a := `"0x` + strings.Repeat("cd", 20) + `"`
	base := func(extra string) string {
		return `[{"address":` + a + `,"topics":[` + h + `],"data":"0x","transactionHash":` + h + extra + `}]`
	}
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"null", `null`, true},
		{"null with spaces", " \n\tnull\r ", true},
		{"empty array", `[]`, true},
		{"one log", `[` + validLog + `]`, true},
		{"two logs", `[` + validLog + " ,\n" + validLog + `]`, true},
		{"minimal log", base(""), true},
		{"blockTimestamp", base(`,"blockTimestamp":"0x6789abcd"`), true},
		{"unknown fields skipped", base(`,"foo":{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"]},"bar":[]`), true},
		{"case-insensitive key", base(`,"BLOCKNUMBER":"0x10"`), true},
		{"kelvin sign folds to k", base(`,"bloc\u212anumber":"0x10"`), true},
		{"escaped key", base(`,"\u006cogIndex":"0x3"`), true},
		{"duplicate key last wins", base(`,"logIndex":"0x3","logIndex":"0x4"`), true},
		{"null optional resets", base(`,"logIndex":"0x3","logIndex":null`), true},
		{"empty quantity is zero", base(`,"blockNumber":""`), true},
		{"empty data string", `[{"address":` + a + `,"topics":[],"data":"","transactionHash":` + h + `}]`, true},
		{"uppercase hex and 0X", base(`,"blockHash":"0X` + strings.Repeat("AB", 32) + `"`), true},
		{"removed true", base(`,"removed":true`), true},
		{"removed null", base(`,"removed":null`), true},
		{"max uint64", base(`,"blockNumber":"0xffffffffffffffff"`), true},

		{"empty input", ``, false},
		{"object", `{}`, false},
		{"trailing garbage", `[]x`, false},
		{"two values", `[] []`, false},
		{"null element", `[null]`, false},
		{"number element", `[1]`, false},
		{"trailing comma", `[` + validLog + `,]`, false},
		{"missing address", `[{"topics":[],"data":"0x","transactionHash":` + h + `}]`, false},
		{"missing topics", `[{"address":` + a + `,"data":"0x","transactionHash":` + h + `}]`, false},
		{"missing data", `[{"address":` + a + `,"topics":[],"transactionHash":` + h + `}]`, false},
		{"missing tx hash", `[{"address":` + a + `,"topics":[],"data":"0x"}]`, false},
		{"null required", base(`,"address":null`), false},
		{"null topic", `[{"address":` + a + `,"topics":[null],"data":"0x","transactionHash":` + h + `}]`, false},
		{"short address", base(`,"address":"0x1234"`), false},
		{"address without 0x", base(`,"address":"` + strings.Repeat("cd", 20) + `"`), false},
		{"bad hex in hash", base(`,"blockHash":"0x` + strings.Repeat("zz", 32) + `"`), false},
		{"odd data", base(`,"data":"0x123"`), false},
		{"data without 0x", base(`,"data":"1234"`), false},
		{"leading zero", base(`,"blockNumber":"0x01"`), false},
		{"empty number", base(`,"blockNumber":"0x"`), false},
		{"quantity over 64 bits", base(`,"blockNumber":"0x10000000000000000"`), false},
		{"decimal number", base(`,"blockNumber":1000`), false},
		{"escape in hex", base(`,"blockNumber":"0x\u0031"`), false},
		{"removed as string", base(`,"removed":"true"`), false},
		{"topics as string", base(`,"topics":"x"`), false},
		{"bad unknown value", base(`,"foo":[1,]`), false},
		{"bad number", base(`,"foo":01`), false},
		{"bad escape", base(`,"foo":"\x"`), false},
		{"control char", base(",\"foo\":\"a\x01\""), false},
		{"truncated", `[` + validLog[:len(validLog)-10], false},
		{"missing colon", `[{"address"` + a + `}]`, false},
		{"nesting at encoding/json's limit", base(`,"x":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998)), true},
		{"nesting past encoding/json's limit", base(`,"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLogs([]byte(tt.input))
			if (err == nil) != tt.ok {
				t.Fatalf("ParseLogs error %v, want ok=%v", err, tt.ok)
			}
			checkSame(t, []byte(tt.input))
		})
	}
}

func TestParseLogsErrorSaysWhere(t *testing.T) {
	in := `[` + validLog + `,` + strings.Replace(validLog, `"0x3e8"`, `"0x03e8"`, 1) + `]`
	_, err := ParseLogs([]byte(in))
	var le *LogsError
	if !errors.As(err, &le) {
		t.Fatalf("error %v is not a *LogsError", err)
	}
	if le.Log != 1 || le.Field != "blockNumber" || !strings.Contains(err.Error(), "leading zero") {
		t.Fatalf("error %q: log %d field %q, want log 1 field blockNumber and the reason", err, le.Log, le.Field)
	}
	if !strings.HasPrefix(in[le.Offset:], `"0x03e8"`) {
		t.Fatalf("offset %d points at %q, want the bad value", le.Offset, truncate(in[le.Offset:], 20))
	}
}

// TestParseLogsArenaIsolation checks that appending to one log's Data or
// Topics never writes into another's.
func TestParseLogsArenaIsolation(t *testing.T) {
	logs, err := ParseLogs([]byte(`[` + validLog + `,` + validLog + `]`))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), logs[1].Data...)
	wantT := append([]common.Hash(nil), logs[1].Topics...)
	logs[0].Data = append(logs[0].Data, 0xff, 0xff)
	logs[0].Topics = append(logs[0].Topics, common.Hash{0xff})
	if !bytes.Equal(logs[1].Data, want) || !reflect.DeepEqual(logs[1].Topics, wantT) {
		t.Fatal("appending to log 0 changed log 1")
	}
}

// chainsimLogs returns eth_getLogs results served by chainsim for chainID
// over ranges of span blocks, with every log of the chain.
func chainsimLogs(t testing.TB, cfg sim.Config, chainID uint64, span uint64) [][]byte {
	t.Helper()
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	var out [][]byte
	for lo := uint64(0); lo <= s.Head(chainID); lo += span {
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"%s","toBlock":"%s"}]}`,
			hexutil.EncodeUint64(lo), hexutil.EncodeUint64(min(lo+span-1, s.Head(chainID))))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, fmt.Sprintf("/%d", chainID), strings.NewReader(body)))
		var resp struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Error != nil {
			t.Fatalf("chainsim eth_getLogs %d..: %v %s", lo, err, resp.Error)
		}
		if len(resp.Result) > 2 {
			out = append(out, resp.Result)
		}
	}
	return out
}

// TestParseLogsDifferentialChainsim compares ParseLogs with encoding/json
// over everything chainsim serves, with and without blockTimestamp and
// DeficitCreated logs.
func TestParseLogsDifferentialChainsim(t *testing.T) {
	seed := testsupport.Seed(t)
	for _, cfg := range []sim.Config{
		{Seed: seed, Scale: 0.1, Chains: []uint64{137}, OmitLogBlockTimestamp: true},
		{Seed: seed, Scale: 0.1, Chains: []uint64{1}, DeficitShare: 0.3},
	} {
		results := chainsimLogs(t, cfg, cfg.Chains[0], 50_000)
		n := 0
		for _, r := range results {
			checkSame(t, r)
			logs, _ := ParseLogs(r)
			n += len(logs)
		}
		if n == 0 {
			t.Fatalf("chainsim %+v served no logs", cfg)
		}
		t.Logf("chain %d: %d logs in %d results agree", cfg.Chains[0], n, len(results))
	}
}

// randomLogJSON builds one log object, mostly valid, with random spacing,
// key order, key case, unknown fields, nulls, duplicates and, sometimes,
// one corruption.
func randomLogJSON(rng *rand.Rand) string {
	hexOf := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		s := hexutil.Encode(b)
		if rng.IntN(8) == 0 {
			s = strings.ToUpper(s[:2]) + strings.ToUpper(s[2:])
		}
		return `"` + s + `"`
	}
	qty := func() string {
		switch rng.IntN(10) {
		case 0:
			return `""`
		case 1:
			return `"0x0"`
		default:
			return `"` + hexutil.EncodeUint64(rng.Uint64()>>rng.UintN(64)) + `"`
		}
	}
	ws := func() string { return []string{"", "", "", " ", "\n\t", "\r\n  "}[rng.IntN(6)] }
	topics := make([]string, rng.IntN(5))
	for i := range topics {
		topics[i] = hexOf(32)
	}
	fields := [][2]string{
		{"address", hexOf(20)},
		{"topics", "[" + strings.Join(topics, ","+ws()) + "]"},
		{"data", hexOf(32 * rng.IntN(6))},
		{"blockNumber", qty()},
		{"transactionHash", hexOf(32)},
		{"transactionIndex", qty()},
		{"blockHash", hexOf(32)},
		{"logIndex", qty()},
		{"removed", []string{"false", "true", "null"}[rng.IntN(3)]},
	}
	if rng.IntN(3) == 0 {
		fields = append(fields, [2]string{"blockTimestamp", qty()})
	}
	if rng.IntN(3) == 0 {
		fields = append(fields, [2]string{"chainId", `{"x":[1.5e3,"\u00e9\"",null,{}]}`})
	}
	rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	if rng.IntN(5) == 0 { // duplicate a key, maybe with null
		f := fields[rng.IntN(len(fields))]
		if rng.IntN(2) == 0 {
			f[1] = "null"
		}
		fields = append(fields, f)
	}
	if rng.IntN(6) == 0 { // drop a field
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
		}
		parts[i] = ws() + `"` + k + `"` + ws() + ":" + ws() + f[1] + ws()
	}
	s := "{" + strings.Join(parts, ",") + "}"
	if rng.IntN(4) == 0 { // corrupt one byte
		i := rng.IntN(len(s))
		s = s[:i] + string("0x\"{}[],:gG \\n"[rng.IntN(14)]) + s[i+1:]
	}
	return s
}

// TestParseLogsDifferentialRandom compares ParseLogs with encoding/json on
// seeded random, partly corrupt inputs.
func TestParseLogsDifferentialRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 7))
	accepted := 0
	for range 3000 {
		logs := make([]string, rng.IntN(4))
		for i := range logs {
			logs[i] = randomLogJSON(rng)
		}
		in := []byte("[" + strings.Join(logs, ",") + "]")
		checkSame(t, in)
		if _, err := ParseLogs(in); err == nil {
			accepted++
		}
	}
	if accepted < 500 || accepted > 2900 {
		t.Fatalf("%d of 3000 inputs accepted: the generator no longer mixes valid and invalid input", accepted)
	}
}

// FuzzParseLogs: ParseLogs never panics, and whenever encoding/json accepts
// an input ParseLogs returns the same logs (it also refuses what
// encoding/json refuses).
func FuzzParseLogs(f *testing.F) {
	f.Add([]byte(`[` + validLog + `]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"address":"0x794a61358d6845594f94dc1db02a252b5b4814ad","topics":[],"data":"","transactionHash":"0x1111111111111111111111111111111111111111111111111111111111111111","blockTimestamp":"0x1","x":[{"y":-0.5E-2}]}]`))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		f.Add([]byte("[" + randomLogJSON(rng) + "]"))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkSame(t, in)
	})
}

// benchInput is a realistic eth_getLogs result: chainsim's Polygon logs.
func benchInput(b *testing.B) ([]byte, int) {
	b.Helper()
	results := chainsimLogs(b, sim.Config{Seed: 1, Scale: 0.1, Chains: []uint64{137}}, 137, 1<<40)
	logs, err := ParseLogs(results[0])
	if err != nil {
		b.Fatal(err)
	}
	return results[0], len(logs)
}

// BenchmarkParseLogs reports ns per log (ns/log) of ParseLogs.
func BenchmarkParseLogs(b *testing.B) {
	in, n := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := ParseLogs(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/log")
}

// BenchmarkParseLogsStdlib is the reference: encoding/json into types.Log.
func BenchmarkParseLogsStdlib(b *testing.B) {
	in, n := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := stdlibLogs(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/log")
}
