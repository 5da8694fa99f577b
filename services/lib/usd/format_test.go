package usd

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// formatBig is Format's big.Int path, the reference for formatInt64.
func formatBig(e8 *big.Int) string {
	neg := e8.Sign() < 0
	s := new(big.Int).Abs(e8).String()
	if len(s) <= Decimals {
		s = strings.Repeat("0", Decimals-len(s)+1) + s
	}
	out := s[:len(s)-Decimals] + "." + s[len(s)-Decimals:]
	if neg {
		out = "-" + out
	}
	return out
}

func TestFormatInt64MatchesBig(t *testing.T) {
	vals := []int64{0, 1, -1, 9, 10, 99_999_999, 100_000_000, -100_000_000, 123_456_789_012, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	r := rand.New(rand.NewPCG(uint64(testsupport.Seed(t)), 5))
	for range 2000 {
		v := int64(r.Uint64() >> r.IntN(64))
		if r.IntN(2) == 0 {
			v = -v
		}
		vals = append(vals, v)
	}
	for _, v := range vals {
		if got, want := Format(big.NewInt(v)), formatBig(big.NewInt(v)); got != want {
			t.Fatalf("Format(%d) = %q, want %q", v, got, want)
		}
	}
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	if got, want := Format(huge), formatBig(huge); got != want {
		t.Fatalf("Format(%s) = %q, want %q", huge, got, want)
	}
}

func FuzzFormat(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, v int64) {
		if got, want := Format(big.NewInt(v)), formatBig(big.NewInt(v)); got != want {
			t.Fatalf("Format(%d) = %q, want %q", v, got, want)
		}
	})
}
