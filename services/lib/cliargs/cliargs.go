package cliargs

import (
	"flag"
	"fmt"
	"strings"
)

// None returns nil when fs, already parsed, has no arguments left, and
// otherwise an error naming them, with a hint when the first one is the name
// of a flag given without its dashes.
func None(fs *flag.FlagSet) error {
	if fs.NArg() == 0 {
		return nil
	}
	hint := ""
	if name, _, _ := strings.Cut(fs.Arg(0), "="); fs.Lookup(name) != nil {
		hint = fmt.Sprintf(": did you mean --%s?", fs.Arg(0))
	}
	return fmt.Errorf("unexpected argument %s%s (%s takes flags only; see %s -h)",
		quoteAll(fs.Args()), hint, fs.Name(), fs.Name())
}

func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}
