package sim

import (
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/liqstream/liqstream/services/lib/hexenc"
)

// Topic0 of the Aave V3 Pool events the simulator emits. Only
// LiquidationCall is in the truth; the others are noise consumers must filter.
var (
	// TopicLiquidationCall is LiquidationCall(address,address,address,uint256,uint256,address,bool).
	TopicLiquidationCall = common.HexToHash("0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286")
	// TopicReserveDataUpdated is ReserveDataUpdated(address,uint256,uint256,uint256,uint256,uint256).
	TopicReserveDataUpdated = crypto.Keccak256Hash([]byte("ReserveDataUpdated(address,uint256,uint256,uint256,uint256,uint256)"))
	// TopicSupply is Supply(address,address,address,uint256,uint16).
	TopicSupply = crypto.Keccak256Hash([]byte("Supply(address,address,address,uint256,uint16)"))
	// TopicBorrow is Borrow(address,address,address,uint256,uint8,uint256,uint16).
	TopicBorrow = crypto.Keccak256Hash([]byte("Borrow(address,address,address,uint256,uint8,uint256,uint16)"))
)

// Function selectors served by eth_call (the first four bytes of the call
// data, big-endian).
const (
	selGetAssetPrice    = 0xb3596f07 // getAssetPrice(address)
	selGetAssetsPrices  = 0x9d23d9f2 // getAssetsPrices(address[])
	selBaseCurrencyUnit = 0x8c89b64f // BASE_CURRENCY_UNIT()
	selSymbol           = 0x95d89b41 // symbol()
	selDecimals         = 0x313ce567 // decimals()
	selName             = 0x06fdde03 // name()
	selBaseCurrency     = 0xe19f4700 // BASE_CURRENCY()
)

// logPos is where a log sits in the chain.
type logPos struct {
	block     uint64
	blockHash common.Hash
	time      int64
	txHash    common.Hash
	txIndex   uint
	logIndex  uint
}

// servedLog is one pool log, pre-rendered as eth_getLogs returns it.
type servedLog struct {
	pos     logPos
	address common.Address
	topics  []common.Hash
	data    []byte
	json    []byte
}

// word left-pads b to 32 bytes.
func word(b []byte) []byte { return common.LeftPadBytes(b, 32) }

func uintWord(v *big.Int) []byte { return word(v.Bytes()) }

func u64Word(v uint64) []byte { return uintWord(new(big.Int).SetUint64(v)) }

func addrTopic(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }

// liquidationLog encodes an event as the Aave V3 Pool emits it: topics
// [topic0, collateralAsset, debtAsset, user], data abi.encode(debtToCover,
// liquidatedCollateralAmount, liquidator, receiveAToken).
func liquidationLog(ev *Event) servedLog {
	data := make([]byte, 0, 128)
	data = append(data, uintWord(ev.DebtToCover)...)
	data = append(data, uintWord(ev.LiquidatedCollateralAmount)...)
	data = append(data, word(ev.Liquidator.Bytes())...)
	b := uint64(0)
	if ev.ReceiveAToken {
		b = 1
	}
	data = append(data, u64Word(b)...)
	return servedLog{address: ev.Pool, data: data, topics: []common.Hash{TopicLiquidationCall,
		addrTopic(ev.CollateralAsset), addrTopic(ev.DebtAsset), addrTopic(ev.Borrower)}}
}

// otherLog encodes a non-liquidation pool log with plausible data.
func otherLog(pool common.Address, dl draftLog, r *rand.Rand) servedLog {
	ray := func() []byte { return u64Word(r.Uint64N(1 << 62)) }
	switch dl.kind {
	case kindReserveDataUpdated:
		var data []byte
		for range 5 {
			data = append(data, ray()...)
		}
		return servedLog{address: pool, data: data, topics: []common.Hash{TopicReserveDataUpdated, addrTopic(dl.asset.Address)}}
	case kindSupply:
		data := append(word(dl.user.Bytes()), uintWord(dl.wei)...)
		return servedLog{address: pool, data: data, topics: []common.Hash{TopicSupply,
			addrTopic(dl.asset.Address), addrTopic(dl.user), common.BigToHash(big.NewInt(0))}}
	default:
		data := append(word(dl.user.Bytes()), uintWord(dl.wei)...)
		data = append(data, u64Word(2)...)
		data = append(data, ray()...)
		return servedLog{address: pool, data: data, topics: []common.Hash{TopicBorrow,
			addrTopic(dl.asset.Address), addrTopic(dl.user), common.BigToHash(big.NewInt(0))}}
	}
}

