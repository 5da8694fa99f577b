package sim_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

// diffSim is the simulation the fast/slow differential tests answer from: one
// chain with caps on eth_getLogs, so random ranges stay cheap.
var (
	diffOnce sync.Once
	diffS    *sim.Sim
	diffErr  error
)

func diffSim(t testing.TB) *sim.Sim {
	t.Helper()
	diffOnce.Do(func() {
		diffS, diffErr = sim.New(sim.Config{Seed: 5, Scale: 0.05, Chains: []uint64{polygonID}, MaxLogRange: 5_000, MaxLogResults: 50})
	})
	if diffErr != nil {
		t.Fatal(diffErr)
	}
	return diffS
}

// sameAnswer fails when the fast and the slow path answer body differently,
// and returns how many requests took the fast path.
func sameAnswer(t testing.TB, s *sim.Sim, body []byte) int {
	t.Helper()
	fast, slow, n := s.ServeBoth(polygonID, body)
	if !bytes.Equal(fast, slow) {
		t.Fatalf("body %.1500q:\nfast path %.1500s\nslow path %.1500s", body, fast, slow)
	}
	return n
}

// callCorpus returns request objects (no id, jsonrpc or framing) for every
// method served, with good and bad params.
func callCorpus(s *sim.Sim) []string {
	const id = polygonID
	head := s.Head(id)
	ev := s.Truth().Events(id)[2]
	assets := s.Assets(id)
	orc, pool, dp := s.Oracle(id).Hex(), s.Pool(id).Hex(), s.DataProvider(id).Hex()
	word := func(hexAddr string) string { return strings.Repeat("0", 24) + strings.ToLower(hexAddr[2:]) }
	blk := func(n uint64) string { return fmt.Sprintf(`"0x%x"`, n) }
	calls := []string{
		`"method":"eth_chainId"`,
		`"method":"eth_chainId","params":[]`,
		`"method":"eth_chainId","params":null`,
		`"method":"net_version"`,
		`"method":"eth_blockNumber","params":[]`,
		`"method":"web3_clientVersion"`,
		`"method":"eth_syncing"`,
		`"method":"eth_nope","params":[1]`,
		`"method":"<b>&amp;","params":[]`,
		`"method":"eth_chainId","params":{}`,
		`"method":"eth_chainId","params":5`,
		`"method":"eth_chainId","params":"x"`,
		`"method":"eth_getBlockByNumber","params":["latest",false]`,
		`"method":"eth_getBlockByNumber","params":["safe",false]`,
		`"method":"eth_getBlockByNumber","params":["finalized",true]`,
		`"method":"eth_getBlockByNumber","params":["earliest",false]`,
		`"method":"eth_getBlockByNumber","params":["pending"]`,
		`"method":"eth_getBlockByNumber","params":[` + blk(ev.BlockNumber) + `,false]`,
		`"method":"eth_getBlockByNumber","params":[` + blk(head+1) + `,false]`,
		`"method":"eth_getBlockByNumber","params":["0x",false]`,
		`"method":"eth_getBlockByNumber","params":["0x01",false]`,
		`"method":"eth_getBlockByNumber","params":[12,false]`,
		`"method":"eth_getBlockByNumber","params":[]`,
		`"method":"eth_getBlockByNumber","params":["latest",false,1]`,
		`"method":"eth_getBlockByNumber","params":["lat\u0065st",false]`,
		`"method":"eth_getBlockByHash","params":["` + ev.BlockHash.Hex() + `",false]`,
		`"method":"eth_getBlockByHash","params":["` + s.BlockHash(id, head-3).Hex() + `",false]`,
		`"method":"eth_getBlockByHash","params":["0x1234",false]`,
		`"method":"eth_getBlockByHash","params":["0x` + strings.Repeat("ab", 32) + `",false]`,
		`"method":"eth_getLogs","params":[{"fromBlock":` + blk(ev.BlockNumber-100) + `,"toBlock":` + blk(ev.BlockNumber+100) + `}]`,
		`"method":"eth_getLogs","params":[{"fromBlock":` + blk(ev.BlockNumber-2000) + `,"toBlock":` + blk(ev.BlockNumber+2000) + `,"address":"` + pool + `","topics":["` + sim.TopicLiquidationCall.Hex() + `"]}]`,
		`"method":"eth_getLogs","params":[{"fromBlock":` + blk(ev.BlockNumber) + `,"toBlock":` + blk(ev.BlockNumber) + `,"address":["` + pool + `","0x0000000000000000000000000000000000000001"],"topics":[null,null,null,"0x` + word(ev.Borrower.Hex()) + `"]}]`,
		`"method":"eth_getLogs","params":[{"blockHash":"` + ev.BlockHash.Hex() + `"}]`,
		`"method":"eth_getLogs","params":[{"blockHash":"` + ev.BlockHash.Hex() + `","fromBlock":"0x1"}]`,
		`"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"latest"}]`,
		`"method":"eth_getLogs","params":[{"fromBlock":"0x10","toBlock":"0x5"}]`,
		`"method":"eth_getLogs","params":[{"fromBlock":` + blk(head-10) + `,"toBlock":` + blk(head+10) + `}]`,
		`"method":"eth_getLogs","params":[{"topics":["0x12"]}]`,
		`"method":"eth_getLogs","params":[{"topics":[[],[null],null,null,null]}]`,
		`"method":"eth_getLogs","params":[]`,
		`"method":"eth_getLogs","params":["x"]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0xb3596f07` + word(ev.DebtAsset.Hex()) + `"},` + blk(ev.BlockNumber) + `]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","input":"0xb3596f07` + word(ev.DebtAsset.Hex()) + `"},{"blockNumber":` + blk(ev.BlockNumber) + `}]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0xb3596f07` + word(ev.DebtAsset.Hex()) + `"},{"blockHash":"` + ev.BlockHash.Hex() + `"}]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0x9d23d9f2` + fmt.Sprintf("%064x%064x", 32, 2) + word(ev.DebtAsset.Hex()) + word(ev.CollateralAsset.Hex()) + `"},"latest"]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0x8c89b64f"}]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0xe19f4700"},"safe"]`,
		`"method":"eth_call","params":[{"to":"` + dp + `","data":"0x3e150141` + word(ev.CollateralAsset.Hex()) + `"},` + blk(ev.BlockNumber) + `]`,
		`"method":"eth_call","params":[{"to":"` + dp + `","data":"0x3cb8a622` + word(ev.CollateralAsset.Hex()) + `"},"latest"]`,
		`"method":"eth_call","params":[{"to":"` + assets[0].Address.Hex() + `","data":"0x95d89b41"},"latest"]`,
		`"method":"eth_call","params":[{"to":"` + assets[1].Address.Hex() + `","data":"0x06fdde03"},"latest"]`,
		`"method":"eth_call","params":[{"to":"` + assets[2].Address.Hex() + `","data":"0x313ce567"},"latest"]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0xb3596f07` + word("0x000000000000000000000000000000000000dead") + `"},"latest"]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0xb359"},"latest"]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0x8c89b64f"},` + blk(head+1) + `]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0x8c89b64"},"latest"]`,
		`"method":"eth_call","params":[{"to":"0x12","data":"0x8c89b64f"},"latest"]`,
		`"method":"eth_call","params":[{"data":"0x8c89b64f"},"latest"]`,
		`"method":"eth_call","params":[]`,
		`"method":"eth_call","params":[{"to":"` + orc + `","data":"0x8c89b64f"},"latest",{},1]`,
	}
	return calls
}

