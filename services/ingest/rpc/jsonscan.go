package rpc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// This file holds the JSON scanning primitives shared by the hand-written
// decoders of this package (ParseLogs, decodeAnswers, parseHeader,
// appendCallResult). Each one accepts exactly what encoding/json accepts for
// its target type and is checked against it by differential and fuzz tests.
// The rules they share with encoding/json:
//
//   - the whole input is well-formed JSON (RFC 8259 syntax; only space, tab,
//     CR and LF as whitespace; control characters refused inside strings;
//     invalid UTF-8 inside strings accepted), nested at most maxNesting deep;
//   - keys match a field exactly, else case-insensitively with Unicode
//     simple folding (foldName); a repeated key's last value wins;
//   - unknown keys are skipped whatever their (well-formed) value;
//   - go-ethereum's hex types receive the raw, still escaped bytes of a
//     string, so an escape inside a hex value is an error.

// maxNesting is encoding/json's nesting limit: deeper input is refused.
const maxNesting = 10000

// scanError is a malformed input found by a scanner at byte off. The
// decoders wrap it with what they were decoding.
type scanError struct {
	off    int
	reason string
}

func (e *scanError) Error() string { return fmt.Sprintf("at byte %d: %s", e.off, e.reason) }

// scanner reads JSON from buf at pos. Its methods leave pos after what they
// consumed; on error pos is where the problem is.
type scanner struct {
	buf []byte
	pos int
}

