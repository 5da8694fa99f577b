package chains

import (
	"errors"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	r := Default()
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"ethereum", 1, false},
		{"Polygon", 137, false},
		{"43114", 43114, false},
		{" arbitrum ", 42161, false},
		{"8453", 8453, false},
		{"solana", 0, true},
		{"999999", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := r.Lookup(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownChain) {
					t.Fatalf("Lookup(%q) err = %v, want ErrUnknownChain", tt.in, err)
				}
				if !strings.Contains(err.Error(), "ethereum") || !strings.Contains(err.Error(), "polygon") {
					t.Fatalf("error does not list valid chains: %v", err)
				}
				return
			}
			if err != nil || c.ID != tt.want {
				t.Fatalf("Lookup(%q) = %v, %v; want id %d", tt.in, c.ID, err, tt.want)
			}
		})
	}
}

func TestPrimaryV3Market(t *testing.T) {
	r := Default()
	want := map[string]string{
		"ethereum":  "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2",
		"polygon":   "0x794a61358d6845594f94dc1db02a252b5b4814ad",
		"avalanche": "0x794a61358d6845594f94dc1db02a252b5b4814ad",
		"arbitrum":  "0x794a61358d6845594f94dc1db02a252b5b4814ad",
		"base":      "0xa238dd80c259a72e81d7e4664a9801593f98d1c5",
	}
	for _, slug := range DemoChains {
		c, err := r.Lookup(slug)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := r.PrimaryV3Market(c.ID)
		if !ok || m.Pool != want[slug] || m.Oracle == "" || m.Protocol != "aave-v3" {
			t.Errorf("%s: market %+v", slug, m)
		}
	}
	if m, _ := r.PrimaryV3Market(1); m.Name != "AaveV3Ethereum" {
		t.Errorf("ethereum primary market = %s", m.Name)
	}
}
