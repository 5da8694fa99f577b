package configfile

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	type cfg struct {
		Chain string `yaml:"chain"`
		Batch int    `yaml:"batch"`
	}
	tests := []struct {
		name, in, wantErr string
		want              cfg
	}{
		{"overlay keeps defaults", "chain: polygon\n", "", cfg{"polygon", 100}},
		{"empty file", "", "", cfg{"ethereum", 100}},
		{"unknown key", "chian: polygon\n", "chian", cfg{}},
		{"bad type", "batch: many\n", "line 1", cfg{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg{"ethereum", 100}
			err := Decode("test.yaml", []byte(tt.in), &c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want mention of %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || c != tt.want {
				t.Fatalf("got %+v, %v; want %+v", c, err, tt.want)
			}
		})
	}
}