// render pre-renders the log's JSON object.
func (l *servedLog) render(withTimestamp bool) {
	b := make([]byte, 0, 700)
	b = append(b, `{"address":"`...)
	b = appendHex(b, l.address.Bytes())
	b = append(b, `","topics":[`...)
	for i, t := range l.topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = appendHex(b, t.Bytes())
		b = append(b, '"')
	}
	b = append(b, `],"data":"`...)
	b = appendHex(b, l.data)
	b = append(b, `","blockNumber":"`...)
	b = appendQuantity(b, l.pos.block)
	b = append(b, `","transactionHash":"`...)
	b = appendHex(b, l.pos.txHash.Bytes())
	b = append(b, `","transactionIndex":"`...)
	b = appendQuantity(b, uint64(l.pos.txIndex))
	b = append(b, `","blockHash":"`...)
	b = appendHex(b, l.pos.blockHash.Bytes())
	if withTimestamp {
		b = append(b, `","blockTimestamp":"`...)
		b = appendQuantity(b, uint64(l.pos.time))
	}
	b = append(b, `","logIndex":"`...)
	b = appendQuantity(b, uint64(l.pos.logIndex))
	b = append(b, `","removed":false}`...)
	l.json = b
}

func appendHex(b, data []byte) []byte {
	b = append(b, "0x"...)
	return hexenc.AppendEncode(b, data)
}

func appendQuantity(b []byte, v uint64) []byte {
	b = append(b, "0x"...)
	return strconv.AppendUint(b, v, 16)
}

// abiString encodes a string return value.
func abiString(s string) []byte {
	out := u64Word(32)
	out = append(out, u64Word(uint64(len(s)))...)
	padded := make([]byte, (len(s)+31)/32*32)
	copy(padded, s)
	return append(out, padded...)
}

// abiBytes32 encodes a bytes32 return value (right-padded).
func abiBytes32(s string) []byte {
	out := make([]byte, 32)
	copy(out, s)
	return out
}

// appendU64Word appends v as a uint256 word.
func appendU64Word(dst []byte, v uint64) []byte {
	dst = append(dst, make([]byte, 24)...)
	return binary.BigEndian.AppendUint64(dst, v)
}

// argAddress reads the address argument at word i of call data (selector
// stripped); false if the word is missing or not a clean address.
func argAddress(args []byte, i int) (common.Address, bool) {
	w, ok := argWord(args, i)
	if !ok || !zero(w[:12]) {
		return common.Address{}, false
	}
	return common.Address(w[12:]), true
}

func argWord(args []byte, i int) ([]byte, bool) {
	if i < 0 || len(args) < (i+1)*32 {
		return nil, false
	}
	return args[i*32 : (i+1)*32], true
}

// argUint64 reads word w as a uint64; false when it does not fit.
func argUint64(w []byte) (uint64, bool) {
	return binary.BigEndian.Uint64(w[24:]), zero(w[:24])
}

func zero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// argAddressArray reads a dynamic address[] that is the only argument.
func argAddressArray(args []byte) ([]common.Address, bool) {
	w, ok := argWord(args, 0)
	if !ok {
		return nil, false
	}
	off, ok := argUint64(w)
	if !ok || off%32 != 0 || off > uint64(len(args)) {
		return nil, false
	}
	base := int(off / 32)
	lw, ok := argWord(args, base)
	if !ok {
		return nil, false
	}
	n, ok := argUint64(lw)
	if !ok || n > uint64(len(args)/32) {
		return nil, false
	}
	out := make([]common.Address, 0, n)
	for i := range int(n) {
		a, ok := argAddress(args, base+1+i)
		if !ok {
			return nil, false
		}
		out = append(out, a)
	}
	return out, true
}
