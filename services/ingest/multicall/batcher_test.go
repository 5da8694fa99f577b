package multicall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/ingest/rpc"
)

// node answers eth_calls the way a node with Multicall3 deployed from block
// deployed would: aggregate3 is decoded with go-ethereum's ABI (independent
// of the codec under test), each inner call answered by answer.
type node struct {
	t        *testing.T
	a        abi.ABI
	deployed uint64
	answer   func(c rpc.Call) rpc.CallResult
	// batchErr, when set, fails every CallBatch.
	batchErr error
	// garbage makes every aggregate3 answer unreadable.
	garbage bool
	batches [][]rpc.Call
}

func (n *node) Head(context.Context) (uint64, error) { return 1 << 30, nil }

func (n *node) CallBatch(_ context.Context, calls []rpc.Call) ([]rpc.CallResult, error) {
	n.batches = append(n.batches, calls)
	if n.batchErr != nil {
		return nil, n.batchErr
	}
	out := make([]rpc.CallResult, len(calls))
	for i, c := range calls {
		if c.To != Address {
			out[i] = n.answer(c)
			continue
		}
		if c.Block < n.deployed {
			out[i] = rpc.CallResult{Data: []byte{}} // no code: "0x"
			continue
		}
		if n.garbage {
			out[i] = rpc.CallResult{Data: []byte{1, 2, 3}}
			continue
		}
		args, err := n.a.Methods["aggregate3"].Inputs.Unpack(c.Data[4:])
		if err != nil {
			n.t.Fatalf("the node cannot decode aggregate3 calldata: %v", err)
		}
		inner := *abi.ConvertType(args[0], new([]Call3)).(*[]Call3)
		rs := make([]Result, len(inner))
		for j, ic := range inner {
			r := n.answer(rpc.Call{To: ic.Target, Data: ic.CallData, Block: c.Block})
			if !ic.AllowFailure {
				n.t.Fatalf("inner call %d without allowFailure", j)
			}
			rs[j] = Result{Success: r.Err == nil, ReturnData: r.Data}
		}
		out[i] = rpc.CallResult{Data: packResults(n.t, n.a, rs)}
	}
	return out, nil
}

var (
	okTarget     = common.HexToAddress("0x00000000000000000000000000000000000000aa")
	revertTarget = common.HexToAddress("0x00000000000000000000000000000000000000bb")
)

// answer echoes the call (target byte, block, data) or reverts with a
// reason for revertTarget.
func answer(c rpc.Call) rpc.CallResult {
	if c.To == revertTarget {
		reason := "too low"
		data := append([]byte{0x08, 0xc3, 0x79, 0xa0}, make([]byte, 96)...)
		data[4+31] = 0x20
		data[4+63] = byte(len(reason))
		copy(data[4+64:], reason)
		return rpc.CallResult{Err: errors.New("plain revert"), Data: data}
	}
	return rpc.CallResult{Data: append([]byte{c.To[19], byte(c.Block)}, c.Data...)}
}

func TestBatcher(t *testing.T) {
	a := gethABI(t)
	calls := []rpc.Call{
		{To: okTarget, Data: []byte{1}, Block: 100},
		{To: okTarget, Data: []byte{2}, Block: 101}, // alone at its block
		{To: okTarget, Data: []byte{3}, Block: 100},
		{To: revertTarget, Data: []byte{4}, Block: 100},
		{To: okTarget, Data: []byte{5}, Block: 5}, // below the deployment
		{To: okTarget, Data: []byte{6}, Block: 5},
		{To: okTarget, Data: []byte{7}, Block: 102},
		{To: okTarget, Data: []byte{8}, Block: 102},
	}
	tests := []struct {
		name       string
		garbage    bool
		from       uint64
		deployed   uint64
		wantWire   int // calls in the first batch
		aggregates uint64
		fallbacks  uint64
	}{
		{name: "aggregates per block", from: 50, deployed: 50, wantWire: 5, aggregates: 2},
		{name: "configured later than the deployment", from: 101, deployed: 50, wantWire: 7, aggregates: 1},
		{name: "not deployed where configured: sent again alone", from: 50, deployed: 102, wantWire: 5, aggregates: 2, fallbacks: 1},
		{name: "garbage answers: sent again alone", garbage: true, from: 50, deployed: 50, wantWire: 5, aggregates: 2, fallbacks: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &node{t: t, a: a, deployed: tt.deployed, answer: answer, garbage: tt.garbage}
			b := New(n, tt.from, "polygon", nil)
			got, err := b.CallBatch(context.Background(), calls)
			if err != nil {
				t.Fatal(err)
			}
			if len(n.batches[0]) != tt.wantWire {
				t.Fatalf("first batch has %d calls, want %d", len(n.batches[0]), tt.wantWire)
			}
			if wantBatches := 1 + min(tt.fallbacks, 1); uint64(len(n.batches)) != wantBatches {
				t.Fatalf("%d batches, want %d", len(n.batches), wantBatches)
			}
			if s := b.Stats(); s.Aggregates != tt.aggregates || s.Fallbacks != tt.fallbacks {
				t.Fatalf("stats %+v, want %d aggregates and %d fallbacks", s, tt.aggregates, tt.fallbacks)
			}
			for i, c := range calls {
				want := answer(c)
				if c.To == revertTarget {
					if got[i].Err == nil {
						t.Fatalf("call %d: no error, want a revert", i)
					}
					if fe := (*CallFailed)(nil); errors.As(got[i].Err, &fe) && !strings.Contains(fe.Error(), "too low") {
						t.Fatalf("call %d: %q does not carry the revert reason", i, fe.Error())
					}
					continue
				}
				if got[i].Err != nil || !bytes.Equal(got[i].Data, want.Data) {
					t.Fatalf("call %d: got %x (%v), want %x", i, got[i].Data, got[i].Err, want.Data)
				}
			}
		})
	}
}

func TestBatcherPassesBatchErrorsThrough(t *testing.T) {
	missing := fmt.Errorf("%w: eth_call at block 100", rpc.ErrBlockNotFound)
	n := &node{t: t, a: gethABI(t), answer: answer, batchErr: missing}
	_, err := New(n, 1, "polygon", nil).CallBatch(context.Background(), []rpc.Call{{To: okTarget, Block: 100}, {To: okTarget, Block: 100}})
	if !errors.Is(err, rpc.ErrBlockNotFound) {
		t.Fatalf("error %v, want it to wrap rpc.ErrBlockNotFound so the price fallback runs", err)
	}
}

func TestCallFailedText(t *testing.T) {
	tests := []struct {
		data []byte
		want string
	}{
		{nil, "execution reverted"},
		{[]byte{0xde, 0xad}, "execution reverted (data 0xdead)"},
		{answer(rpc.Call{To: revertTarget}).Data, "execution reverted: too low"},
	}
	for _, tt := range tests {
		if got := (&CallFailed{Data: tt.data}).Error(); got != tt.want {
			t.Errorf("%x: %q, want %q", tt.data, got, tt.want)
		}
	}
}
