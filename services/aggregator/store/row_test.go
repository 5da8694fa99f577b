package store

import (
	"errors"
	"testing"
	"time"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func validEvent() *liqstreamv1.LiquidationEvent {
	return &liqstreamv1.LiquidationEvent{
		ChainId: 1, Chain: "ethereum", EventId: "1:0xabc:3", TxHash: "0xabc", Revision: 1,
		Status:                     liqstreamv1.Status_STATUS_CONFIRMED,
		BlockTime:                  timestamppb.New(time.Date(2026, 2, 1, 13, 14, 15, 0, time.UTC)),
		DebtToCover:                "1000000",
		LiquidatedCollateralAmount: "500000000000000000",
		CollateralAsset:            &liqstreamv1.Asset{Decimals: 18},
		DebtAsset:                  &liqstreamv1.Asset{Decimals: 6},
		DebtUsd:                    "1.00000000", CollateralUsd: "1234.5",
	}
}

func TestNewRow(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*liqstreamv1.LiquidationEvent)
		field  string // "" means valid
	}{
		{"valid", func(*liqstreamv1.LiquidationEvent) {}, ""},
		{"unpriced", func(e *liqstreamv1.LiquidationEvent) { e.DebtUsd, e.CollateralUsd = "", "" }, ""},
		{"retracted without amounts", func(e *liqstreamv1.LiquidationEvent) {
			e.Status, e.DebtToCover, e.LiquidatedCollateralAmount = liqstreamv1.Status_STATUS_RETRACTED, "", ""
		}, ""},
		{"no event id", func(e *liqstreamv1.LiquidationEvent) { e.EventId = "" }, "event_id"},
		{"no chain", func(e *liqstreamv1.LiquidationEvent) { e.ChainId = 0 }, "chain_id"},
		{"no tx", func(e *liqstreamv1.LiquidationEvent) { e.TxHash = "" }, "tx_hash"},
		{"unspecified status", func(e *liqstreamv1.LiquidationEvent) { e.Status = 0 }, "status"},
		{"no block time", func(e *liqstreamv1.LiquidationEvent) { e.BlockTime = nil }, "block_time"},
		{"block time 2200", func(e *liqstreamv1.LiquidationEvent) {
			e.BlockTime = timestamppb.New(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
		}, "block_time"},
		{"negative amount", func(e *liqstreamv1.LiquidationEvent) { e.DebtToCover = "-1" }, "debt_to_cover"},
		{"hex amount", func(e *liqstreamv1.LiquidationEvent) { e.LiquidatedCollateralAmount = "0x10" }, "liquidated_collateral_amount"},
		{"amount above uint256", func(e *liqstreamv1.LiquidationEvent) {
			e.DebtToCover = "115792089237316195423570985008687907853269984665640564039457584007913129639936"
		}, "debt_to_cover"},
		{"empty confirmed amount", func(e *liqstreamv1.LiquidationEvent) { e.DebtToCover = "" }, "debt_to_cover"},
		{"usd with 9 decimals", func(e *liqstreamv1.LiquidationEvent) { e.DebtUsd = "1.000000001" }, "debt_usd"},
		{"negative usd", func(e *liqstreamv1.LiquidationEvent) { e.CollateralUsd = "-1" }, "collateral_usd"},
		{"usd beyond Decimal(38,8)", func(e *liqstreamv1.LiquidationEvent) { e.BonusUsd = "1000000000000000000000000000000" }, "bonus_usd"},
		{"bad price", func(e *liqstreamv1.LiquidationEvent) { e.DebtPrice = &liqstreamv1.Price{Usd: "abc"} }, "debt_price.usd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := validEvent()
			tt.mutate(ev)
			r, err := NewRow(ev, Coordinates{Topic: "t", Partition: 1, Offset: 2})
			if tt.field == "" {
				if err != nil {
					t.Fatalf("NewRow: %v", err)
				}
				return
			}
			var ie *InvalidEventError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidEvent) || ie.Field != tt.field {
				t.Fatalf("NewRow = %+v, %v; want InvalidEventError on %s", r, err, tt.field)
			}
		})
	}
}

func TestNewRowConverts(t *testing.T) {
	r, err := NewRow(validEvent(), Coordinates{})
	if err != nil {
		t.Fatal(err)
	}
	if r.collateralUSD.String() != "1234.50000000" || r.debtUSD.String() != "1.00000000" || r.debtAmount != 1 || r.collateralAmount != 0.5 {
		t.Errorf("converted %+v", r)
	}
	if r.Day() != time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("Day() = %s", r.Day())
	}
	ev := validEvent()
	ev.CollateralUsd = ""
	if r, _ = NewRow(ev, Coordinates{}); r.collateralUSD != (decimal8{}) || r.collateralPrice.valid {
		t.Errorf("unpriced collateral stored as %q / %v, want 0 and NULL price", r.collateralUSD, r.collateralPrice)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"no addr", func(c *Config) { c.Addr = nil }, false},
		{"empty addr", func(c *Config) { c.Addr = []string{""} }, false},
		{"bad database", func(c *Config) { c.Database = "x;y" }, false},
		{"zero dial timeout", func(c *Config) { c.DialTimeout = 0 }, false},
		{"zero query timeout", func(c *Config) { c.QueryTimeout = 0 }, false},
		{"zero attempts", func(c *Config) { c.MaxAttempts = 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			if err := c.Validate(); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
