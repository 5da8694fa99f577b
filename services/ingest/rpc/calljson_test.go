package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// stdlibCallResult is how CallBatch decoded a result before
// appendCallResult: the reference of the differential tests.
func stdlibCallResult(data []byte) ([]byte, error) {
	var b hexutil.Bytes
	err := json.Unmarshal(data, &b)
	return b, err
}

// checkCallResult fails unless appendCallResult and the reference agree on
// data, appending to an empty and to a non-empty buffer.
func checkCallResult(t testing.TB, data []byte) {
	t.Helper()
	want, werr := stdlibCallResult(data)
	for _, prefix := range [][]byte{{}, []byte("prefix")} {
		dst := bytes.Clone(prefix)
		got, gerr := appendCallResult(dst, data)
		switch {
		case werr != nil && gerr == nil:
			t.Fatalf("appendCallResult accepted what encoding/json refuses (%v): %q", werr, truncate(string(data), 2000))
		case werr == nil && gerr != nil:
			t.Fatalf("appendCallResult refused what encoding/json accepts: %v\n%q", gerr, truncate(string(data), 2000))
		case !bytes.Equal(got[:len(prefix)], prefix):
			t.Fatalf("appendCallResult changed the buffer's prefix: %q", got)
		case werr != nil:
			var se *scanError
			if !errors.As(gerr, &se) || len(got) != len(prefix) {
				t.Fatalf("error %v (%T) left %q in the buffer, want a *scanError and the buffer as it was", gerr, gerr, got)
			}
		case !bytes.Equal(got[len(prefix):], want) || want == nil:
			t.Fatalf("appendCallResult = %x, encoding/json %x (nil %v)", got[len(prefix):], want, want == nil)
		}
	}
}

func TestCallResultCases(t *testing.T) {
	word := `"0x` + strings.Repeat("0", 63) + `1"`
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"word", word, true},
		{"empty 0x", `"0x"`, true},
		{"empty string", `""`, true},
		{"upper case", `"0X` + strings.Repeat("AB", 40) + `"`, true},
		{"white space", " \n\t" + word + "\r ", true},

		{"null", `null`, false},
		{"number", `1`, false},
		{"object", `{}`, false},
		{"array", `["0x00"]`, false},
		{"empty", ``, false},
		{"no 0x", `"00"`, false},
		{"odd length", `"0x123"`, false},
		{"bad hex", `"0x0g"`, false},
		{"escape", `"0x\u0030\u0030"`, false},
		{"escaped quote", `"0x00\"00"`, false},
		{"unterminated", `"0x00`, false},
		{"trailing garbage", word + `x`, false},
		{"two strings", word + word, false},
		{"control char", "\"0x0\x01\"", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := appendCallResult(nil, []byte(tt.in)); (err == nil) != tt.ok {
				t.Fatalf("appendCallResult error %v, want ok=%v", err, tt.ok)
			}
			checkCallResult(t, []byte(tt.in))
		})
	}
}

// randomCallResult builds an eth_call result, mostly valid, sometimes with
// one corruption.
func randomCallResult(rng *rand.Rand) string {
	b := make([]byte, 32*rng.IntN(16))
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	s := hexutil.Encode(b)
	if rng.IntN(6) == 0 {
		s = strings.ToUpper(s)
	}
	s = `"` + s + `"`
	if rng.IntN(3) == 0 {
		i := rng.IntN(len(s))
		s = s[:i] + string("0x\"gG \\n1{["[rng.IntN(11)]) + s[i+1:]
	}
	return s
}

func TestCallResultDifferentialRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 17))
	for range 3000 {
		checkCallResult(t, []byte(randomCallResult(rng)))
	}
}

// TestCallBatchResultsDoNotShareCapacity checks that the results CallBatch
// cuts from one buffer cannot overwrite each other when appended to.
func TestCallBatchResultsDoNotShareCapacity(t *testing.T) {
	f := newFakeNode(t, "")
	c := mustNew(t, testConfig(f.url("/")), nil, nil, nil)
	res, err := c.CallBatch(t.Context(), []Call{{Data: []byte{1}, Block: 10}, {Data: []byte{2}, Block: 10}})
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(res[1].Data)
	_ = append(res[0].Data, 0xff, 0xff, 0xff)
	if !bytes.Equal(res[1].Data, want) || len(want) != 32 || want[31] != 1 {
		t.Fatalf("results %x, %x: appending to the first changed the second or the data is wrong", res[0].Data, res[1].Data)
	}
}

// FuzzCallResult: appendCallResult never panics and agrees with
// encoding/json into hexutil.Bytes on every input.
func FuzzCallResult(f *testing.F) {
	f.Add([]byte(`"0x` + strings.Repeat("0", 63) + `1"`))
	f.Add([]byte(`""`))
	f.Add([]byte(`null`))
	rng := rand.New(rand.NewPCG(9, 10))
	for range 10 {
		f.Add([]byte(randomCallResult(rng)))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkCallResult(t, in)
	})
}
