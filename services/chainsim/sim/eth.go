package sim

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// call dispatches one method.
func (c *chainState) call(method string, raw json.RawMessage) (json.RawMessage, *rpcError) {
	ps, perr := params(raw)
	if perr != nil {
		return nil, perr
	}
	// Reorg replaces logs and hashes under the write lock.
	c.mu.RLock()
	defer c.mu.RUnlock()
	switch method {
	case "eth_chainId":
		return quantity(c.id), nil
	case "net_version":
		return mustJSON(strconv.FormatUint(c.id, 10)), nil
	case "eth_blockNumber":
		return quantity(c.head.Load()), nil
	case "web3_clientVersion":
		return mustJSON("chainsim/v1"), nil
	case "eth_syncing":
		return json.RawMessage("false"), nil
	case "eth_getBlockByNumber":
		return c.getBlockByNumber(ps)
	case "eth_getBlockByHash":
		return c.getBlockByHash(ps)
	case "eth_getLogs":
		return c.getLogs(ps)
	case "eth_call":
		return c.ethCall(ps)
	}
	return nil, &rpcError{Code: codeMethodNotFound, Message: fmt.Sprintf("the method %s does not exist/is not available", method)}
}

func quantity(v uint64) json.RawMessage { return mustJSON(hexutil.EncodeUint64(v)) }

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
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, errParams("invalid block parameter %s: want a hex quantity or a tag", raw)
	}
	switch s {
	case "latest", "pending":
		return c.head.Load(), nil
	case "safe":
		return c.lag(c.safeDepth), nil
	case "finalized":
		return c.lag(c.finalDepth), nil
	case "earliest":
		return 0, nil
	}
	n, err := hexutil.DecodeUint64(s)
	if err != nil {
		return 0, errParams("invalid block parameter %q: %v", s, err)
	}
	return n, nil
}

func (c *chainState) getBlockByNumber(ps []json.RawMessage) (json.RawMessage, *rpcError) {
	if len(ps) < 1 || len(ps) > 2 {
		return nil, errParams("eth_getBlockByNumber wants [block, fullTx]")
	}
	n, err := c.blockNumber(ps[0], false)
	if err != nil {
		return nil, err
	}
	if n > c.head.Load() {
		return json.RawMessage("null"), nil
	}
	return c.header(n), nil
}

func (c *chainState) getBlockByHash(ps []json.RawMessage) (json.RawMessage, *rpcError) {
	if len(ps) < 1 || len(ps) > 2 {
		return nil, errParams("eth_getBlockByHash wants [hash, fullTx]")
	}
	var h common.Hash
	if err := json.Unmarshal(ps[0], &h); err != nil {
		return nil, errParams("invalid block hash: %v", err)
	}
	n, ok := c.numberOf(h)
	if !ok || n > c.head.Load() {
		return json.RawMessage("null"), nil
	}
	return c.header(n), nil
}

// headerJSON is a block without transactions, with every field go-ethereum's
// types.Header requires. Roots are the empty-trie roots so ethclient's
// BlockByNumber also accepts the empty transaction list.
type headerJSON struct {
	Number           string        `json:"number"`
	Hash             common.Hash   `json:"hash"`
	ParentHash       common.Hash   `json:"parentHash"`
	Nonce            string        `json:"nonce"`
	MixHash          common.Hash   `json:"mixHash"`
	Sha3Uncles       common.Hash   `json:"sha3Uncles"`
	LogsBloom        types.Bloom   `json:"logsBloom"`
	TransactionsRoot common.Hash   `json:"transactionsRoot"`
	StateRoot        common.Hash   `json:"stateRoot"`
	ReceiptsRoot     common.Hash   `json:"receiptsRoot"`
	Miner            string        `json:"miner"`
	Difficulty       string        `json:"difficulty"`
	TotalDifficulty  string        `json:"totalDifficulty"`
	ExtraData        string        `json:"extraData"`
	Size             string        `json:"size"`
	GasLimit         string        `json:"gasLimit"`
	GasUsed          string        `json:"gasUsed"`
	Timestamp        string        `json:"timestamp"`
	BaseFeePerGas    string        `json:"baseFeePerGas"`
	Transactions     []string      `json:"transactions"`
	Uncles           []common.Hash `json:"uncles"`
}

