package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://eth-mainnet.g.alchemy.com/v2/SECRETKEY", "https://eth-mainnet.g.alchemy.com/" + Redacted},
		{"https://mainnet.infura.io/v3/SECRETKEY", "https://mainnet.infura.io/" + Redacted},
		{"https://user:SECRETKEY@rpc.example.com", "https://rpc.example.com/" + Redacted},
		{"https://rpc.example.com/?apikey=SECRETKEY", "https://rpc.example.com/" + Redacted},
		{"https://rpc.example.com", "https://rpc.example.com"},
		{"http://127.0.0.1:8545/polygon", "http://127.0.0.1:8545/polygon"},
		{"http://127.0.0.1:8545/x?key=SECRETKEY", "http://127.0.0.1:8545/" + Redacted},
		{"http://127.0.0.1:8545/alchemy/polygon", "http://127.0.0.1:8545/alchemy/polygon"},
		{"http://localhost:8545/v2/0123456789abcdefSECRET", "http://localhost:8545/" + Redacted},
		{"http://[::1]:8545/rpc/SECRETKEY0123456789", "http://[::1]:8545/" + Redacted},
		{"not a url SECRETKEY", Redacted},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := RedactURL(tt.in); got != tt.want {
				t.Fatalf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	type cfg struct {
		URL      URL    `json:"url"`
		Password String `json:"password"`
	}
	c := cfg{URL: "https://eth.example.com/v2/SECRETKEY", Password: "SECRETKEY"}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("config", "url", c.URL, "password", c.Password, "cfg", c)
	j, _ := json.Marshal(c)
	out := buf.String() + string(j) + fmt.Sprintf("%v %+v %#v %s", c, c, c, c.URL)
	if strings.Contains(out, "SECRETKEY") {
		t.Fatalf("secret leaked: %s", out)
	}
	if c.URL.Reveal() != "https://eth.example.com/v2/SECRETKEY" || c.Password.Reveal() != "SECRETKEY" {
		t.Fatal("Reveal lost the value")
	}
}
