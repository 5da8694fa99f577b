package faults_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/chainsim/faults"
)

// TestRequestBodyLimit: the injector refuses a body over 8 MiB with 413
// instead of forwarding a truncated one.
func TestRequestBodyLimit(t *testing.T) {
	in, err := faults.New(faults.Config{}, polygon(t).Handler())
	if err != nil {
		t.Fatal(err)
	}
	call := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`
	big := call[:len(call)-1] + strings.Repeat(" ", 8<<20) + "}"
	if a := post(t, in, big); a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.body, "at most 8388608 bytes") {
		t.Fatalf("status %d body %q", a.status, a.body)
	}
	if a := post(t, in, call); a.status != http.StatusOK || !strings.Contains(a.body, `"result":"0x89"`) {
		t.Fatalf("status %d body %q", a.status, a.body)
	}
}
