package rpc

import (
	"github.com/ethereum/go-ethereum/common"
)

// rpcHeader is what ingest reads of an eth_getBlockByNumber result, with
// which of the fields that may be null or absent were there.
type rpcHeader struct {
	Number, Time     uint64
	Hash, ParentHash common.Hash

	HasNumber, HasHash, HasTime bool
}

// header checks r and returns its Header.
func (r *rpcHeader) header() (Header, error) {
	if !r.HasNumber || !r.HasHash || !r.HasTime {
		return Header{}, badResponse("header lacks number, hash or timestamp")
	}
	if r.Hash == (common.Hash{}) {
		return Header{}, badResponse("header %d has a zero hash", r.Number)
	}
	return Header{Number: r.Number, Hash: r.Hash, ParentHash: r.ParentHash, Time: r.Time}, nil
}

// headerField identifies a key of a block object.
type headerField uint8

const (
	hfUnknown headerField = iota
	hfNumber
	hfHash
	hfParentHash
	hfTimestamp
)

var headerFieldNames = [...]string{hfNumber: "number", hfHash: "hash", hfParentHash: "parentHash", hfTimestamp: "timestamp"}

var headerFields = newFieldSet[headerField](headerFieldNames[:])

// parseHeader decodes an eth_getBlockByNumber result — a block object or
// null — in one pass, skipping every field but number, hash, parentHash
// and timestamp (transactions, withdrawals, logsBloom, …). null reports
// whether the result was null. It accepts exactly what encoding/json into
// *struct{Number *hexutil.Uint64; Hash *common.Hash; ParentHash
// common.Hash; Time *hexutil.Uint64} accepts, with the same values
// (differential and fuzz tests): number and timestamp are hex quantities or
// null (absent), hash a 32-byte hex string or null (absent), parentHash a
// 32-byte hex string (not null); keys match as in encoding/json
// (jsonscan.go). Its errors are *scanError; the caller judges the fields
// with rpcHeader.header.
func parseHeader(data []byte) (h rpcHeader, null bool, err error) {
	s := scanner{buf: data}
	s.ws()
	if s.literal("null") {
		return rpcHeader{}, true, s.end("the block")
	}
	if !s.next('{') {
		return rpcHeader{}, false, s.fail("%s, want a block object or null", s.describe())
	}
	s.pos++
	s.ws()
	if s.next('}') {
		s.pos++
		return h, false, s.end("the block")
	}
	for {
		k, err := s.key()
		if err != nil {
			return rpcHeader{}, false, err
		}
		f := lookupHeaderField(k)
		if err := s.colon(); err != nil {
			return rpcHeader{}, false, err
		}
		switch {
		case f == hfUnknown:
			err = s.skipValue(1)
		case f == hfParentHash:
			// common.Hash is not a pointer: null reaches its
			// UnmarshalJSON, which refuses it.
			err = s.fixedHex(h.ParentHash[:])
		case s.literal("null"):
			switch f {
			case hfNumber:
				h.HasNumber, h.Number = false, 0
			case hfHash:
				h.HasHash, h.Hash = false, common.Hash{}
			case hfTimestamp:
				h.HasTime, h.Time = false, 0
			}
		case f == hfHash:
			err = s.fixedHex(h.Hash[:])
			h.HasHash = true
		case f == hfNumber:
			h.Number, err = s.quantity()
			h.HasNumber = true
		case f == hfTimestamp:
			h.Time, err = s.quantity()
			h.HasTime = true
		}
		if err != nil {
			return rpcHeader{}, false, err
		}
		s.ws()
		if s.next('}') {
			s.pos++
			return h, false, s.end("the block")
		}
		if !s.next(',') {
			return rpcHeader{}, false, s.fail("%s in a block object, want , or }", s.describe())
		}
		s.pos++
		s.ws()
	}
}

func lookupHeaderField(k []byte) headerField {
	switch string(k) {
	case "number":
		return hfNumber
	case "hash":
		return hfHash
	case "parentHash":
		return hfParentHash
	case "timestamp":
		return hfTimestamp
	}
	return headerFields.lookupFolded(k)
}
