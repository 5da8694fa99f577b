package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// ParseLogs decodes the result of eth_getLogs — a JSON array of log objects,
// or null — into go-ethereum's types.Log, in one pass and without
// reflection. It is the hot path of a backfill: encoding/json with
// types.Log's generated UnmarshalJSON validates and scans every log twice and
// allocates per field, several times slower.
//
// It accepts exactly what encoding/json into []types.Log accepts and returns
// the same values (a differential test and FuzzParseLogs check this):
//
//   - address, topics, data and transactionHash are required; blockNumber,
//     blockHash, transactionIndex, logIndex, blockTimestamp and removed are
//     optional, and a null value counts as absent;
//   - numbers are 0x-prefixed hex strings without leading zeros ("" is 0),
//     data is 0x-prefixed hex of even length ("" is empty), addresses and
//     hashes are 0x-prefixed hex of exactly 20 and 32 bytes;
//   - keys match exactly first, then case-insensitively (Unicode simple
//     folding, as encoding/json does); a repeated key's last value wins;
//   - unknown keys are skipped whatever their value, after checking its
//     syntax: the whole input must be well-formed JSON, with nothing after
//     the array.
//
// A malformed input fails with a *LogsError giving the byte offset, the
// log's position in the array and the field. The Data and Topics slices of
// the returned logs share a few larger allocations; each is capped to its
// own length, so appending to one never overwrites another.
func ParseLogs(data []byte) ([]types.Log, error) {
	p := logsParser{buf: data}
	return p.parse()
}

// LogsError is a malformed eth_getLogs result. It wraps ErrBadResponse.
type LogsError struct {
	// Offset is the byte offset in the input where the problem was found.
	Offset int
	// Log is the index of the log in the array, -1 outside any log.
	Log int
	// Field is the JSON key being decoded, empty outside a field.
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e *LogsError) Error() string {
	where := fmt.Sprintf("at byte %d", e.Offset)
	if e.Log >= 0 {
		where = fmt.Sprintf("log %d, %s", e.Log, where)
	}
	if e.Field != "" {
		where = fmt.Sprintf("log %d field %q at byte %d", e.Log, e.Field, e.Offset)
	}
	return "eth_getLogs result: " + where + ": " + e.Reason
}

// Unwrap returns ErrBadResponse: a malformed answer is retried like any other.
func (e *LogsError) Unwrap() error { return ErrBadResponse }

// maxNesting is encoding/json's nesting limit: deeper input is refused.
const maxNesting = 10000

// Arena sizes: topics and data of many logs share one allocation.
const (
	topicArena = 256      // hashes
	dataArena  = 16 << 10 // bytes
)

// field identifies a key of a log object.
type field uint8

const (
	fUnknown field = iota
	fAddress
	fTopics
	fData
	fBlockNumber
	fTxHash
	fTxIndex
	fBlockHash
	fBlockTimestamp
	fIndex
	fRemoved
)

// fieldNames are the JSON keys of types.Log, by field.
var fieldNames = [...]string{
	fAddress:        "address",
	fTopics:         "topics",
	fData:           "data",
	fBlockNumber:    "blockNumber",
	fTxHash:         "transactionHash",
	fTxIndex:        "transactionIndex",
	fBlockHash:      "blockHash",
	fBlockTimestamp: "blockTimestamp",
	fIndex:          "logIndex",
	fRemoved:        "removed",
}

// foldedNames maps the folded form of each key to its field.
var foldedNames = func() map[string]field {
	m := make(map[string]field, len(fieldNames))
	for f, n := range fieldNames {
		if n != "" {
			m[string(foldName(nil, []byte(n)))] = field(f)
		}
	}
	return m
}()

type logsParser struct {
	buf []byte
	pos int
	log int    // index of the log being parsed, -1 outside
	cur []byte // key of the field being parsed, nil outside

	topics []common.Hash // arena; handed out in capped slices
	data   []byte        // arena
}