// ids are request ids of every JSON type, absent ("" here) included.
var ids = []string{`1`, `0`, `-7`, `1.5e3`, `12345678901234567890123`, `"abc"`, `""`, `"a<b>&c"`, `"\u2028x\n"`, "\"\xe2\x80\xa8\"", `null`, ``, `{"a":1}`, `[1]`, `true`}

// request renders one request object from its parts; empty parts are left
// out, and key order and spacing follow r.
func request(r *rand.Rand, id, call string) string {
	parts := []string{`"jsonrpc":"2.0"`, call}
	if id != "" {
		parts = append(parts, `"id":`+id)
	}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	sp := []string{"", "", "", " ", "\n", "\t ", "\r\n"}
	out := "{" + sp[r.IntN(len(sp))]
	for i, p := range parts {
		if i > 0 {
			out += sp[r.IntN(len(sp))] + "," + sp[r.IntN(len(sp))]
		}
		out += p
	}
	return out + sp[r.IntN(len(sp))] + "}"
}

// oddBodies are bodies and elements outside the scanner's shape or not JSON
// at all, each a case the slow path answers in its own words.
var oddBodies = []string{
	``, ` `, `{`, `}`, `[`, `]`, `[]`, ` [ ] `, `[ ,]`, `[1,]`, `[{}]`, `{}`, `null`, `1`, `"x"`, `true`, `[1,"a",null,[],{}]`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}x`, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"} {}`,
	`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}] ,`, `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},]`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_chainId",}`, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"`,
	`{"jsonrpc":"2.0","ID":1,"method":"eth_chainId"}`, `{"jsonrpc":"2.0","id":1,"Method":"eth_chainId"}`,
	`{"jsonrpc":"2.0","id":1,"METHOD":"eth_chainId","params":[]}`, `{"JSONRPC":2,"id":1,"method":"eth_chainId"}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","PARAMS":5}`, `{"jsonrpc":"2.0","id":1,"m\u0065thod":"eth_chainId"}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_ch\u0061inId"}`, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId\u0000"}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","method":"net_version"}`, `{"jsonrpc":"2.0","id":1,"id":2,"method":"eth_chainId"}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[],"params":null}`, `{"jsonrpc":"2.0","jsonrpc":5,"id":1,"method":"eth_chainId"}`,
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"\u017fd\":2,\"method\":\"eth_chainId\"}", "{\"jsonrpc\":\"2.0\",\"\u212aey\":1,\"id\":1,\"method\":\"eth_chainId\"}",
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\u00e9th\"}", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth\xff\"}",
	`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","extra":{"a":[1,2,{"b":null}]},"x":true}`,
	`{"jsonrpc":null,"id":1,"method":"eth_chainId"}`, `{"id":1,"method":"eth_chainId"}`, `{"jsonrpc":"2.0","method":"eth_chainId"}`,
	`{"jsonrpc":"2.0","id":1,"method":""}`, `{"jsonrpc":"2.0","id":1,"method":null}`, `{"jsonrpc":"2.0","id":1,"method":5}`,
	`{"jsonrpc":"2.0","id":1}`, `{"jsonrpc":"2.0","id":null}`, `{"jsonrpc":"2.0","id":"x","method":[]}`,
	`{"jsonrpc":"2.0","id":01,"method":"eth_chainId"}`, `{"jsonrpc":"2.0","id":1.,"method":"eth_chainId"}`,
	`{"jsonrpc":"2.0","id":-,"method":"eth_chainId"}`, `{"jsonrpc":"2.0","id":1e,"method":"eth_chainId"}`,
	`{"jsonrpc":"2.0","id":1E+5,"method":"eth_chainId"}`, `{"jsonrpc":"2.0","id":-0.0e-0,"method":"eth_chainId"}`,
	`{"jsonrpc":"2.0","id":nul,"method":"eth_chainId"}`, `{"jsonrpc":"2.0","id":nullx,"method":"eth_chainId"}`,
	`{"jsonrpc":"2.0","id":"\x","method":"eth_chainId"}`, `{"jsonrpc":"2.0","id":"\u12g4","method":"eth_chainId"}`,
	"{\"jsonrpc\":\"2.0\",\"id\":\"a\tb\",\"method\":\"eth_chainId\"}", "{\"jsonrpc\":\"2.0\",\"id\":\"a\x7fb\",\"method\":\"eth_chainId\"}",
	"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\"}", "\u00a0{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\"}\u0085",
	"\v{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\"}", "{\"jsonrpc\":\"2.0\",\f\"id\":1,\"method\":\"eth_chainId\"}",
	`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]]}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest" false]}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",tru]}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":[,"latest"]}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x1" "toBlock":"0x2"}]}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x1",}]}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{1:2}]}`,
	`[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"net_version"}]`,
	`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},5,{"jsonrpc":"2.0","id":2,"Method":"x"},{"jsonrpc":"2.0","id":3,"method":"net_version","params":{}}]`,
	`[[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]]`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `]}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[` + strings.Repeat("[", 600) + strings.Repeat("]", 599) + `]}`,
	`[` + strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","x":`, 300) + `1` + strings.Repeat("}", 300) + `]`,
}

