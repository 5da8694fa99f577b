package cliargs

import (
	"flag"
	"io"
	"testing"
)

func TestNone(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // "" for nil
	}{
		{[]string{"--migrate"}, ""},
		{nil, ""},
		{[]string{"migrate"}, `unexpected argument "migrate": did you mean --migrate? (aggregator takes flags only; see aggregator -h)`},
		{[]string{"database=x"}, `unexpected argument "database=x": did you mean --database=x? (aggregator takes flags only; see aggregator -h)`},
		{[]string{"--migrate", "now", "please"}, `unexpected argument "now" "please" (aggregator takes flags only; see aggregator -h)`},
		{[]string{"--", "-x"}, `unexpected argument "-x" (aggregator takes flags only; see aggregator -h)`},
	} {
		fs := flag.NewFlagSet("aggregator", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Bool("migrate", false, "")
		fs.String("database", "", "")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		err := None(fs)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("None after %q = %q, want %q", tt.args, got, tt.want)
		}
	}
}