// header renders block n; the caller checked n <= head.
func (c *chainState) header(n uint64) json.RawMessage {
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
	return mustJSON(headerJSON{
		Number: hexutil.EncodeUint64(n), Hash: h, ParentHash: parent, Nonce: "0x0000000000000000",
		MixHash: common.BytesToHash(h[4:]), Sha3Uncles: types.EmptyUncleHash, LogsBloom: bloom,
		TransactionsRoot: types.EmptyTxsHash, StateRoot: common.BytesToHash(append(h[16:], h[:16]...)),
		ReceiptsRoot: types.EmptyReceiptsHash, Miner: strings.ToLower(derivedAddress(c.hash.seed, c.id, "miner", n%7).Hex()),
		Difficulty: "0x0", TotalDifficulty: "0x0", ExtraData: "0x", Size: "0x2a0",
		GasLimit: hexutil.EncodeUint64(c.gasLimit), GasUsed: hexutil.EncodeUint64(used),
		Timestamp: hexutil.EncodeUint64(uint64(c.clk.time(n))), BaseFeePerGas: hexutil.EncodeUint64(baseFee),
		Transactions: []string{}, Uncles: []common.Hash{},
	})
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

func (c *chainState) getLogs(ps []json.RawMessage) (json.RawMessage, *rpcError) {
	if len(ps) != 1 {
		return nil, errParams("eth_getLogs wants [filter]")
	}
	var q filterQuery
	if err := json.Unmarshal(ps[0], &q); err != nil {
		return nil, errParams("invalid filter: %v", err)
	}
	addrs, err := hashSet[common.Address](q.Address)
	if err != nil {
		return nil, errParams("invalid address filter: %v", err)
	}
	if len(q.Topics) > 4 {
		return nil, errParams("too many topics: %d, at most 4", len(q.Topics))
	}
	topics := make([]map[common.Hash]bool, len(q.Topics))
	for i, raw := range q.Topics {
		if topics[i], err = hashSet[common.Hash](raw); err != nil {
			return nil, errParams("invalid topic %d: %v", i, err)
		}
	}
	head := c.head.Load()
	var from, to uint64
	if q.BlockHash != nil {
		if len(q.FromBlock) > 0 || len(q.ToBlock) > 0 {
			return nil, errParams("cannot specify both blockHash and fromBlock/toBlock")
		}
		n, ok := c.numberOf(*q.BlockHash)
		if !ok || n > head {
			return nil, &rpcError{Code: codeServer, Message: "unknown block"}
		}
		from, to = n, n
	} else {
		var rerr *rpcError
		if from, rerr = c.blockNumber(q.FromBlock, false); rerr != nil {
			return nil, rerr
		}
		if to, rerr = c.blockNumber(q.ToBlock, false); rerr != nil {
			return nil, rerr
		}
		if from > to {
			return nil, &rpcError{Code: codeServer, Message: "invalid block range params"}
		}
		if maxRange := c.maxLogRange; maxRange > 0 && to-from+1 > maxRange {
			return nil, &rpcError{Code: codeLimitExceeded, Message: fmt.Sprintf(
				"block range too large: %d blocks requested, limit is %d. Try with this block range [0x%x, 0x%x].",
				to-from+1, maxRange, from, from+maxRange-1)}
		}
	}
	if from > head {
		return json.RawMessage("[]"), nil
	}
	to = min(to, head)
	ls := c.logsIn(from, to)
	out := make([]byte, 0, 2+len(ls)*900)
	out = append(out, '[')
	n := 0
	for i := range ls {
		l := &ls[i]
		if !l.matches(addrs, topics) {
			continue
		}
		if c.maxLogResults > 0 && n == c.maxLogResults {
			last := from
			if l.pos.block > from {
				last = l.pos.block - 1
			}
			return nil, &rpcError{Code: codeLimitExceeded, Message: fmt.Sprintf(
				"query returned more than %d results. Try with this block range [0x%x, 0x%x].", c.maxLogResults, from, last)}
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, l.json...)
		n++
	}
	return append(out, ']'), nil
}

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

func (c *chainState) ethCall(ps []json.RawMessage) (json.RawMessage, *rpcError) {
	if len(ps) < 1 || len(ps) > 3 {
		return nil, errParams("eth_call wants [call, block]")
	}
	var args callArgs
	if err := json.Unmarshal(ps[0], &args); err != nil {
		return nil, errParams("invalid call object: %v", err)
	}
	var block json.RawMessage
	if len(ps) > 1 {
		block = ps[1]
	}
	n, rerr := c.blockNumber(block, true)
	if rerr != nil {
		return nil, rerr
	}
	if n > c.head.Load() {
		return nil, &rpcError{Code: codeServer, Message: "header not found"}
	}
	var data []byte
	switch {
	case args.Input != nil:
		data = *args.Input
	case args.Data != nil:
		data = *args.Data
	}
	if args.To == nil || len(data) < 4 {
		return nil, errReverted()
	}
	out, ok := c.execute(*args.To, hex.EncodeToString(data[:4]), data[4:], n)
	if !ok {
		return nil, errReverted()
	}
	return mustJSON(hexutil.Bytes(out)), nil
}

// execute runs a view call of the oracle or a token at block n.
func (c *chainState) execute(to common.Address, sel string, args []byte, n uint64) ([]byte, bool) {
	if to == c.oracle {
		switch sel {
		case selBaseCurrencyUnit:
			return u64Word(100_000_000), true
		case selBaseCurrency:
			return word(nil), true
		case selGetAssetPrice:
			addr, ok := argAddress(args, 0)
			if !ok || c.byAddr[addr] == nil {
				return nil, false
			}
			return uintWord(c.priceAt(c.byAddr[addr], n)), true
		case selGetAssetsPrices:
			addrs, ok := argAddressArray(args)
			if !ok {
				return nil, false
			}
			prices := make([]*big.Int, len(addrs))
			for i, addr := range addrs {
				a := c.byAddr[addr]
				if a == nil {
					return nil, false
				}
				prices[i] = c.priceAt(a, n)
			}
			return abiUintArray(prices), true
		}
		return nil, false
	}
	if to == c.dataProvider && to != (common.Address{}) {
		addr, ok := argAddress(args, 0)
		a := c.byAddr[addr]
		if !ok || a == nil {
			return nil, false
		}
		switch sel {
		case selGetReserveConfigurationData:
			return reserveConfigurationData(a), true
		case selGetLiquidationProtocolFee:
			_, fee := ReserveConfig(a)
			return u64Word(uint64(fee)), true
		}
		return nil, false
	}
	a := c.byAddr[to]
	if a == nil {
		return nil, false
	}
	switch sel {
	case selSymbol:
		if a.Bytes32Symbol {
			return abiBytes32(a.Symbol), true
		}
		return abiString(a.Symbol), true
	case selName:
		if a.Bytes32Symbol {
			return abiBytes32(a.Name), true
		}
		return abiString(a.Name), true
	case selDecimals:
		return u64Word(uint64(a.Decimals)), true
	}
	return nil, false
}
