package rpc

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// naivePlainRun is plainRun one byte at a time.
func naivePlainRun(b []byte) int {
	for i, c := range b {
		if c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return len(b)
}

// TestPlainRun checks the eight-bytes-at-a-time scan against the naive one
// for every byte value at every position of a word and its tail, after
// every other byte value.
func TestPlainRun(t *testing.T) {
	for _, fill := range []byte{'a', 0x7f, 0x80, 0xff, 0x20, '!', '#', '[', ']', 0x5d} {
		for n := range 20 {
			for pos := range n {
				for c := range 256 {
					b := bytes.Repeat([]byte{fill}, n)
					b[pos] = byte(c)
					if got, want := plainRun(b), naivePlainRun(b); got != want {
						t.Fatalf("plainRun(%q) = %d, want %d", b, got, want)
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 23))
	for range 20000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.UintN(256))
			if rng.IntN(3) != 0 {
				b[i] = 0x20 + byte(rng.UintN(0x60))
			}
		}
		if got, want := plainRun(b), naivePlainRun(b); got != want {
			t.Fatalf("plainRun(%q) = %d, want %d", b, got, want)
		}
	}
}

// TestLookupFolded checks the ASCII shortcut of lookupFolded against
// encoding/json's folding for keys near the field names.
func TestLookupFolded(t *testing.T) {
	fs := newFieldSet[headerField](headerFieldNames[:])
	rng := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 29))
	const alphabet = "numberNUMBERhashHASHparentHashtimestampTIMESTAMP[]{}@`_-0 \x7f\u017f\u212a"
	keys := []string{"number", "NUMBER", "nUmBeR", "hash", "HASH", "parenthash", "PARENTHASH", "timestamp", "TimeStamp",
		"numbe", "numberr", "n[mber", "{ash", "ha\u017fh", "HA\u017fH", "ti\u212amestamp", "", "x"}
	fixed := len(keys)
	for range 20000 {
		k := []byte(keys[rng.IntN(fixed)])
		if len(k) > 0 && rng.IntN(4) != 0 {
			k[rng.IntN(len(k))] = alphabet[rng.IntN(len(alphabet))]
		}
		keys = append(keys, string(k))
	}
	found := 0
	for _, k := range keys {
		var arr [32]byte
		want := fs.folded[string(foldName(arr[:0], []byte(k)))]
		if got := fs.lookupFolded([]byte(k)); got != want {
			t.Fatalf("lookupFolded(%q) = %d, want %d", k, got, want)
		}
		if want != 0 {
			found++
		}
	}
	if found < len(keys)/10 {
		t.Fatalf("only %d of %d keys name a field: the test no longer probes matches", found, len(keys))
	}
}
