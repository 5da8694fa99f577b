package usd

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Decimals is the number of decimal places of every USD value.
const Decimals = 8

// ErrSyntax is returned (wrapped) by Parse for text that is not a decimal number.
var ErrSyntax = errors.New("invalid USD value")

var pow10 [78]*big.Int

func init() {
	pow10[0] = big.NewInt(1)
	ten := big.NewInt(10)
	for i := 1; i < len(pow10); i++ {
		pow10[i] = new(big.Int).Mul(pow10[i-1], ten)
	}
}

// Pow10 returns 10^n for 0 <= n <= 77. The result must not be modified.
func Pow10(n uint8) *big.Int {
	if int(n) >= len(pow10) {
		panic(fmt.Sprintf("usd: 10^%d out of range", n))
	}
	return pow10[n]
}

// Value returns amount × priceE8 / 10^decimals in 1e-8 USD, truncated: the USD
// value of amount base units of a token with the given decimals, priced at
// priceE8 (USD per whole token, 8 decimals). A nil operand yields nil.
func Value(amount, priceE8 *big.Int, decimals uint8) *big.Int {
	if amount == nil || priceE8 == nil {
		return nil
	}
	v := new(big.Int).Mul(amount, priceE8)
	return v.Quo(v, Pow10(decimals))
}

// Format writes a value in 1e-8 USD as a decimal string with exactly 8
// decimals: 123456789 → "1.23456789". nil formats as "".
func Format(e8 *big.Int) string {
	if e8 == nil {
		return ""
	}
	if e8.IsInt64() { // every price and almost every value: no big.Int copy
		return formatInt64(e8.Int64())
	}
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

// formatInt64 is Format for a value that fits an int64, in one allocation.
func formatInt64(v int64) string {
	var buf [32]byte // sign, 19 digits, point
	u := uint64(v)
	if v < 0 {
		u = -u // two's complement: right for math.MinInt64 too
	}
	i := len(buf)
	for range Decimals {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	i--
	buf[i] = '.'
	for {
		i--
		buf[i] = byte('0' + u%10)
		if u /= 10; u == 0 {
			break
		}
	}
	if v < 0 {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// Parse reads a decimal string ("12", "12.5", "-0.00000001") into 1e-8 USD.
// More than 8 decimals is an error rather than a silent truncation.
func Parse(s string) (*big.Int, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrSyntax)
	}
	neg := false
	body := s
	if body[0] == '-' {
		neg, body = true, body[1:]
	}
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" || (hasDot && frac == "") || len(frac) > Decimals || !digits(intPart) || !digits(frac) {
		return nil, fmt.Errorf("%w %q: want digits with at most %d decimals", ErrSyntax, s, Decimals)
	}
	v, _ := new(big.Int).SetString(intPart+frac+strings.Repeat("0", Decimals-len(frac)), 10)
	if neg {
		v.Neg(v)
	}
	return v, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
