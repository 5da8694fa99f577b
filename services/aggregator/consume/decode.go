package consume

import (
	"unicode/utf8"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// decodeLiquidation fills ev from the protobuf encoding b exactly as
// proto.Unmarshal(b, ev) does, result and error alike.
//
// It is the consumer's hot path: proto.Unmarshal allocates every string
// field and every nested message of an event on its own (about twenty
// allocations), and decoding was a third of the consumer's CPU time under
// backlog. decodeFast reads the encoding liqstream's producers write (known
// fields with their declared wire types, each nested message once) in one
// pass, with one copy of b that every string field is a substring of and one
// allocation for all the nested messages. Whatever else it meets (an unknown
// field, a nested message repeated, invalid UTF-8, truncated or malformed
// bytes) it leaves to proto.Unmarshal, which stays the reference:
// TestDecodeLiquidation and FuzzDecodeLiquidation compare the two.
func decodeLiquidation(b []byte, ev *liqstreamv1.LiquidationEvent) error {
	if decodeFast(b, ev) {
		return nil
	}
	return proto.Unmarshal(b, ev) // resets ev first
}

// nested holds the nested messages of one event, allocated together.
type nested struct {
	collateralAsset, debtAsset liqstreamv1.Asset
	collateralPrice, debtPrice liqstreamv1.Price
	blockTime, observedAt      timestamppb.Timestamp
}

// wireReader walks one message of b, a record's value; s is b's one copy,
// that string fields are cut from, and off and end bound the message in both.
type wireReader struct {
	b        []byte
	s        string
	off, end int
}

func (r *wireReader) more() bool { return r.off < r.end }

// tag reads a field's number and wire type; ok is false on malformed bytes.
func (r *wireReader) tag() (protowire.Number, protowire.Type, bool) {
	num, typ, n := protowire.ConsumeTag(r.bytes())
	if n < 0 {
		return 0, 0, false
	}
	r.off += n
	return num, typ, true
}

func (r *wireReader) varint() (uint64, bool) {
	v, n := protowire.ConsumeVarint(r.bytes())
	if n < 0 {
		return 0, false
	}
	r.off += n
	return v, true
}

// span reads a length-delimited field and returns its bounds in s.
func (r *wireReader) span() (start, end int, ok bool) {
	n, ok := r.varint()
	if !ok || n > uint64(r.end-r.off) {
		return 0, 0, false
	}
	start, end = r.off, r.off+int(n)
	r.off = end
	return start, end, true
}

// str reads a string field: a substring of s, shared, not copied.
func (r *wireReader) str() (string, bool) {
	start, end, ok := r.span()
	if !ok || !utf8.Valid(r.b[start:end]) {
		return "", false
	}
	return r.s[start:end], true
}

// sub returns a reader over a nested message field.
func (r *wireReader) sub() (wireReader, bool) {
	start, end, ok := r.span()
	return wireReader{b: r.b, s: r.s, off: start, end: end}, ok
}

// bytes is the rest of the message, for protowire.
func (r *wireReader) bytes() []byte { return r.b[r.off:r.end] }

// decodeFast decodes b into ev and reports whether it could; on false, ev
// holds partial data and the caller falls back to proto.Unmarshal.
func decodeFast(b []byte, ev *liqstreamv1.LiquidationEvent) bool {
	proto.Reset(ev)
	r := wireReader{b: b, s: string(b), end: len(b)} // s: the one copy every string field shares
	var n *nested
	msg := func() *nested {
		if n == nil {
			n = new(nested)
		}
		return n
	}
	var seen uint64 // nested message fields met, by field number
	for r.more() {
		num, typ, ok := r.tag()
		if !ok {
			return false
		}
		switch typ {
		case protowire.VarintType:
			v, ok := r.varint()
			if !ok {
				return false
			}
			switch num {
			case 1:
				ev.ChainId = v
			case 6:
				ev.BlockNumber = v
			case 10:
				ev.TxIndex = uint32(v)
			case 11:
				ev.LogIndex = uint32(v)
			case 18:
				ev.ReceiveAToken = v != 0
			case 27:
				ev.Revision = v
			case 28:
				ev.Status = liqstreamv1.Status(int32(v))
			default:
				return false
			}
		case protowire.BytesType:
			if num == 8 || num == 12 || num == 13 || num == 19 || num == 20 || num == 32 {
				if seen&(1<<num) != 0 {
					return false // proto merges a repeated nested message
				}
				seen |= 1 << num
				sub, ok := r.sub()
				if !ok {
					return false
				}
				switch num {
				case 8:
					ev.BlockTime = &msg().blockTime
					ok = decodeTimestamp(&sub, ev.BlockTime)
				case 32:
					ev.ObservedAt = &msg().observedAt
					ok = decodeTimestamp(&sub, ev.ObservedAt)
				case 12:
					ev.CollateralAsset = &msg().collateralAsset
					ok = decodeAsset(&sub, ev.CollateralAsset)
				case 13:
					ev.DebtAsset = &msg().debtAsset
					ok = decodeAsset(&sub, ev.DebtAsset)
				case 19:
					ev.CollateralPrice = &msg().collateralPrice
					ok = decodePrice(&sub, ev.CollateralPrice)
				case 20:
					ev.DebtPrice = &msg().debtPrice
					ok = decodePrice(&sub, ev.DebtPrice)
				}
				if !ok {
					return false
				}
				continue
			}
			v, ok := r.str()
			if !ok {
				return false
			}
			switch num {
			case 2:
				ev.Chain = v
			case 3:
				ev.Protocol = v
			case 4:
				ev.Market = v
			case 5:
				ev.Pool = v
			case 7:
				ev.BlockHash = v
			case 9:
				ev.TxHash = v
			case 14:
				ev.Borrower = v
			case 15:
				ev.Liquidator = v
			case 16:
				ev.DebtToCover = v
			case 17:
				ev.LiquidatedCollateralAmount = v
			case 21:
				ev.DebtUsd = v
			case 22:
				ev.CollateralUsd = v
			case 23:
				ev.BonusUsd = v
			case 24:
				ev.ProtocolFeeAmount = v
			case 25:
				ev.ProtocolFeeUsd = v
			case 26:
				ev.EventId = v
			case 29:
				ev.MethodVersion = v
			case 30:
				if ev.LogTopics == nil {
					ev.LogTopics = make([]string, 0, 4)
				}
				ev.LogTopics = append(ev.LogTopics, v)
			case 31:
				ev.LogData = v
			default:
				return false
			}
		default:
			return false
		}
	}
	return true
}

// fields calls field with the number and wire type of every field of the
// message r reads, field reading the value; it reports false as soon as a
// tag is malformed or field returns false.
func (r *wireReader) fields(field func(num protowire.Number, typ protowire.Type) bool) bool {
	for r.more() {
		num, typ, ok := r.tag()
		if !ok || !field(num, typ) {
			return false
		}
	}
	return true
}

func decodeAsset(r *wireReader, a *liqstreamv1.Asset) bool {
	return r.fields(func(num protowire.Number, typ protowire.Type) (ok bool) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			a.Address, ok = r.str()
		case num == 2 && typ == protowire.BytesType:
			a.Symbol, ok = r.str()
		case num == 3 && typ == protowire.VarintType:
			var v uint64
			v, ok = r.varint()
			a.Decimals = uint32(v)
		}
		return ok
	})
}

func decodePrice(r *wireReader, p *liqstreamv1.Price) bool {
	return r.fields(func(num protowire.Number, typ protowire.Type) (ok bool) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			p.Usd, ok = r.str()
		case num == 2 && typ == protowire.VarintType:
			var v uint64
			v, ok = r.varint()
			p.Source = liqstreamv1.PriceSource(int32(v))
		case num == 3 && typ == protowire.VarintType:
			p.BlockNumber, ok = r.varint()
		}
		return ok
	})
}

func decodeTimestamp(r *wireReader, t *timestamppb.Timestamp) bool {
	return r.fields(func(num protowire.Number, typ protowire.Type) (ok bool) {
		if typ != protowire.VarintType {
			return false
		}
		var v uint64
		switch num {
		case 1:
			v, ok = r.varint()
			t.Seconds = int64(v)
		case 2:
			v, ok = r.varint()
			t.Nanos = int32(v)
		}
		return ok
	})
}
