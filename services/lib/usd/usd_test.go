package usd

import (
	"errors"
	"math/big"
	"testing"
)

func TestValue(t *testing.T) {
	tests := []struct {
		name          string
		amount, price string
		decimals      uint8
		want          string
	}{
		{"one USDC at 1.00", "1000000", "100000000", 6, "1.00000000"},
		{"1.5 WETH at 3000.12345678", "1500000000000000000", "300012345678", 18, "4500.18518517"},
		{"truncates", "1", "99999999", 18, "0.00000000"},
		{"zero", "0", "123", 8, "0.00000000"},
		{"uint256 max amount", "115792089237316195423570985008687907853269984665640564039457584007913129639935", "100000000", 18, "115792089237316195423570985008687907853269984665640564039457.58400791"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := new(big.Int).SetString(tt.amount, 10)
			p, _ := new(big.Int).SetString(tt.price, 10)
			if got := Format(Value(a, p, tt.decimals)); got != tt.want {
				t.Fatalf("got %s want %s", got, tt.want)
			}
		})
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	for _, s := range []string{"0.00000000", "0.00000001", "-0.00000001", "12.50000000", "123456789012345678901234567890.12345678"} {
		v, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if got := Format(v); got != s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	}
	for _, s := range []string{"12", "12.5"} {
		if _, err := Parse(s); err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", "-", "1.", ".5", "1.123456789", "1e5", "abc", "1.2.3", " 1"} {
		if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) err = %v, want ErrSyntax", s, err)
		}
	}
	if Format(nil) != "" || Value(nil, big.NewInt(1), 0) != nil {
		t.Fatal("nil handling")
	}
}
