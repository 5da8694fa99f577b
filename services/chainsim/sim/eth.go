package sim

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// call dispatches one method with its split params, appending its result
// (JSON) to dst. On error the caller drops whatever was appended.
func (c *chainState) call(dst []byte, method string, ps []json.RawMessage) ([]byte, *rpcError) {
	// Reorg replaces logs and hashes under the write lock.
	c.mu.RLock()
	defer c.mu.RUnlock()
	switch method {
	case "eth_chainId":
		c.srv.calls[mChainID].Add(1)
		return appendQuoted(dst, c.id), nil
	case "net_version":
		c.srv.calls[mNetVersion].Add(1)
		dst = append(dst, '"')
		return append(strconv.AppendUint(dst, c.id, 10), '"'), nil
	case "eth_blockNumber":
		c.srv.calls[mBlockNumber].Add(1)
		return appendQuoted(dst, c.head.Load()), nil
	case "web3_clientVersion":
		c.srv.calls[mClientVersion].Add(1)
		return append(dst, `"chainsim/v1"`...), nil
	case "eth_syncing":
		c.srv.calls[mSyncing].Add(1)
		return append(dst, "false"...), nil
	case "eth_getBlockByNumber":
		c.srv.calls[mBlockByNumber].Add(1)
		return c.getBlockByNumber(dst, ps)
	case "eth_getBlockByHash":
		c.srv.calls[mBlockByHash].Add(1)
		return c.getBlockByHash(dst, ps)
	case "eth_getLogs":
		c.srv.calls[mGetLogs].Add(1)
		return c.getLogs(dst, ps)
	case "eth_call":
		c.srv.calls[mCall].Add(1)
		return c.ethCall(dst, ps)
	}
	c.srv.calls[mOther].Add(1)
	return dst, &rpcError{Code: codeMethodNotFound, Message: fmt.Sprintf("the method %s does not exist/is not available", method)}
}

// appendQuoted appends v as a JSON hex quantity, "0x…".
func appendQuoted(dst []byte, v uint64) []byte {
	dst = append(dst, '"')
	return append(appendQuantity(dst, v), '"')
}

