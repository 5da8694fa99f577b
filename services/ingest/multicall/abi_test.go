package multicall

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// multicall3ABI is aggregate3 from Multicall3's published ABI.
const multicall3ABI = `[{"inputs":[{"components":[{"internalType":"address","name":"target","type":"address"},{"internalType":"bool","name":"allowFailure","type":"bool"},{"internalType":"bytes","name":"callData","type":"bytes"}],"internalType":"struct Multicall3.Call3[]","name":"calls","type":"tuple[]"}],"name":"aggregate3","outputs":[{"components":[{"internalType":"bool","name":"success","type":"bool"},{"internalType":"bytes","name":"returnData","type":"bytes"}],"internalType":"struct Multicall3.Result[]","name":"returnData","type":"tuple[]"}],"stateMutability":"payable","type":"function"}]`

func gethABI(t testing.TB) abi.ABI {
	t.Helper()
	a, err := abi.JSON(strings.NewReader(multicall3ABI))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// seed is the test's seed (testsupport.Seed: random unless
// LIQSTREAM_TEST_SEED is set, printed when the test fails).
func seed(t *testing.T) uint64 { return uint64(testsupport.Seed(t)) }

func randBytes(r *rand.Rand, max int) []byte {
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randCalls(r *rand.Rand) []Call3 {
	calls := make([]Call3, r.IntN(6))
	for i := range calls {
		var a common.Address
		copy(a[:], randBytes(r, 20))
		calls[i] = Call3{Target: a, AllowFailure: r.IntN(2) == 0, CallData: randBytes(r, 100)}
	}
	return calls
}

func TestEncodeAggregate3MatchesGoEthereum(t *testing.T) {
	a := gethABI(t)
	r := rand.New(rand.NewPCG(seed(t), 7))
	cases := [][]Call3{
		nil,
		{{Target: common.HexToAddress("0x1"), CallData: []byte{1, 2, 3, 4}}},
		{{Target: Address, AllowFailure: true, CallData: make([]byte, 32)}, {Target: Address, CallData: make([]byte, 33)}},
	}
	for range 200 {
		cases = append(cases, randCalls(r))
	}
	for i, calls := range cases {
		in := calls
		if in == nil {
			in = []Call3{}
		}
		want, err := a.Pack("aggregate3", in)
		if err != nil {
			t.Fatalf("case %d: abi.Pack: %v", i, err)
		}
		if got := EncodeAggregate3(calls); !bytes.Equal(got, want) {
			t.Fatalf("case %d (%d calls): encoding differs from go-ethereum's\n got %x\nwant %x", i, len(calls), got, want)
		}
	}
}

func packResults(t testing.TB, a abi.ABI, rs []Result) []byte {
	t.Helper()
	if rs == nil {
		rs = []Result{}
	}
	b, err := a.Methods["aggregate3"].Outputs.Pack(rs)
	if err != nil {
		t.Fatalf("packing results: %v", err)
	}
	return b
}

func TestDecodeAggregate3MatchesGoEthereum(t *testing.T) {
	a := gethABI(t)
	r := rand.New(rand.NewPCG(seed(t), 9))
	for i := range 300 {
		rs := make([]Result, r.IntN(6))
		for j := range rs {
			rs[j] = Result{Success: r.IntN(2) == 0, ReturnData: randBytes(r, 200)}
		}
		data := packResults(t, a, rs)
		got, err := DecodeAggregate3(data, len(rs))
		if err != nil {
			t.Fatalf("case %d: %v (data %x)", i, err, data)
		}
		if len(got) != len(rs) {
			t.Fatalf("case %d: %d results, want %d", i, len(got), len(rs))
		}
		for j := range rs {
			if got[j].Success != rs[j].Success || !bytes.Equal(got[j].ReturnData, rs[j].ReturnData) {
				t.Fatalf("case %d result %d: got %+v, want %+v", i, j, got[j], rs[j])
			}
		}
	}
}

func TestDecodeAggregate3Rejects(t *testing.T) {
	a := gethABI(t)
	good := packResults(t, a, []Result{{Success: true, ReturnData: []byte{1, 2, 3}}, {ReturnData: nil}})
	word := func(b []byte, at int, v uint16) []byte {
		c := bytes.Clone(b)
		clear(c[at : at+32])
		c[at+30], c[at+31] = byte(v>>8), byte(v)
		return c
	}
	// Layout: offset 0x20 | n at 32 | tuple offsets at 64, 96 | tuple 0 at
	// 128: success, data offset (160), length (192), data (224).
	tests := []struct {
		name string
		data []byte
		want int
		msg  string
	}{
		{"empty (no contract at the address)", nil, 2, "past the end"},
		{"short", good[:31], 2, "past the end"},
		{"truncated", good[:len(good)-40], 2, "past the end"},
		{"count differs from the calls sent", good, 3, "2 results for 3 calls"},
		{"offset past the end", word(good, 0, 0x1000), 2, "word at 4096 past the end"},
		{"success flag not a bool", word(good, 128, 2), 2, "success flag is 2"},
		{"data offset too large", func() []byte { c := bytes.Clone(good); c[160] = 0xff; return c }(), 2, "does not fit"},
		{"data length past the end", func() []byte { c := bytes.Clone(good); c[192+29] = 1; return c }(), 2, "return data of 65539 bytes past the end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := DecodeAggregate3(tt.data, tt.want)
			if err == nil {
				t.Fatalf("accepted %x as %+v", tt.data, rs)
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q, want ErrMalformed saying %q", err, tt.msg)
			}
		})
	}
	if _, err := DecodeAggregate3(good, 2); err != nil {
		t.Fatalf("the unmodified answer: %v", err)
	}
}

// FuzzDecodeAggregate3 checks that the decoder never panics and never
// accepts what go-ethereum's decoder rejects or reads differently.
func FuzzDecodeAggregate3(f *testing.F) {
	a := gethABI(f)
	f.Add(packResults(f, a, []Result{{Success: true, ReturnData: []byte{1, 2, 3}}, {ReturnData: bytes.Repeat([]byte{9}, 40)}}), 2)
	f.Add(packResults(f, a, nil), 0)
	f.Add([]byte{}, 1)
	f.Fuzz(func(t *testing.T, data []byte, want int) {
		got, err := DecodeAggregate3(data, want)
		if err != nil {
			return
		}
		out, gerr := a.Methods["aggregate3"].Outputs.Unpack(data)
		if gerr != nil {
			t.Fatalf("accepted %x, which go-ethereum rejects: %v", data, gerr)
		}
		ref := *abi.ConvertType(out[0], new([]Result)).(*[]Result)
		if len(ref) != len(got) {
			t.Fatalf("%d results, go-ethereum %d", len(got), len(ref))
		}
		for i := range ref {
			if ref[i].Success != got[i].Success || !bytes.Equal(ref[i].ReturnData, got[i].ReturnData) {
				t.Fatalf("result %d: %+v, go-ethereum %+v", i, got[i], ref[i])
			}
		}
	})
}
