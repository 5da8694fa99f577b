package store

import (
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

// referenceAmount is amount and scaled through math/big: the value as a
// big.Int, and the float64 nearest to the exact quotient (big.Rat). A uint256
// has no sign, so "-0" is rejected too.
func referenceAmount(s string, decimals uint32) (string, float64, bool) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || v.Cmp(maxUint256) > 0 || strings.ContainsAny(s, "+-_") {
		return "", 0, false
	}
	q := new(big.Rat).SetInt(v)
	if decimals > 0 && decimals <= 77 {
		q.Quo(q, new(big.Rat).SetInt(usd.Pow10(uint8(decimals))))
	}
	x, _ := q.Float64()
	return v.String(), x, true
}

// FuzzAmount compares amount and scaled with the math/big reference: the
// same verdict, the same canonical text and the same float64, bit for bit.
func FuzzAmount(f *testing.F) {
	for _, s := range []string{"0", "007", "1", "1000000", "500000000000000000", "9999999999999999999",
		"18446744073709551615", "18446744073709551616", "123456789012345678901234567890", "-1", "0x10", "+5", "1_0"} {
		f.Add(s, uint32(18))
	}
	f.Add("1000000", uint32(6))
	f.Add("9007199254740993", uint32(0))
	f.Add("115792089237316195423570985008687907853269984665640564039457584007913129639935", uint32(77)) // 2^256 - 1
	f.Add("115792089237316195423570985008687907853269984665640564039457584007913129639936", uint32(18)) // 2^256
	f.Add("0000000000000000000000000000000000000000000000000000000000000000000000000000000001", uint32(30))
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
		if got := scaled(v, decimals); got != wantF {
			t.Fatalf("scaled(%q, %d) = %v, want %v", s, decimals, got, wantF)
		}
	})
}

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
		if got := scaled(v, dec); got != wantF {
			t.Fatalf("scaled(%q, %d) = %v, want %v", s, dec, got, wantF)
		}
		// A long amount: 20 to 78 digits, up to 2^256 - 1 and a little above.
		long := new(big.Int).Rsh(new(big.Int).Rand(rng, new(big.Int).Lsh(maxUint256, 1)), uint(rng.Intn(190)))
		if long.BitLen() < 64 {
			long.Lsh(long, 64)
		}
		ls := long.String()
		if rng.Intn(4) == 0 {
			ls = "00" + ls
		}
		ld := dec + uint32(rng.Intn(60))
		text, v, err = amount(ls, false)
		wantText, wantF, ok := referenceAmount(ls, ld)
		if (err == nil) != ok || text != wantText {
			t.Fatalf("amount(%q) = %q, %v; want %q, ok %v", ls, text, err, wantText, ok)
		}
		if got := scaled(v, ld); ok && got != wantF {
			t.Fatalf("scaled(%q, %d) = %v, want %v", ls, ld, got, wantF)
		}
		e8 := rng.Int63() >> uint(rng.Intn(63))
		us := usd.Format(big.NewInt(e8))
		if got, ok := parseE8(us); !ok || got != e8 {
			t.Fatalf("parseE8(%q) = %d, %v; want %d", us, got, ok, e8)
		}
	}
}
