// Package cliargs checks what is left on a command line after its flags: the
// liqstream programs take flags only, and a stray word (aggregator migrate
// instead of --migrate, a value after a boolean flag) must stop the program
// with an error that says so, not be ignored while it starts with defaults.
package cliargs