func (s *scanner) fail(format string, args ...any) error {
	return &scanError{off: s.pos, reason: fmt.Sprintf(format, args...)}
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// describe names the byte at the current position for an error.
func (s *scanner) describe() string {
	if s.pos >= len(s.buf) {
		return "unexpected end of input"
	}
	return fmt.Sprintf("unexpected %q", s.buf[s.pos])
}

// next reports whether c is the byte at the current position.
func (s *scanner) next(c byte) bool { return s.pos < len(s.buf) && s.buf[s.pos] == c }

// literal consumes lit when it is next.
func (s *scanner) literal(lit string) bool {
	if len(s.buf)-s.pos >= len(lit) && string(s.buf[s.pos:s.pos+len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return false
}

// end checks that only whitespace follows the value.
func (s *scanner) end(what string) error {
	s.ws()
	if s.pos != len(s.buf) {
		return s.fail("%s after %s, want end of input", s.describe(), what)
	}
	return nil
}

// colon consumes the ':' after a key and the whitespace around it.
func (s *scanner) colon() error {
	s.ws()
	if !s.next(':') {
		return s.fail("%s after a key, want :", s.describe())
	}
	s.pos++
	s.ws()
	return nil
}

// key parses an object key. It returns the raw bytes when the key holds no
// escape and no non-ASCII byte, else the key's value as encoding/json
// unquotes it (escapes resolved, invalid UTF-8 replaced by U+FFFD). The
// returned slice is valid until the next call.
func (s *scanner) key() ([]byte, error) {
	if !s.next('"') {
		return nil, s.fail("%s, want a key", s.describe())
	}
	start := s.pos + 1
	i := start
	for i < len(s.buf) {
		c := s.buf[i]
		if c == '"' {
			break
		}
		if c == '\\' || c >= utf8.RuneSelf || c < 0x20 {
			return s.slowKey()
		}
		i++
	}
	if i >= len(s.buf) {
		s.pos = len(s.buf)
		return nil, s.fail("unexpected end of input in a key")
	}
	s.pos = i + 1
	return s.buf[start:i], nil
}

// slowKey is key for a key holding escapes or non-ASCII bytes.
func (s *scanner) slowKey() ([]byte, error) {
	start := s.pos
	if err := s.skipString(); err != nil {
		return nil, err
	}
	var k string
	if err := json.Unmarshal(s.buf[start:s.pos], &k); err != nil {
		s.pos = start
		return nil, s.fail("bad key: %v", err)
	}
	return []byte(k), nil
}

// foldName is encoding/json's key folding: ASCII upper case, other runes
// to the smallest rune of their simple fold set.
func foldName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

// fieldSet is the keys of a decoded object: names[f] is field f's key (f
// 0 is "unknown").
type fieldSet[F ~uint8] struct {
	names  []string
	folded map[string]F // foldName(name) → field
}

func newFieldSet[F ~uint8](names []string) fieldSet[F] {
	fs := fieldSet[F]{names: names, folded: make(map[string]F, len(names))}
	for f, n := range names {
		if n != "" {
			fs.folded[string(foldName(nil, []byte(n)))] = F(f)
		}
	}
	return fs
}

// lookupFolded returns the field whose key folds like k (zero: none): the
// case-insensitive match encoding/json falls back to when no key matches
// exactly. An ASCII key folds like a name exactly when it equals it but for
// the case of its letters, which is checked without folding.
func (fs *fieldSet[F]) lookupFolded(k []byte) F {
	for _, c := range k {
		if c >= utf8.RuneSelf {
			var arr [32]byte
			return fs.folded[string(foldName(arr[:0], k))]
		}
	}
	for f, n := range fs.names {
		if len(n) == len(k) && n != "" && equalFoldASCII(n, k) {
			return F(f)
		}
	}
	return 0
}

// equalFoldASCII reports whether ASCII strings a and b are equal but for
// the case of their letters.
func equalFoldASCII(a string, b []byte) bool {
	for i := range len(a) {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// SWAR constants: one bit or one byte value in every byte of a word.
const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
)

// plainRun returns the length of the longest prefix of b without '"', '\\'
// or control characters: the bytes a string scan can pass over. It tests
// eight bytes at a time; the lowest flagged byte of each test is exact
// (borrows only propagate upwards from a true match).
func plainRun(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lsbs * '"')
		e := x ^ (lsbs * '\\')
		// Bytes below 0x20, and zero bytes of q and e. q and e have the
		// same top bits as x ('"' and '\\' are ASCII), so &^ x serves all
		// three tests.
		m := ((x - lsbs*0x20) | (q - lsbs) | (e - lsbs)) &^ x & msbs
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

// skipString checks and skips a JSON string.
func (s *scanner) skipString() error {
	if !s.next('"') {
		return s.fail("%s, want a string", s.describe())
	}
	s.pos++
	for {
		s.pos += plainRun(s.buf[s.pos:])
		if s.pos >= len(s.buf) {
			return s.fail("unexpected end of input in a string")
		}
		switch c := s.buf[s.pos]; c {
		case '"':
			s.pos++
			return nil
		case '\\':
			s.pos++
			if s.pos >= len(s.buf) {
				return s.fail("unexpected end of input in a string")
			}
			switch s.buf[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				s.pos++
				for range 4 {
					if s.pos >= len(s.buf) || unhex[s.buf[s.pos]] > 0xf {
						return s.fail("bad \\u escape in a string")
					}
					s.pos++
				}
			default:
				return s.fail("bad escape \\%c in a string", s.buf[s.pos])
			}
		default:
			return s.fail("control character %q in a string", c)
		}
	}
}

// skipNumber checks and skips a JSON number.
func (s *scanner) skipNumber() error {
	digits := func() int {
		n := 0
		for s.pos < len(s.buf) && s.buf[s.pos] >= '0' && s.buf[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.next('-') {
		s.pos++
	}
	switch {
	case s.next('0'):
		s.pos++
	case digits() == 0:
		return s.fail("%s in a number", s.describe())
	}
	if s.next('.') {
		s.pos++
		if digits() == 0 {
			return s.fail("%s in a number's fraction", s.describe())
		}
	}
	if s.next('e') || s.next('E') {
		s.pos++
		if s.next('+') || s.next('-') {
			s.pos++
		}
		if digits() == 0 {
			return s.fail("%s in a number's exponent", s.describe())
		}
	}
	return nil
}

// skipValue checks and skips any JSON value; depth is the nesting of the
// containers around it (encoding/json refuses more than maxNesting).
func (s *scanner) skipValue(depth int) error {
	if s.pos >= len(s.buf) {
		return s.fail("unexpected end of input, want a value")
	}
	switch c := s.buf[s.pos]; {
	case c == '"':
		return s.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.skipNumber()
	case c == '{' || c == '[':
		if depth+1 > maxNesting {
			return s.fail("nesting deeper than %d", maxNesting)
		}
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		s.pos++
		s.ws()
		if s.next(closer) {
			s.pos++
			return nil
		}
		for {
			if c == '{' {
				if err := s.skipString(); err != nil {
					return err
				}
				if err := s.colon(); err != nil {
					return err
				}
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.buf) {
				return s.fail("unexpected end of input, want , or %c", closer)
			}
			d := s.buf[s.pos]
			if d == closer {
				s.pos++
				return nil
			}
			if d != ',' {
				return s.fail("%s, want , or %c", s.describe(), closer)
			}
			s.pos++
			s.ws()
		}
	case s.literal("true"), s.literal("false"), s.literal("null"):
		return nil
	default:
		return s.fail("%s, want a value", s.describe())
	}
}

// rawValue checks and skips a value, returning its bytes (a sub-slice of
// the input, as json.RawMessage would hold them).
func (s *scanner) rawValue(depth int) ([]byte, error) {
	start := s.pos
	if err := s.skipValue(depth); err != nil {
		return nil, err
	}
	return s.buf[start:s.pos], nil
}

// unhex maps a byte to its hex value, or 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = byte(c-'A') + 10
	}
	return t
}()

// hexString returns the raw bytes of the string value at the current
// position, positioned after it. The bytes are not checked here: the
// callers decode them as hex, which refuses anything else. Hex values never
// hold escapes, so a backslash is an error too (encoding/json hands
// go-ethereum the raw, still escaped bytes, which it refuses as well).
func (s *scanner) hexString() ([]byte, error) {
	if !s.next('"') {
		return nil, s.fail("%s, want a hex string", s.describe())
	}
	start := s.pos + 1
	n := bytes.IndexByte(s.buf[start:], '"')
	if n < 0 {
		s.pos = len(s.buf)
		return nil, s.fail("unexpected end of input in a string")
	}
	s.pos = start + n + 1
	return s.buf[start : start+n], nil
}

func has0x(s []byte) bool { return len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') }

// decodeHex decodes hex digits s into out (len(out) == len(s)/2); at is the
// offset reported for a bad digit.
func (s *scanner) decodeHex(out, src []byte, at int) error {
	src = src[:2*len(out)]
	for i := range out {
		hi, lo := unhex[src[2*i]], unhex[src[2*i+1]]
		if hi > 0xf || lo > 0xf {
			s.pos = at
			return s.fail("invalid hex digit in %q", src)
		}
		out[i] = hi<<4 | lo
	}
	return nil
}

// fixedHex parses a 0x-prefixed hex string of exactly len(out) bytes
// (common.Hash, common.Address).
func (s *scanner) fixedHex(out []byte) error {
	at := s.pos
	h, err := s.hexString()
	if err != nil {
		return err
	}
	if !has0x(h) {
		s.pos = at
		return s.fail("hex string without 0x prefix")
	}
	h = h[2:]
	if len(h) != 2*len(out) {
		s.pos = at
		return s.fail("hex string has length %d, want %d", len(h), 2*len(out))
	}
	return s.decodeHex(out, h, at)
}

// quantity parses a hex number as hexutil.Uint64 does: 0x-prefixed, no
// leading zero, at most 64 bits; "" is 0.
func (s *scanner) quantity() (uint64, error) {
	at := s.pos
	h, err := s.hexString()
	if err != nil {
		return 0, err
	}
	if len(h) == 0 {
		return 0, nil
	}
	if !has0x(h) {
		s.pos = at
		return 0, s.fail("hex number without 0x prefix")
	}
	h = h[2:]
	switch {
	case len(h) == 0:
		s.pos = at
		return 0, s.fail("hex number without digits")
	case len(h) > 1 && h[0] == '0':
		s.pos = at
		return 0, s.fail("hex number with leading zero digits")
	case len(h) > 16:
		s.pos = at
		return 0, s.fail("hex number above 64 bits")
	}
	var n uint64
	for _, c := range h {
		d := unhex[c]
		if d > 0xf {
			s.pos = at
			return 0, s.fail("invalid hex digit in %q", h)
		}
		n = n<<4 | uint64(d)
	}
	return n, nil
}

// hexData returns the hex digits of a hexutil.Bytes string: 0x-prefixed,
// even length, "" is empty. The digits are decoded by the caller
// (decodeHex), which refuses non-hex bytes.
func (s *scanner) hexData() (digits []byte, at int, err error) {
	at = s.pos
	h, err := s.hexString()
	if err != nil {
		return nil, at, err
	}
	if len(h) > 0 {
		if !has0x(h) {
			s.pos = at
			return nil, at, s.fail("hex data without 0x prefix")
		}
		h = h[2:]
	}
	if len(h)%2 != 0 {
		s.pos = at
		return nil, at, s.fail("hex data of odd length %d", len(h))
	}
	return h, at, nil
}
