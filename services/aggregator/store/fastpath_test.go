package store

import (
	"math"
	"math/big"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/usd"
)

// FuzzParseE8 holds the fast USD parser to usd.Parse: whenever parseE8
// answers, usd.Parse accepts the same text with the same value; and
// usdValue (fast path plus fallback) accepts and rejects exactly what the
// reference rules do, with the same value.
func FuzzParseE8(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "1.5", "1234.50000000", "0.00000001", "1.000000001", "-1", "",
		".5", "5.", "1e5", "+1", " 1", "92233720368.54775807", "92233720368.54775808", "99999999999999999999",
		"999999999999999999999999999999.99999999", "1000000000000000000000000000000", "00012.30", "1.2.3", "-", "-.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, refErr := usd.Parse(s)
		if e8, ok := parseE8(s); ok {
			if refErr != nil {
				t.Fatalf("parseE8(%q) = %d, usd.Parse rejects it: %v", s, e8, refErr)
			}
			if ref.Cmp(big.NewInt(e8)) != 0 {
				t.Fatalf("parseE8(%q) = %d, usd.Parse = %s", s, e8, ref)
			}
		}
		got, err := usdValue(s)
		wantOK := s == "" || (refErr == nil && ref.Sign() >= 0 && ref.Cmp(maxUSD) < 0)
		if (err == nil) != wantOK {
			t.Fatalf("usdValue(%q) error %v, want ok=%v (usd.Parse: %v, %v)", s, err, wantOK, ref, refErr)
		}
		if err == nil && got.valid != (s != "") {
			t.Fatalf("usdValue(%q) valid = %v, want %v", s, got.valid, s != "")
		}
		if err == nil && s != "" && got.v.String() != usd.Format(ref) {
			t.Fatalf("usdValue(%q) = %s, want %s", s, got.v, usd.Format(ref))
		}
	})
}

// referenceAmount is amount and scaled as they were before the fast path:
// big.Int for every value.
func referenceAmount(s string, decimals uint32) (string, float64, bool) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || v.Cmp(maxUint256) > 0 || strings.ContainsAny(s, "+_") {
		return "", 0, false
	}
	f := new(big.Float).SetInt(v)
	if decimals > 0 && decimals <= 77 {
		f.Quo(f, new(big.Float).SetInt(usd.Pow10(uint8(decimals))))
	}
	x, _ := f.Float64()
	return v.String(), x, true
}

// FuzzAmount compares the uint64 fast path of amount and scaled with the
// big.Int reference. The canonical text must be equal; the float may differ
// by one unit in the last place, because big.Float rounds twice (to 64 bits,
// then to float64) where one IEEE division rounds once.
func FuzzAmount(f *testing.F) {
	for _, s := range []string{"0", "007", "1", "1000000", "500000000000000000", "9999999999999999999",
		"18446744073709551615", "18446744073709551616", "123456789012345678901234567890", "-1", "0x10", "+5", "1_0"} {
		f.Add(s, uint32(18))
	}
	f.Add("1000000", uint32(6))
	f.Add("9007199254740993", uint32(0))
	f.Fuzz(func(t *testing.T, s string, decimals uint32) {
		decimals %= 80
		text, v, err := amount(s, false)
		wantText, wantF, ok := referenceAmount(s, decimals)
		if s == "" {
			ok = false
		}
		if (err == nil) != ok {
			t.Fatalf("amount(%q) error %v, want ok=%v", s, err, ok)
		}
		if err != nil {
			return
		}
		if text != wantText {
			t.Fatalf("amount(%q) = %q, want %q", s, text, wantText)
		}
		if got := scaled(v, decimals); got != wantF && math.Abs(got-wantF) > ulp(wantF) {
			t.Fatalf("scaled(%q, %d) = %v, want %v", s, decimals, got, wantF)
		}
	})
}

func ulp(x float64) float64 { return math.Nextafter(math.Abs(x), math.Inf(1)) - math.Abs(x) }

// TestFastPathsOnRandomValues runs both differential checks on many random
// values of the shapes real events carry (token amounts, 8-decimal USD).
func TestFastPathsOnRandomValues(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for range 200_000 {
		u := rng.Uint64() >> uint(rng.Intn(64))
		s := strconv.FormatUint(u, 10)
		dec := uint32(rng.Intn(25))
		text, v, err := amount(s, false)
		wantText, wantF, _ := referenceAmount(s, dec)
		if err != nil || text != wantText {
			t.Fatalf("amount(%q) = %q, %v; want %q", s, text, err, wantText)
		}
		if got := scaled(v, dec); got != wantF && math.Abs(got-wantF) > ulp(wantF) {
			t.Fatalf("scaled(%q, %d) = %v, want %v", s, dec, got, wantF)
		}
		e8 := rng.Int63() >> uint(rng.Intn(63))
		us := usd.Format(big.NewInt(e8))
		if got, ok := parseE8(us); !ok || got != e8 {
			t.Fatalf("parseE8(%q) = %d, %v; want %d", us, got, ok, e8)
		}
	}
}
