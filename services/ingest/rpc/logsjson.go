package rpc

import (
	"errors"
	"fmt"

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
	p := logsParser{scanner: scanner{buf: data}}
	logs, err := p.parse()
	if err != nil {
		return nil, p.logsError(err)
	}
	return logs, nil
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

type logsParser struct {
	scanner
	log int    // index of the log being parsed, -1 outside
	cur []byte // key of the field being parsed, nil outside

	topics []common.Hash // arena; handed out in capped slices
	data   []byte        // arena
}

// foldedNames is the keys of a log object, for lookupFolded.
var foldedNames = newFieldSet[field](fieldNames[:])

// logsError turns a scanner's error into a *LogsError saying where it was:
// the log and field being parsed when it was found.
func (p *logsParser) logsError(err error) error {
	var se *scanError
	if !errors.As(err, &se) {
		return err
	}
	e := &LogsError{Offset: se.off, Log: p.log, Reason: se.reason}
	if p.cur != nil {
		e.Field = string(p.cur)
	}
	return e
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
func (p *logsParser) end() error { return p.scanner.end("the result") }

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
	k, err := p.scanner.key()
	if err != nil {
		return 0, err
	}
	return p.lookup(k), nil
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
	return foldedNames.lookupFolded(k)
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

// bytes parses 0x-prefixed hex of even length ("" is empty) into the data
// arena.
func (p *logsParser) bytes() ([]byte, error) {
	s, at, err := p.hexData()
	if err != nil {
		return nil, err
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