// blockNumber resolves a block parameter: a hex quantity, a tag, or (when
// objectOK) an EIP-1898 object {"blockNumber"} / {"blockHash"}.
func (c *chainState) blockNumber(raw json.RawMessage, objectOK bool) (uint64, *rpcError) {
	if len(raw) == 0 || string(raw) == "null" {
		return c.head.Load(), nil
	}
	if objectOK && raw[0] == '{' {
		var obj struct {
			BlockNumber json.RawMessage `json:"blockNumber"`
			BlockHash   *common.Hash    `json:"blockHash"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return 0, errParams("invalid block parameter: %v", err)
		}
		if obj.BlockHash != nil {
			n, ok := c.numberOf(*obj.BlockHash)
			if !ok || n > c.head.Load() {
				return 0, &rpcError{Code: codeServer, Message: "header for hash not found"}
			}
			return n, nil
		}
		return c.blockNumber(obj.BlockNumber, false)
	}
	p, ok := plainString(raw)
	if !ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, errParams("invalid block parameter %s: want a hex quantity or a tag", raw)
		}
		p = []byte(s)
	}
	switch string(p) {
	case "latest", "pending":
		return c.head.Load(), nil
	case "safe":
		return c.lag(c.safeDepth), nil
	case "finalized":
		return c.lag(c.finalDepth), nil
	case "earliest":
		return 0, nil
	}
	if n, ok := hexQuantity(p); ok {
		return n, nil
	}
	s := string(p)
	n, err := hexutil.DecodeUint64(s)
	if err != nil {
		return 0, errParams("invalid block parameter %q: %v", s, err)
	}
	return n, nil
}

// plainString returns the contents of a JSON string holding only printable
// ASCII without escapes (what json.Unmarshal would decode it to); false for
// anything else.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	p := raw[1 : len(raw)-1]
	for _, c := range p {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return nil, false
		}
	}
	return p, true
}

// hexQuantity decodes a quantity that hexutil.DecodeUint64 accepts: "0x"
// and 1 to 16 hex digits without a leading zero; false for anything else
// (the caller asks hexutil, for its exact error).
func hexQuantity(p []byte) (uint64, bool) {
	if len(p) < 3 || len(p) > 18 || p[0] != '0' || p[1] != 'x' || len(p) > 3 && p[2] == '0' {
		return 0, false
	}
	var n uint64
	for _, c := range p[2:] {
		d, ok := hexDigit(c)
		if !ok {
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeHex decodes p (no prefix, 2·len(dst) digits of either case) into
// dst; false for anything but hex digits.
func decodeHex(dst, p []byte) bool {
	if len(p) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, p)
	return err == nil
}

// hexString reads a JSON string "0x…" at sc.i and returns what lies
// between "0x" and the closing quote, unchecked: decodeHex refuses it unless
// it is all hex digits (an escape included). false (sc.i anywhere) when
// there is no such string.
func (sc *reqScanner) hexString() ([]byte, bool) {
	b := sc.b
	i := sc.i
	if len(b)-i < 4 || b[i] != '"' || b[i+1] != '0' || b[i+2] != 'x' {
		return nil, false
	}
	end := bytes.IndexByte(b[i+3:], '"')
	if end < 0 {
		return nil, false
	}
	sc.i = i + 3 + end + 1
	return b[i+3 : i+3+end], true
}

// fixedHex reads a JSON string "0x" + 2·len(dst) hex digits into dst, as
// common.Hash and common.Address decode it; false for anything else.
func fixedHex(dst []byte, raw []byte) bool {
	p, ok := plainString(raw)
	if !ok || len(p) != 2+2*len(dst) || p[0] != '0' || p[1] != 'x' {
		return false
	}
	return decodeHex(dst, p[2:])
}

func (c *chainState) getBlockByNumber(dst []byte, ps []json.RawMessage) ([]byte, *rpcError) {
	if len(ps) < 1 || len(ps) > 2 {
		return dst, errParams("eth_getBlockByNumber wants [block, fullTx]")
	}
	n, err := c.blockNumber(ps[0], false)
	if err != nil {
		return dst, err
	}
	if n > c.head.Load() {
		return append(dst, "null"...), nil
	}
	return c.appendHeader(dst, n), nil
}

func (c *chainState) getBlockByHash(dst []byte, ps []json.RawMessage) ([]byte, *rpcError) {
	if len(ps) < 1 || len(ps) > 2 {
		return dst, errParams("eth_getBlockByHash wants [hash, fullTx]")
	}
	var h common.Hash
	if !fixedHex(h[:], ps[0]) {
		if err := json.Unmarshal(ps[0], &h); err != nil {
			return dst, errParams("invalid block hash: %v", err)
		}
	}
	n, ok := c.numberOf(h)
	if !ok || n > c.head.Load() {
		return append(dst, "null"...), nil
	}
	return c.appendHeader(dst, n), nil
}

// appendHeader renders block n, a block without transactions with every
// field go-ethereum's types.Header requires; the caller checked n <= head.
// Roots are the empty-trie roots so ethclient's BlockByNumber also accepts
// the empty transaction list. Written by hand, in the field order and
// encoding json.Marshal gave it (TestAnswersMatchReference).
func (c *chainState) appendHeader(dst []byte, n uint64) []byte {
	h := c.blockHash(n)
	parent := common.Hash{}
	if n > 0 {
		parent = c.blockHash(n - 1)
	}
	var bloom types.Bloom
	for _, l := range c.logsIn(n, n) {
		bloom.Add(l.address.Bytes())
		for _, t := range l.topics {
			bloom.Add(t.Bytes())
		}
	}
	used := c.gasLimit / 4 * uint64(h[1]) / 255 * 2
	baseFee := uint64(h[2])*40_000_000 + 10_000_000
	var mix, state common.Hash
	copy(mix[4:], h[4:])
	copy(state[:16], h[16:])
	copy(state[16:], h[:16])
	dst = append(dst, `{"number":"`...)
	dst = appendQuantity(dst, n)
	dst = append(dst, `","hash":"`...)
	dst = appendHex(dst, h[:])
	dst = append(dst, `","parentHash":"`...)
	dst = appendHex(dst, parent[:])
	dst = append(dst, `","nonce":"0x0000000000000000","mixHash":"`...)
	dst = appendHex(dst, mix[:])
	dst = append(dst, `","sha3Uncles":"`...)
	dst = appendHex(dst, types.EmptyUncleHash[:])
	dst = append(dst, `","logsBloom":"`...)
	dst = appendHex(dst, bloom[:])
	dst = append(dst, `","transactionsRoot":"`...)
	dst = appendHex(dst, types.EmptyTxsHash[:])
	dst = append(dst, `","stateRoot":"`...)
	dst = appendHex(dst, state[:])
	dst = append(dst, `","receiptsRoot":"`...)
	dst = appendHex(dst, types.EmptyReceiptsHash[:])
	dst = append(dst, `","miner":"`...)
	dst = appendHex(dst, c.miners[n%uint64(len(c.miners))][:])
	dst = append(dst, `","difficulty":"0x0","totalDifficulty":"0x0","extraData":"0x","size":"0x2a0","gasLimit":"`...)
	dst = appendQuantity(dst, c.gasLimit)
	dst = append(dst, `","gasUsed":"`...)
	dst = appendQuantity(dst, used)
	dst = append(dst, `","timestamp":"`...)
	dst = appendQuantity(dst, uint64(c.clk.time(n)))
	dst = append(dst, `","baseFeePerGas":"`...)
	dst = appendQuantity(dst, baseFee)
	return append(dst, `","transactions":[],"uncles":[]}`...)
}

// logsIn returns the logs in blocks [from, to], found by binary search.
func (c *chainState) logsIn(from, to uint64) []servedLog {
	lo := sort.Search(len(c.logs), func(i int) bool { return c.logs[i].pos.block >= from })
	hi := sort.Search(len(c.logs), func(i int) bool { return c.logs[i].pos.block > to })
	if hi < lo {
		return nil
	}
	return c.logs[lo:hi]
}

// filterQuery is eth_getLogs's parameter.
type filterQuery struct {
	BlockHash *common.Hash      `json:"blockHash"`
	FromBlock json.RawMessage   `json:"fromBlock"`
	ToBlock   json.RawMessage   `json:"toBlock"`
	Address   json.RawMessage   `json:"address"`
	Topics    []json.RawMessage `json:"topics"`
}

func (c *chainState) getLogs(dst []byte, ps []json.RawMessage) ([]byte, *rpcError) {
	if len(ps) != 1 {
		return dst, errParams("eth_getLogs wants [filter]")
	}
	var q filterQuery
	if err := json.Unmarshal(ps[0], &q); err != nil {
		return dst, errParams("invalid filter: %v", err)
	}
	addrs, err := hashSet[common.Address](q.Address)
	if err != nil {
		return dst, errParams("invalid address filter: %v", err)
	}
	if len(q.Topics) > 4 {
		return dst, errParams("too many topics: %d, at most 4", len(q.Topics))
	}
	topics := make([]map[common.Hash]bool, len(q.Topics))
	for i, raw := range q.Topics {
		if topics[i], err = hashSet[common.Hash](raw); err != nil {
			return dst, errParams("invalid topic %d: %v", i, err)
		}
	}
	head := c.head.Load()
	var from, to uint64
	if q.BlockHash != nil {
		if len(q.FromBlock) > 0 || len(q.ToBlock) > 0 {
			return dst, errParams("cannot specify both blockHash and fromBlock/toBlock")
		}
		n, ok := c.numberOf(*q.BlockHash)
		if !ok || n > head {
			return dst, &rpcError{Code: codeServer, Message: "unknown block"}
		}
		from, to = n, n
	} else {
		var rerr *rpcError
		if from, rerr = c.blockNumber(q.FromBlock, false); rerr != nil {
			return dst, rerr
		}
		if to, rerr = c.blockNumber(q.ToBlock, false); rerr != nil {
			return dst, rerr
		}
		if from > to {
			return dst, &rpcError{Code: codeServer, Message: "invalid block range params"}
		}
		if maxRange := c.maxLogRange; maxRange > 0 && to-from+1 > maxRange {
			return dst, &rpcError{Code: codeLimitExceeded, Message: fmt.Sprintf(
				"block range too large: %d blocks requested, limit is %d. Try with this block range [0x%x, 0x%x].",
				to-from+1, maxRange, from, from+maxRange-1)}
		}
	}
	if from > head {
		return append(dst, "[]"...), nil
	}
	to = min(to, head)
	ls := c.logsIn(from, to)
	// First the matching logs and the answer's size, so that a
	// multi-megabyte answer is written into one allocation.
	idx := matchPool.Get().(*[]int32)
	defer func() { *idx = (*idx)[:0]; matchPool.Put(idx) }()
	size := 2
	for i := range ls {
		l := &ls[i]
		if !l.matches(addrs, topics) {
			continue
		}
		if c.maxLogResults > 0 && len(*idx) == c.maxLogResults {
			last := from
			if l.pos.block > from {
				last = l.pos.block - 1
			}
			return dst, &rpcError{Code: codeLimitExceeded, Message: fmt.Sprintf(
				"query returned more than %d results. Try with this block range [0x%x, 0x%x].", c.maxLogResults, from, last)}
		}
		*idx = append(*idx, int32(i))
		size += len(l.json) + 1
	}
	out := slices.Grow(dst, size)
	out = append(out, '[')
	for k, i := range *idx {
		if k > 0 {
			out = append(out, ',')
		}
		out = append(out, ls[i].json...)
	}
	return append(out, ']'), nil
}

// matchPool holds the index lists of getLogs.
var matchPool = sync.Pool{New: func() any { return new([]int32) }}

// matches applies an address set and positional topic sets (nil = any).
func (l *servedLog) matches(addrs map[common.Address]bool, topics []map[common.Hash]bool) bool {
	if addrs != nil && !addrs[l.address] {
		return false
	}
	if len(topics) > len(l.topics) {
		for _, t := range topics[len(l.topics):] {
			if t != nil {
				return false
			}
		}
	}
	for i, set := range topics {
		if set != nil && (i >= len(l.topics) || !set[l.topics[i]]) {
			return false
		}
	}
	return true
}

// hashSet parses null, a single value or an array of values; nil means any.
func hashSet[T common.Address | common.Hash](raw json.RawMessage) (map[T]bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []T
	if raw[0] == '[' {
		var items []*T
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		for _, it := range items {
			if it == nil {
				return nil, nil // a null inside the list matches anything
			}
			list = append(list, *it)
		}
		if len(list) == 0 {
			return nil, nil
		}
	} else {
		var one T
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, err
		}
		list = []T{one}
	}
	set := make(map[T]bool, len(list))
	for _, v := range list {
		set[v] = true
	}
	return set, nil
}

// callArgs is eth_call's transaction object; from, gas and value are ignored.
type callArgs struct {
	To    *common.Address `json:"to"`
	Data  *hexutil.Bytes  `json:"data"`
	Input *hexutil.Bytes  `json:"input"`
}

func errReverted() *rpcError {
	return &rpcError{Code: codeReverted, Message: "execution reverted", Data: "0x"}
}

// errRevertedWith is geth's answer to a revert with data: the reason in the
// message when the data is an Error(string) or Panic(uint256).
func errRevertedWith(data []byte) *rpcError {
	if len(data) == 0 {
		return errReverted()
	}
	e := &rpcError{Code: codeReverted, Message: "execution reverted", Data: hexutil.Encode(data)}
	if reason, err := abi.UnpackRevert(data); err == nil {
		e.Message += ": " + reason
	}
	return e
}

func (c *chainState) ethCall(dst []byte, ps []json.RawMessage) ([]byte, *rpcError) {
	if len(ps) < 1 || len(ps) > 3 {
		return dst, errParams("eth_call wants [call, block]")
	}
	args, ok := fastCallArgs(ps[0])
	if !ok {
		args = callArgs{}
		if err := json.Unmarshal(ps[0], &args); err != nil {
			return dst, errParams("invalid call object: %v", err)
		}
	}
	var block json.RawMessage
	if len(ps) > 1 {
		block = ps[1]
	}
	n, rerr := c.blockNumber(block, true)
	if rerr != nil {
		return dst, rerr
	}
	if n > c.head.Load() {
		return dst, &rpcError{Code: codeServer, Message: "header not found"}
	}
	var data []byte
	switch {
	case args.Input != nil:
		data = *args.Input
	case args.Data != nil:
		data = *args.Data
	}
	if args.To == nil {
		return dst, errReverted()
	}
	out, ok := c.run(*args.To, data, n, 0)
	if !ok {
		return dst, errRevertedWith(out)
	}
	dst = append(dst, '"')
	return append(appendHex(dst, out), '"'), nil
}

// run executes a call of data to `to` at block n, as a message call of the
// EVM would in chainsim's model, depth calls deep: a contract chainsim does
// not know, or a function it does not serve, reverts. ok=false is a revert
// with out as its revert data.
func (c *chainState) run(to common.Address, data []byte, n uint64, depth int) (out []byte, ok bool) {
	if to == Multicall3 {
		return c.multicall3(data, n, depth)
	}
	if len(data) < 4 {
		return nil, false
	}
	return c.execute(to, binary.BigEndian.Uint32(data), data[4:], n)
}

// fastCallArgs reads eth_call's call object as json.Unmarshal into callArgs
// does, for the usual shape: "to" an address, "data" and "input" 0x-hex,
// other keys plain and distinct from these three in any case. raw is valid
// JSON (the request was validated). false: not that shape, decode with
// encoding/json.
func fastCallArgs(raw []byte) (callArgs, bool) {
	var args callArgs
	sc := reqScanner{b: raw}
	if len(raw) == 0 || raw[0] != '{' {
		return args, false
	}
	sc.i = 1
	sc.ws()
	if sc.i < len(raw) && raw[sc.i] == '}' {
		return args, sc.i+1 == len(raw)
	}
	for {
		if sc.i >= len(raw) || raw[sc.i] != '"' {
			return args, false
		}
		kStart := sc.i + 1
		if !sc.str() || sc.err {
			return args, false
		}
		key := raw[kStart : sc.i-1]
		sc.ws()
		if sc.i >= len(raw) || raw[sc.i] != ':' {
			return args, false
		}
		sc.i++
		sc.ws()
		switch string(key) {
		case "to":
			p, ok := sc.hexString()
			if !ok || args.To != nil || len(p) != 2*common.AddressLength {
				return args, false
			}
			args.To = new(common.Address)
			if !decodeHex(args.To[:], p) {
				return args, false
			}
		case "data", "input":
			p, ok := sc.hexString()
			if !ok || len(p)%2 != 0 {
				return args, false
			}
			b := make(hexutil.Bytes, len(p)/2)
			if !decodeHex(b, p) {
				return args, false
			}
			dst := &args.Data
			if key[0] == 'i' {
				dst = &args.Input
			}
			if *dst != nil {
				return args, false
			}
			*dst = &b
		default:
			for _, k := range [...]string{"to", "data", "input"} {
				if len(key) == len(k) && foldASCII(key, k) {
					return args, false
				}
			}
			if sc.value(1); sc.err {
				return args, false
			}
		}
		sc.ws()
		if sc.i >= len(raw) {
			return args, false
		}
		switch raw[sc.i] {
		case ',':
			sc.i++
			sc.ws()
			continue
		case '}':
			return args, sc.i+1 == len(raw)
		}
		return args, false
	}
}

// assetCalls are the answers of an asset's calls that do not depend on the
// block, encoded once.
type assetCalls struct {
	symbol, name, decimals []byte // at the token
	reserveConfig, fee     []byte // at the data provider
}

func newAssetCalls(a *Asset) *assetCalls {
	ac := &assetCalls{symbol: abiString(a.Symbol), name: abiString(a.Name), decimals: u64Word(uint64(a.Decimals)),
		reserveConfig: reserveConfigurationData(a)}
	if a.Bytes32Symbol {
		ac.symbol, ac.name = abiBytes32(a.Symbol), abiBytes32(a.Name)
	}
	_, fee := ReserveConfig(a)
	ac.fee = u64Word(uint64(fee))
	return ac
}

// Answers of the oracle's constant calls.
var (
	baseCurrencyUnitWord = u64Word(100_000_000)
	zeroWord             = word(nil)
)

// execute runs a view call of the oracle or a token at block n. Returned
// slices may be shared: callers must not modify them.
func (c *chainState) execute(to common.Address, sel uint32, args []byte, n uint64) ([]byte, bool) {
	if to == c.oracle {
		switch sel {
		case selBaseCurrencyUnit:
			return baseCurrencyUnitWord, true
		case selBaseCurrency:
			return zeroWord, true
		case selGetAssetPrice:
			addr, ok := argAddress(args, 0)
			if !ok || c.byAddr[addr] == nil {
				return nil, false
			}
			return c.appendPriceWord(make([]byte, 0, 32), c.byAddr[addr], n), true
		case selGetAssetsPrices:
			addrs, ok := argAddressArray(args)
			if !ok {
				return nil, false
			}
			out := make([]byte, 0, 64+32*len(addrs))
			out = appendU64Word(out, 32)
			out = appendU64Word(out, uint64(len(addrs)))
			for _, addr := range addrs {
				a := c.byAddr[addr]
				if a == nil {
					return nil, false
				}
				out = c.appendPriceWord(out, a, n)
			}
			return out, true
		}
		return nil, false
	}
	if to == c.dataProvider && to != (common.Address{}) {
		addr, ok := argAddress(args, 0)
		ac := c.calls[addr]
		if !ok || ac == nil {
			return nil, false
		}
		switch sel {
		case selGetReserveConfigurationData:
			return ac.reserveConfig, true
		case selGetLiquidationProtocolFee:
			return ac.fee, true
		}
		return nil, false
	}
	ac := c.calls[to]
	if ac == nil {
		return nil, false
	}
	switch sel {
	case selSymbol:
		return ac.symbol, true
	case selName:
		return ac.name, true
	case selDecimals:
		return ac.decimals, true
	}
	return nil, false
}

// appendPriceWord appends the oracle price of a at block n as a uint256
// word: from the int64 price path, or through priceAt where a reorg shifts
// the price.
func (c *chainState) appendPriceWord(dst []byte, a *Asset, n uint64) []byte {
	if c.gens[n] == 0 || c.shiftBps == 0 {
		if p := c.prices.priceE8(a, c.clk.time(n)); p >= 0 {
			return appendU64Word(dst, uint64(p))
		}
	}
	return append(dst, uintWord(c.priceAt(a, n))...)
}