// corpus returns the differential test's bodies: single requests and
// batches over callCorpus × ids, the odd bodies, and every cut of a few
// valid bodies.
func corpus(s *sim.Sim, r *rand.Rand) []string {
	calls := callCorpus(s)
	var out []string
	for i, call := range calls {
		for _, id := range ids {
			if (i+len(id))%3 == 0 {
				out = append(out, request(r, id, call))
			}
		}
	}
	for range 200 {
		n := 1 + r.IntN(12)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = request(r, ids[r.IntN(len(ids))], calls[r.IntN(len(calls))])
			if r.IntN(15) == 0 {
				parts[i] = oddBodies[r.IntN(len(oddBodies))]
			}
		}
		out = append(out, "["+strings.Join(parts, ",")+"]", " \n["+strings.Join(parts, " ,\n ")+"]\t")
	}
	out = append(out, oddBodies...)
	for _, b := range []string{request(r, "1", calls[len(calls)-10]), "[" + request(r, `"x"`, calls[12]) + "," + request(r, "", calls[0]) + "]"} {
		for i := range len(b) {
			out = append(out, b[:i], b[:i]+"}", b[:i]+"]", b[:i]+`"`)
		}
	}
	return out
}

// mutate changes a few bytes of b: deletions, insertions of JSON-ish bytes,
// swaps.
func mutate(r *rand.Rand, b string) string {
	const alphabet = "{}[],:\" \\u0123456789abcdefxtrnl-+.eE\x00\x1f\x7f\xc3\xa9\xe2\x80\xa8"
	out := []byte(b)
	for range 1 + r.IntN(3) {
		if len(out) == 0 {
			out = append(out, alphabet[r.IntN(len(alphabet))])
			continue
		}
		i := r.IntN(len(out))
		switch r.IntN(3) {
		case 0:
			out = append(out[:i], out[i+1:]...)
		case 1:
			out = append(out[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, out[i:]...)...)
		default:
			out[i] = alphabet[r.IntN(len(alphabet))]
		}
	}
	return string(out)
}

