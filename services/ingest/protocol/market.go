package protocol

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/liqstream/liqstream/services/ingest/decode"
	"github.com/liqstream/liqstream/services/lib/chains"
)

// UnknownMarket labels logs from an emitter no configured market owns.
const UnknownMarket = "unknown"

// Market is one configured emitter with its adapter.
type Market struct {
	Name    string
	Adapter Adapter
	Pool    common.Address
	// Oracle, DataProvider and ETHUSDFeed are zero when unknown.
	Oracle, DataProvider, ETHUSDFeed common.Address
}

// FromRegistry builds a Market from a lib/chains market.
func FromRegistry(m chains.Market) (Market, error) {
	a, err := ForProtocol(m.Protocol)
	if err != nil {
		return Market{}, fmt.Errorf("market %s: %w", m.Name, err)
	}
	out := Market{Name: m.Name, Adapter: a, Pool: common.HexToAddress(m.Pool)}
	for _, f := range []struct {
		s   string
		dst *common.Address
	}{{m.Oracle, &out.Oracle}, {m.DataProvider, &out.DataProvider}, {m.ETHUSDFeed, &out.ETHUSDFeed}} {
		if common.IsHexAddress(f.s) {
			*f.dst = common.HexToAddress(f.s)
		}
	}
	return out, nil
}

// Set is the configured markets of one chain, keyed by pool address.
type Set struct {
	list   []Market
	byPool map[common.Address]int
}

// NewSet indexes markets by pool; a pool listed twice is an error.
func NewSet(ms []Market) (*Set, error) {
	s := &Set{byPool: map[common.Address]int{}}
	for _, m := range ms {
		if m.Adapter == nil {
			return nil, fmt.Errorf("market %s: no adapter", m.Name)
		}
		if i, dup := s.byPool[m.Pool]; dup {
			return nil, fmt.Errorf("markets %s and %s share pool %s: list each pool once", s.list[i].Name, m.Name, strings.ToLower(m.Pool.Hex()))
		}
		s.byPool[m.Pool] = len(s.list)
		s.list = append(s.list, m)
	}
	return s, nil
}

// Markets returns the markets in configuration order.
func (s *Set) Markets() []Market { return slices.Clone(s.list) }

// Lookup returns the market whose pool emitted a log.
func (s *Set) Lookup(pool common.Address) (*Market, bool) {
	i, ok := s.byPool[pool]
	if !ok {
		return nil, false
	}
	return &s.list[i], true
}

// Pools returns every configured pool, for the eth_getLogs address filter.
func (s *Set) Pools() []common.Address {
	out := make([]common.Address, len(s.list))
	for i, m := range s.list {
		out[i] = m.Pool
	}
	return out
}

// Topics returns the union of the adapters' topic0s, for the eth_getLogs
// topic filter.
func (s *Set) Topics() []common.Hash {
	var out []common.Hash
	for _, m := range s.list {
		for _, t := range m.Adapter.Topics() {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// byTopic picks an adapter for a log of an unknown emitter from its topic0:
// the V2/V3 LiquidationCall layout is shared by every fork, so it decodes
// with the Aave V3 adapter and is labelled with the family "aave".
func byTopic(t common.Hash) (Adapter, string, bool) {
	switch t {
	case decode.TopicLiquidationCall:
		return adapters["aave-v3"], "aave", true
	case decode.TopicDeficitCreated:
		return adapters["aave-v3"], "aave-v3", true
	case decode.TopicLiquidationCallV1:
		return adapters["aave-v1"], "aave-v1", true
	}
	return nil, "", false
}

// Decoded is a decoded log with its attribution.
type Decoded struct {
	Event
	// Market is the emitter's market; Name is UnknownMarket for an emitter
	// not in the Set.
	Market Market
	// Protocol is Market.Adapter.Name(), or the family guessed from topic0
	// for an unknown emitter.
	Protocol string
}

// Decode decodes a log. A configured pool's log uses its market's adapter;
// any other emitter is decoded by topic0 with market "unknown".
func (s *Set) Decode(l *types.Log) (Decoded, error) {
	var d Decoded
	if m, ok := s.Lookup(l.Address); ok {
		d.Market, d.Protocol = *m, m.Adapter.Name()
		err := m.Adapter.Decode(l, &d.Event)
		return d, err
	}
	a, proto, ok := byTopic(topic0(l))
	if !ok {
		if len(l.Topics) == 0 {
			return d, &decode.Error{Field: "topics", Err: decode.ErrTopicCount}
		}
		return d, &decode.Error{Event: "log", Field: "topic0", Err: decode.ErrUnknownTopic0}
	}
	d.Market = Market{Name: UnknownMarket, Adapter: a, Pool: l.Address}
	d.Protocol = proto
	err := a.Decode(l, &d.Event)
	return d, err
}