func (p *logsParser) fail(format string, args ...any) error {
	e := &LogsError{Offset: p.pos, Log: p.log, Reason: fmt.Sprintf(format, args...)}
	if p.cur != nil {
		e.Field = string(p.cur)
	}
	return e
}

func (p *logsParser) ws() {
	for p.pos < len(p.buf) {
		switch p.buf[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// describe names the byte at the current position for an error.
func (p *logsParser) describe() string {
	if p.pos >= len(p.buf) {
		return "unexpected end of input"
	}
	return fmt.Sprintf("unexpected %q", p.buf[p.pos])
}

func (p *logsParser) parse() ([]types.Log, error) {
	p.log = -1
	p.ws()
	if p.literal("null") {
		return nil, p.end()
	}
	if p.pos >= len(p.buf) || p.buf[p.pos] != '[' {
		return nil, p.fail("%s, want an array of logs or null", p.describe())
	}
	p.pos++
	// A typical Aave log is ~900 bytes of JSON: size the slice once.
	out := make([]types.Log, 0, len(p.buf)/700+1)
	p.ws()
	if p.pos < len(p.buf) && p.buf[p.pos] == ']' {
		p.pos++
		return out, p.end()
	}
	for {
		p.log = len(out)
		out = append(out, types.Log{})
		if err := p.object(&out[len(out)-1]); err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(p.buf) {
			return nil, p.fail("unexpected end of input, want , or ]")
		}
		c := p.buf[p.pos]
		p.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			p.pos--
			return nil, p.fail("%s after a log, want , or ]", p.describe())
		}
		p.ws()
	}
	p.log = -1
	return out, p.end()
}

// end checks that only whitespace follows the value.
func (p *logsParser) end() error {
	p.ws()
	if p.pos != len(p.buf) {
		return p.fail("%s after the result, want end of input", p.describe())
	}
	return nil
}

// literal consumes s when it is next.
func (p *logsParser) literal(s string) bool {
	if len(p.buf)-p.pos >= len(s) && string(p.buf[p.pos:p.pos+len(s)]) == s {
		p.pos += len(s)
		return true
	}
	return false
}

// object parses one log object into l.
func (p *logsParser) object(l *types.Log) error {
	if p.pos >= len(p.buf) || p.buf[p.pos] != '{' {
		return p.fail("%s, want a log object", p.describe())
	}
	p.pos++
	var have [fRemoved + 1]bool
	p.ws()
	if p.pos < len(p.buf) && p.buf[p.pos] == '}' {
		p.pos++
	} else {
		for {
			f, err := p.key()
			if err != nil {
				return err
			}
			p.ws()
			if p.pos >= len(p.buf) || p.buf[p.pos] != ':' {
				return p.fail("%s after a key, want :", p.describe())
			}
			p.pos++
			p.ws()
			present, err := p.value(f, l)
			if err != nil {
				return err
			}
			have[f] = present
			p.cur = nil
			p.ws()
			if p.pos >= len(p.buf) {
				return p.fail("unexpected end of input in a log object")
			}
			c := p.buf[p.pos]
			p.pos++
			if c == '}' {
				break
			}
			if c != ',' {
				p.pos--
				return p.fail("%s in a log object, want , or }", p.describe())
			}
			p.ws()
		}
	}
	for _, f := range [...]field{fAddress, fTopics, fData, fTxHash} {
		if !have[f] {
			p.pos--
			return p.fail("missing required field %q", fieldNames[f])
		}
	}
	return nil
}

// key parses an object key and returns the field it names.
func (p *logsParser) key() (field, error) {
	if p.pos >= len(p.buf) || p.buf[p.pos] != '"' {
		return 0, p.fail("%s, want a key", p.describe())
	}
	start := p.pos + 1
	i := start
	for i < len(p.buf) {
		c := p.buf[i]
		if c == '"' {
			break
		}
		if c == '\\' || c >= utf8.RuneSelf || c < 0x20 {
			return p.slowKey()
		}
		i++
	}
	if i >= len(p.buf) {
		p.pos = len(p.buf)
		return 0, p.fail("unexpected end of input in a key")
	}
	k := p.buf[start:i]
	p.pos = i + 1
	return p.lookup(k), nil
}

// slowKey parses a key holding escapes or non-ASCII bytes the way
// encoding/json does: unescaped, invalid UTF-8 replaced by U+FFFD.
func (p *logsParser) slowKey() (field, error) {
	start := p.pos
	if err := p.skipString(); err != nil {
		return 0, err
	}
	var s string
	if err := json.Unmarshal(p.buf[start:p.pos], &s); err != nil {
		p.pos = start
		return 0, p.fail("bad key: %v", err)
	}
	return p.lookup([]byte(s)), nil
}

func (p *logsParser) lookup(k []byte) field {
	p.cur = k
	switch string(k) {
	case "address":
		return fAddress
	case "topics":
		return fTopics
	case "data":
		return fData
	case "blockNumber":
		return fBlockNumber
	case "transactionHash":
		return fTxHash
	case "transactionIndex":
		return fTxIndex
	case "blockHash":
		return fBlockHash
	case "blockTimestamp":
		return fBlockTimestamp
	case "logIndex":
		return fIndex
	case "removed":
		return fRemoved
	}
	var arr [32]byte
	return foldedNames[string(foldName(arr[:0], k))]
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

// value parses the value of field f into l. present is false for null
// (which leaves an optional field at zero, as encoding/json's pointer
// fields do).
func (p *logsParser) value(f field, l *types.Log) (present bool, err error) {
	if f == fUnknown {
		return false, p.skipValue(2)
	}
	if p.literal("null") {
		switch f {
		case fAddress:
			l.Address = common.Address{}
		case fTopics:
			l.Topics = nil
		case fData:
			l.Data = nil
		case fBlockNumber:
			l.BlockNumber = 0
		case fTxHash:
			l.TxHash = common.Hash{}
		case fTxIndex:
			l.TxIndex = 0
		case fBlockHash:
			l.BlockHash = common.Hash{}
		case fBlockTimestamp:
			l.BlockTimestamp = 0
		case fIndex:
			l.Index = 0
		case fRemoved:
			l.Removed = false
		}
		return false, nil
	}
	switch f {
	case fAddress:
		return true, p.fixedHex(l.Address[:])
	case fTxHash:
		return true, p.fixedHex(l.TxHash[:])
	case fBlockHash:
		return true, p.fixedHex(l.BlockHash[:])
	case fBlockNumber:
		n, err := p.quantity()
		l.BlockNumber = n
		return true, err
	case fBlockTimestamp:
		n, err := p.quantity()
		l.BlockTimestamp = n
		return true, err
	case fTxIndex:
		n, err := p.quantity()
		l.TxIndex = uint(n)
		return true, err
	case fIndex:
		n, err := p.quantity()
		l.Index = uint(n)
		return true, err
	case fData:
		b, err := p.bytes()
		l.Data = b
		return true, err
	case fTopics:
		t, err := p.topicList()
		l.Topics = t
		return true, err
	case fRemoved:
		switch {
		case p.literal("true"):
			l.Removed = true
		case p.literal("false"):
			l.Removed = false
		default:
			return false, p.fail("%s, want true, false or null", p.describe())
		}
		return true, nil
	}
	return false, p.fail("internal error: field %d", f)
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
func (p *logsParser) hexString() ([]byte, error) {
	if p.pos >= len(p.buf) || p.buf[p.pos] != '"' {
		return nil, p.fail("%s, want a hex string", p.describe())
	}
	start := p.pos + 1
	n := bytes.IndexByte(p.buf[start:], '"')
	if n < 0 {
		p.pos = len(p.buf)
		return nil, p.fail("unexpected end of input in a string")
	}
	p.pos = start + n + 1
	return p.buf[start : start+n], nil
}

func has0x(s []byte) bool { return len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') }

// decodeHex decodes hex digits s into out (len(out) == len(s)/2).
func (p *logsParser) decodeHex(out, s []byte, at int) error {
	s = s[:2*len(out)]
	for i := range out {
		hi, lo := unhex[s[2*i]], unhex[s[2*i+1]]
		if hi > 0xf || lo > 0xf {
			p.pos = at
			return p.fail("invalid hex digit in %q", s)
		}
		out[i] = hi<<4 | lo
	}
	return nil
}

// fixedHex parses a 0x-prefixed hex string of exactly len(out) bytes.
func (p *logsParser) fixedHex(out []byte) error {
	at := p.pos
	s, err := p.hexString()
	if err != nil {
		return err
	}
	if !has0x(s) {
		p.pos = at
		return p.fail("hex string without 0x prefix")
	}
	s = s[2:]
	if len(s) != 2*len(out) {
		p.pos = at
		return p.fail("hex string has length %d, want %d", len(s), 2*len(out))
	}
	return p.decodeHex(out, s, at)
}

// quantity parses a hex number: 0x-prefixed, no leading zero, at most 64
// bits; "" is 0 (go-ethereum's hexutil accepts it).
func (p *logsParser) quantity() (uint64, error) {
	at := p.pos
	s, err := p.hexString()
	if err != nil {
		return 0, err
	}
	if len(s) == 0 {
		return 0, nil
	}
	if !has0x(s) {
		p.pos = at
		return 0, p.fail("hex number without 0x prefix")
	}
	s = s[2:]
	switch {
	case len(s) == 0:
		p.pos = at
		return 0, p.fail("hex number without digits")
	case len(s) > 1 && s[0] == '0':
		p.pos = at
		return 0, p.fail("hex number with leading zero digits")
	case len(s) > 16:
		p.pos = at
		return 0, p.fail("hex number above 64 bits")
	}
	var n uint64
	for _, c := range s {
		d := unhex[c]
		if d > 0xf {
			p.pos = at
			return 0, p.fail("invalid hex digit in %q", s)
		}
		n = n<<4 | uint64(d)
	}
	return n, nil
}

// bytes parses 0x-prefixed hex of even length ("" is empty) into the data
// arena.
func (p *logsParser) bytes() ([]byte, error) {
	at := p.pos
	s, err := p.hexString()
	if err != nil {
		return nil, err
	}
	if len(s) > 0 {
		if !has0x(s) {
			p.pos = at
			return nil, p.fail("hex data without 0x prefix")
		}
		s = s[2:]
	}
	if len(s)%2 != 0 {
		p.pos = at
		return nil, p.fail("hex data of odd length %d", len(s))
	}
	n := len(s) / 2
	var out []byte
	if n == 0 {
		return []byte{}, nil // encoding/json gives empty, not nil
	}
	if n > dataArena/4 {
		out = make([]byte, n)
	} else {
		if len(p.data)+n > cap(p.data) {
			p.data = make([]byte, 0, dataArena)
		}
		l := len(p.data)
		p.data = p.data[:l+n]
		out = p.data[l : l+n : l+n]
	}
	return out, p.decodeHex(out, s, at)
}

// topicList parses an array of 32-byte hashes into the topic arena.
func (p *logsParser) topicList() ([]common.Hash, error) {
	if p.pos >= len(p.buf) || p.buf[p.pos] != '[' {
		return nil, p.fail("%s, want an array of topics", p.describe())
	}
	p.pos++
	// Decode into the arena's free tail; a list that does not fit moves
	// to a fresh arena.
	start := len(p.topics)
	p.ws()
	if p.pos < len(p.buf) && p.buf[p.pos] == ']' {
		p.pos++
		return []common.Hash{}, nil
	}
	for {
		if len(p.topics) == cap(p.topics) {
			n := len(p.topics) - start
			fresh := make([]common.Hash, n, max(topicArena, 2*n))
			copy(fresh, p.topics[start:])
			p.topics, start = fresh, 0
		}
		p.topics = p.topics[:len(p.topics)+1]
		if err := p.fixedHex(p.topics[len(p.topics)-1][:]); err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(p.buf) {
			return nil, p.fail("unexpected end of input in topics")
		}
		c := p.buf[p.pos]
		p.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			p.pos--
			return nil, p.fail("%s in topics, want , or ]", p.describe())
		}
		p.ws()
	}
	end := len(p.topics)
	return p.topics[start:end:end], nil
}

// skipString checks and skips a JSON string.
func (p *logsParser) skipString() error {
	if p.pos >= len(p.buf) || p.buf[p.pos] != '"' {
		return p.fail("%s, want a string", p.describe())
	}
	p.pos++
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		switch {
		case c == '"':
			p.pos++
			return nil
		case c < 0x20:
			return p.fail("control character %q in a string", c)
		case c == '\\':
			p.pos++
			if p.pos >= len(p.buf) {
				return p.fail("unexpected end of input in a string")
			}
			switch p.buf[p.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.pos++
			case 'u':
				p.pos++
				for range 4 {
					if p.pos >= len(p.buf) || unhex[p.buf[p.pos]] > 0xf {
						return p.fail("bad \\u escape in a string")
					}
					p.pos++
				}
			default:
				return p.fail("bad escape \\%c in a string", p.buf[p.pos])
			}
		default:
			p.pos++
		}
	}
	return p.fail("unexpected end of input in a string")
}

// skipNumber checks and skips a JSON number.
func (p *logsParser) skipNumber() error {
	digits := func() int {
		n := 0
		for p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.pos < len(p.buf) && p.buf[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.buf) && p.buf[p.pos] == '0':
		p.pos++
	case digits() == 0:
		return p.fail("%s in a number", p.describe())
	}
	if p.pos < len(p.buf) && p.buf[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return p.fail("%s in a number's fraction", p.describe())
		}
	}
	if p.pos < len(p.buf) && (p.buf[p.pos] == 'e' || p.buf[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.buf) && (p.buf[p.pos] == '+' || p.buf[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return p.fail("%s in a number's exponent", p.describe())
		}
	}
	return nil
}

// skipValue checks and skips any JSON value; depth is the nesting of the
// containers around it (encoding/json refuses more than maxNesting).
func (p *logsParser) skipValue(depth int) error {
	if p.pos >= len(p.buf) {
		return p.fail("unexpected end of input, want a value")
	}
	switch c := p.buf[p.pos]; {
	case c == '"':
		return p.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.skipNumber()
	case c == '{' || c == '[':
		if depth+1 > maxNesting {
			return p.fail("nesting deeper than %d", maxNesting)
		}
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		p.pos++
		p.ws()
		if p.pos < len(p.buf) && p.buf[p.pos] == closer {
			p.pos++
			return nil
		}
		for {
			if c == '{' {
				if err := p.skipString(); err != nil {
					return err
				}
				p.ws()
				if p.pos >= len(p.buf) || p.buf[p.pos] != ':' {
					return p.fail("%s after a key, want :", p.describe())
				}
				p.pos++
				p.ws()
			}
			if err := p.skipValue(depth + 1); err != nil {
				return err
			}
			p.ws()
			if p.pos >= len(p.buf) {
				return p.fail("unexpected end of input, want , or %c", closer)
			}
			d := p.buf[p.pos]
			if d == closer {
				p.pos++
				return nil
			}
			if d != ',' {
				return p.fail("%s, want , or %c", p.describe(), closer)
			}
			p.pos++
			p.ws()
		}
	case p.literal("true"), p.literal("false"), p.literal("null"):
		return nil
	default:
		return p.fail("%s, want a value", p.describe())
	}
}
