package protocol

import (
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

func TestHexAddrMatchesHexutil(t *testing.T) {
	r := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 3))
	for n := range 400 { // across the stack buffer's size
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := hexAddr(b), hexutil.Encode(b); got != want {
			t.Fatalf("%d bytes: %q, want %q", n, got, want)
		}
	}
	if got := hexAddr(nil); got != "0x" {
		t.Fatalf("nil: %q", got)
	}
	if a := testing.AllocsPerRun(100, func() { _ = hexAddr(make([]byte, 32)) }); a > 1 {
		t.Fatalf("%v allocations for a hash, want 1", a)
	}
}