// nonArrayParams matches calls whose params are neither an array nor null:
// the slow path words their error.
var nonArrayParams = regexp.MustCompile(`"params":[^\[n]`)

// TestFastPathMatchesSlow answers the corpus, and seeded random mutations
// of it, through both paths and requires the same bytes; most well-formed
// requests must really take the fast path.
func TestFastPathMatchesSlow(t *testing.T) {
	s := diffSim(t)
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	// Every well-formed request with a scalar id takes the fast path.
	fastIDs := 0
	for _, call := range callCorpus(s) {
		for _, id := range ids {
			want := 1
			if strings.HasPrefix(id, "{") || strings.HasPrefix(id, "[") || id == "true" || nonArrayParams.MatchString(call) {
				want = 0
			}
			fastIDs += want
			body := request(r, id, call)
			if got := sameAnswer(t, s, []byte(body)); got != want {
				t.Fatalf("%s: %d requests on the fast path, want %d", body, got, want)
			}
		}
	}
	bodies := corpus(s, r)
	fast := 0
	for _, b := range bodies {
		fast += sameAnswer(t, s, []byte(b))
	}
	deadline := time.Now().Add(3 * time.Second)
	mutated := 0
	for ; mutated < 20_000 && time.Now().Before(deadline); mutated++ {
		sameAnswer(t, s, []byte(mutate(r, bodies[r.IntN(len(bodies))])))
	}
	t.Logf("%d usual requests, %d bodies (%d requests on the fast path), %d mutations agree", fastIDs, len(bodies), fast, mutated)
}

// TestFastPathTakesUsualRequests pins down which bodies the scanner claims.
func TestFastPathTakesUsualRequests(t *testing.T) {
	s := diffSim(t)
	tests := []struct {
		body string
		fast int
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`, 1},
		{` {"jsonrpc":"2.0","id":"a","method":"eth_getBlockByNumber","params":["latest",false]} `, 1},
		{`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]`, 2},
		{`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","ID":2,"method":"eth_blockNumber"}]`, 1},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","other":[1,{"x":null}]}`, 1},
		{`{"jsonrpc":"2.0","id":1,"Method":"eth_chainId"}`, 0},
		{`{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}`, 0},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_ch\u0061inId"}`, 0},
		{`[]`, 0},
		{`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},]`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			if got := sameAnswer(t, s, []byte(tt.body)); got != tt.fast {
				t.Fatalf("%d requests on the fast path, want %d", got, tt.fast)
			}
		})
	}
}

// FuzzServe requires the fast path to answer any body exactly as the
// encoding/json path does.
func FuzzServe(f *testing.F) {
	s := diffSim(f)
	r := rand.New(rand.NewPCG(1, 2))
	for i, b := range corpus(s, r) {
		if i%7 == 0 || i < 60 {
			f.Add([]byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAnswer(t, s, body)
	})
}
