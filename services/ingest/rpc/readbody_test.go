package rpc

import (
	"errors"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		contentLength int64
		max           int64
		want          string
		wantErr       string
	}{
		{"content length", `{"id":1}`, 8, 100, `{"id":1}`, ""},
		{"no content length", `{"id":1}`, -1, 100, `{"id":1}`, ""},
		{"content length over the limit", `{"id":1}`, 8, 4, "", "rpc_max_response_bytes"},
		{"stream over the limit", `{"id":1}`, -1, 4, "", "rpc_max_response_bytes"},
		{"body shorter than its content length", `{"id"`, 8, 100, "", "unexpected EOF"},
		{"empty", ``, 0, 100, ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(tt.body), tt.contentLength, tt.max, "eth_getLogs")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	var le *LimitError
	if _, err := readBody(strings.NewReader("12345"), -1, 4, "eth_call"); !errors.As(err, &le) {
		t.Fatalf("%v is not a *LimitError", err)
	}
}
