package verify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/lib/chains"
)

func ev(id string, block uint64) Event {
	return Event{EventID: id, BlockNumber: block, BlockHash: "0xh", BlockTime: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC),
		TxHash: "0xt", Pool: "0xpool", Borrower: "0xb", Liquidator: "0xl", CollateralToken: "0xc", DebtToken: "0xd",
		CollateralAmountRaw: "10", DebtAmountRaw: "20"}
}

func rw(e Event, rev uint64, status string) row {
	return row{Event: e, blockDate: e.BlockTime.Truncate(24 * time.Hour), revision: rev, status: status}
}

func TestCompareEvents(t *testing.T) {
	a, b, c := ev("1:0xa:0", 100), ev("1:0xb:0", 101), ev("1:0xc:0", 102)
	changed := b
	changed.DebtAmountRaw = "21"
	otherPool := ev("1:0xo:0", 100)
	otherPool.Pool = "0xother"
	nextDay := a
	nextDay.BlockTime = nextDay.BlockTime.AddDate(0, 0, 1)
	tests := []struct {
		name      string
		chain     []Event
		rows      []row
		conflicts []conflict
		want      map[Kind]int
		extras    int
		inCH      int
	}{
		{"equal", []Event{a, b}, []row{rw(a, 1, "CONFIRMED"), rw(b, 1, "CONFIRMED")}, nil, map[Kind]int{}, 0, 2},
		{"missing", []Event{a, b}, []row{rw(a, 1, "CONFIRMED")}, nil, map[Kind]int{KindMissing: 1}, 0, 1},
		{"retracted but on chain", []Event{a}, []row{rw(a, 2, "RETRACTED")}, nil, map[Kind]int{KindMissing: 1}, 0, 0},
		{"extra", []Event{a}, []row{rw(a, 1, "CONFIRMED"), rw(c, 1, "CONFIRMED")}, nil, map[Kind]int{}, 1, 2},
		{"retracted not on chain is fine", []Event{a}, []row{rw(a, 1, "CONFIRMED"), rw(c, 2, "RETRACTED")}, nil, map[Kind]int{}, 0, 1},
		{"out of range extra ignored", []Event{a}, []row{rw(a, 1, "CONFIRMED"), rw(ev("1:0xz:0", 500), 1, "CONFIRMED")}, nil, map[Kind]int{}, 0, 1},
		{"other pool ignored", []Event{a}, []row{rw(a, 1, "CONFIRMED"), rw(otherPool, 1, "CONFIRMED")}, nil, map[Kind]int{}, 0, 1},
		{"stale", []Event{a, b}, []row{rw(a, 1, "CONFIRMED"), rw(changed, 2, "CONFIRMED")}, nil, map[Kind]int{KindStale: 1}, 0, 2},
		{"duplicate across days", []Event{a}, []row{rw(a, 1, "CONFIRMED"), rw(nextDay, 2, "CONFIRMED")}, nil,
			map[Kind]int{KindDuplicate: 1, KindStale: 1}, 0, 1},
		{"tombstone on the earlier day", []Event{a}, []row{rw(a, 2, "RETRACTED"), rw(nextDay, 2, "CONFIRMED")}, nil,
			map[Kind]int{KindStale: 1}, 0, 1},
		{"tombstone on the later day", []Event{nextDay}, []row{rw(a, 2, "CONFIRMED"), rw(nextDay, 2, "RETRACTED")}, nil,
			map[Kind]int{KindStale: 1}, 0, 1},
		{"moved then retracted", []Event{}, []row{rw(a, 3, "RETRACTED"), rw(nextDay, 3, "RETRACTED")}, nil,
			map[Kind]int{}, 0, 0},
		{"retracted winner still counted on another day", []Event{}, []row{rw(a, 1, "CONFIRMED"), rw(nextDay, 2, "RETRACTED")}, nil,
			map[Kind]int{KindDuplicate: 1}, 0, 0},
		{"conflict at highest revision", []Event{a}, []row{rw(a, 3, "CONFIRMED")}, []conflict{{eventID: a.EventID, blockDate: rw(a, 3, "").blockDate, revision: 3, rows: 2, variants: 2}},
			map[Kind]int{KindDuplicate: 1}, 0, 1},
		{"conflict on a tombstone's date", []Event{nextDay}, []row{rw(a, 3, "RETRACTED"), rw(nextDay, 3, "CONFIRMED")},
			[]conflict{{eventID: a.EventID, blockDate: rw(a, 3, "").blockDate, revision: 3, rows: 2, variants: 2}},
			map[Kind]int{}, 0, 1},
		{"conflict at superseded revision", []Event{a}, []row{rw(a, 3, "CONFIRMED")}, []conflict{{eventID: a.EventID, revision: 1, rows: 2, variants: 2}},
			map[Kind]int{}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := compareEvents(tc.chain, tc.rows, tc.conflicts, 100, 200, "0xpool")
			got := map[Kind]int{}
			for _, d := range res.diffs {
				got[d.Kind]++
			}
			if len(got) != len(tc.want) || len(res.extras) != tc.extras || res.inCH != tc.inCH {
				t.Fatalf("diffs %v extras %d inCH %d; want %v, %d, %d (%+v)", got, len(res.extras), res.inCH, tc.want, tc.extras, tc.inCH, res.diffs)
			}
			for k, n := range tc.want {
				if got[k] != n {
					t.Fatalf("diffs %v, want %v", got, tc.want)
				}
			}
		})
	}
	stale := compareEvents([]Event{b}, []row{rw(changed, 2, "CONFIRMED")}, nil, 100, 200, "0xpool").diffs
	if len(stale) != 1 || len(stale[0].Fields) != 1 || stale[0].Fields[0] != (Field{"debt_amount_raw", "21", "20"}) {
		t.Fatalf("stale fields = %+v", stale)
	}
}

