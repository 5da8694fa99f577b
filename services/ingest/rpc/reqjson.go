package rpc

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/liqstream/liqstream/services/lib/hexenc"
)

// callArgs is eth_call's transaction object. Its fields are in key order so
// that encoding/json (the websocket transport) writes the same bytes as
// appendParam.
type callArgs struct {
	Data hexutil.Bytes  `json:"data"`
	To   common.Address `json:"to"`
}

// logFilter is eth_getLogs' filter object, fields in key order as above.
type logFilter struct {
	Address   []common.Address `json:"address"`
	FromBlock hexutil.Uint64   `json:"fromBlock"`
	ToBlock   hexutil.Uint64   `json:"toBlock"`
	Topics    [][]common.Hash  `json:"topics"`
}

// appendRequests appends the JSON-RPC body of reqs with ids 1..len(reqs):
// one request object when batch is false (only reqs[0]), else an array. The
// bytes are those json.Marshal writes for the wire struct {jsonrpc "2.0",
// id, method, params (nil as [])}: the param types the client sends are
// written directly, any other through json.Marshal.
func appendRequests(dst []byte, reqs []request, batch bool) ([]byte, error) {
	if !batch {
		return appendRequest(dst, 1, reqs[0])
	}
	dst = append(dst, '[')
	for i, r := range reqs {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendRequest(dst, i+1, r); err != nil {
			return nil, err
		}
	}
	return append(dst, ']'), nil
}

// requestsSize estimates the length of the body of reqs, to size its buffer
// once for the batches the client sends.
func requestsSize(reqs []request) int {
	n := 2
	for _, r := range reqs {
		n += 48 + len(r.Method) // {"jsonrpc":"2.0","id":…,"method":"…","params":[]},
		for _, p := range r.Params {
			switch p := p.(type) {
			case callArgs:
				n += 2*len(p.Data) + 64
			case logFilter:
				n += 100 + 45*len(p.Address)
				for _, t := range p.Topics {
					n += 4 + 68*len(t)
				}
			default:
				n += 24
			}
		}
	}
	return n
}

func appendRequest(dst []byte, id int, r request) ([]byte, error) {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = strconv.AppendInt(dst, int64(id), 10)
	dst = append(dst, `,"method":`...)
	dst = appendJSONString(dst, r.Method)
	dst = append(dst, `,"params":[`...)
	for i, p := range r.Params {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendParam(dst, p); err != nil {
			return nil, fmt.Errorf("%s param %d: %w", r.Method, i, err)
		}
	}
	return append(dst, "]}"...), nil
}

// appendParam appends v as json.Marshal writes it.
func appendParam(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case string:
		return appendJSONString(dst, v), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case hexutil.Uint64:
		return appendQuantity(dst, uint64(v)), nil
	case hexutil.Bytes:
		return appendHex(dst, v), nil
	case common.Address:
		return appendHex(dst, v[:]), nil
	case common.Hash:
		return appendHex(dst, v[:]), nil
	case []common.Address:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendHex(dst, v[i][:])
		}
		return append(dst, ']'), nil
	case []common.Hash:
		return appendHashes(dst, v), nil
	case [][]common.Hash:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, hs := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendHashes(dst, hs)
		}
		return append(dst, ']'), nil
	case callArgs:
		dst = append(dst, `{"data":`...)
		dst = appendHex(dst, v.Data)
		dst = append(dst, `,"to":`...)
		dst = appendHex(dst, v.To[:])
		return append(dst, '}'), nil
	case logFilter:
		dst = append(dst, `{"address":`...)
		dst, _ = appendParam(dst, v.Address)
		dst = append(dst, `,"fromBlock":`...)
		dst = appendQuantity(dst, uint64(v.FromBlock))
		dst = append(dst, `,"toBlock":`...)
		dst = appendQuantity(dst, uint64(v.ToBlock))
		dst = append(dst, `,"topics":`...)
		dst, _ = appendParam(dst, v.Topics)
		return append(dst, '}'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

func appendHashes(dst []byte, hs []common.Hash) []byte {
	if hs == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range hs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHex(dst, hs[i][:])
	}
	return append(dst, ']')
}

// appendQuantity appends n as hexutil.Uint64 marshals it: "0x…", lower case,
// no leading zeros.
func appendQuantity(dst []byte, n uint64) []byte {
	dst = append(dst, `"0x`...)
	dst = strconv.AppendUint(dst, n, 16)
	return append(dst, '"')
}

// appendHex appends b as hexutil.Bytes marshals it: "0x…", lower case.
func appendHex(dst, b []byte) []byte {
	dst = append(dst, `"0x`...)
	dst = hexenc.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendJSONString appends s as a JSON string the way encoding/json does.
// Strings of printable ASCII that encoding/json writes as they are (method
// names, block tags) are copied; others go through json.Marshal, whose
// escaping (HTML characters, U+2028, invalid UTF-8) is not worth repeating.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
