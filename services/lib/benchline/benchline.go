// Package benchline prints benchmark results in the one format `make bench`
// shows for every harness: name, target, measured value and verdict. A smoke
// run (a harness exercised with tiny sizes in CI) prints "smoke" and checks
// no target.
package benchline

import "fmt"

// Reporter prints result lines and remembers whether a target was missed.
type Reporter struct {
	// Smoke marks a smoke run: verdicts are "smoke" and never fail.
	Smoke  bool
	failed bool
}

// Line prints one result line; pass says whether measured meets target.
func (r *Reporter) Line(name, target, measured string, pass bool) {
	verdict := "PASS"
	switch {
	case r.Smoke:
		verdict = "smoke"
	case !pass:
		verdict, r.failed = "FAIL", true
	}
	fmt.Printf("%-44s target %-22s measured %-34s %s\n", name, target, measured, verdict)
}

// Info prints an indented line of context under the last result.
func (r *Reporter) Info(name, measured string) {
	fmt.Printf("%-44s %-29s measured %s\n", "  "+name, "", measured)
}

// OK reports whether every target was met.
func (r *Reporter) OK() bool { return !r.failed }