func TestExtraDiffs(t *testing.T) {
	r := rw(ev("1:0xa:0", 100), 1, "CONFIRMED")
	for _, tc := range []struct {
		canonical map[uint64]string
		want      string
	}{
		{map[uint64]string{100: "0xother"}, "reorged out, retraction not applied"},
		{map[uint64]string{100: "0xh"}, "not on chain"},
		{map[uint64]string{}, "does not have"},
	} {
		d := extraDiffs([]row{r}, tc.canonical)
		if len(d) != 1 || d[0].Kind != KindExtra || !strings.Contains(d[0].Detail, tc.want) {
			t.Fatalf("extraDiffs(%v) = %+v, want detail with %q", tc.canonical, d, tc.want)
		}
	}
}

func TestRollupDiffs(t *testing.T) {
	base := aggregate{collateralUSD: "10.50000000", debtUSD: "10", events: 3, txs: 2, borrowers: 2, liquidators: 1}
	more := base
	more.events = 4
	cents := base
	cents.collateralUSD = "10.51"
	zero := aggregate{collateralUSD: "0.00000000", debtUSD: "0", bonusUSD: "0", feeUSD: "0"}
	tests := []struct {
		name        string
		rollup, raw map[string]aggregate
		fields      []string
	}{
		{"equal, formatting aside", map[string]aggregate{"d": base}, map[string]aggregate{"d": {collateralUSD: "10.5", debtUSD: "10.00000000", events: 3, txs: 2, borrowers: 2, liquidators: 1}}, nil},
		{"emptied bucket reads as zero", map[string]aggregate{"d": zero}, map[string]aggregate{}, nil},
		{"count", map[string]aggregate{"d": more}, map[string]aggregate{"d": base}, []string{"events"}},
		{"usd", map[string]aggregate{"d": cents}, map[string]aggregate{"d": base}, []string{"collateral_usd"}},
		{"rollup row missing", map[string]aggregate{}, map[string]aggregate{"d": base}, []string{"collateral_usd", "debt_usd", "events", "txs", "borrowers", "liquidators"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := rollupDiffs("daily", tc.rollup, tc.raw)
			var got []string
			for _, d := range ds {
				for _, f := range d.Fields {
					got = append(got, f.Name)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields %v, want %v (%+v)", got, tc.fields, ds)
			}
		})
	}
}

func validConfig() Config {
	c := DefaultConfig()
	c.Chain, c.RPCURL, c.From, c.To = "polygon", "https://polygon.example.com/v3/SECRETKEY", "2026-01-01", "2026-01-02"
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
	}{
		{"valid", func(*Config) {}, ""},
		{"valid blocks and market", func(c *Config) { c.From, c.To, c.Market = "10", "20", "AaveV3Polygon" }, ""},
		{"valid pool override", func(c *Config) { c.Pool = "0x794a61358D6845594F94dc1DB02A252b5b4814aD" }, ""},
		{"no chain", func(c *Config) { c.Chain = "" }, "chain"},
		{"unknown chain", func(c *Config) { c.Chain = "solana" }, "chain"},
		{"no rpc", func(c *Config) { c.RPCURL = "" }, "rpc_url"},
		{"bad rpc", func(c *Config) { c.RPCURL = "ftp://x.example.com/SECRETKEY" }, "rpc_url"},
		{"no from", func(c *Config) { c.From = "" }, "from"},
		{"no to", func(c *Config) { c.To = "" }, "to"},
		{"bad date", func(c *Config) { c.To = "2026-02-30" }, "to"},
		{"empty range", func(c *Config) { c.From, c.To = "20", "20" }, "to"},
		{"reversed dates", func(c *Config) { c.From, c.To = "2026-01-02", "2026-01-01" }, "to"},
		{"market of another chain", func(c *Config) { c.Market = "AaveV3Ethereum" }, "market"},
		{"bad pool", func(c *Config) { c.Pool = "0x12" }, "pool"},
		{"concurrency", func(c *Config) { c.Concurrency = 0 }, "concurrency"},
		{"progress", func(c *Config) { c.ProgressInterval = 0 }, "progress_interval"},
		{"clickhouse", func(c *Config) { c.ClickHouse.Addr = nil }, "clickhouse.addr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.key) || strings.Contains(err.Error(), "SECRETKEY") {
				t.Fatalf("err = %v; want an ErrConfig naming %s without the key", err, tc.key)
			}
		})
	}
	err := func() error { c := validConfig(); c.Chain = "solana"; return c.Validate() }()
	if !errors.Is(err, chains.ErrUnknownChain) || !strings.Contains(err.Error(), "polygon") {
		t.Fatalf("unknown chain error does not list the valid ones: %v", err)
	}
}
