package configfile

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// LookupFunc returns an environment variable's value and whether it is set;
// os.LookupEnv is one. A set but empty variable counts as unset.
type LookupFunc func(name string) (string, bool)

// expandErr is an expansion problem; it never holds a value.
type expandErr struct {
	name    string // the variable, "" for a syntax error
	problem string
}

// expand replaces ${VAR} and ${VAR:-default} in s and turns $$ into $. A $
// followed by anything else stays as it is. ${VAR:-default} takes default
// when VAR is unset or empty; ${VAR} of an unset or empty variable is an
// error (an empty endpoint or password is a mistake; ${VAR:-} allows it).
// vars lists the variables read.
func expand(s string, lookup LookupFunc) (out string, vars []string, err *expandErr) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", vars, &expandErr{problem: "\"${\" has no closing \"}\": write ${NAME}, or $$ for a literal $"}
			}
			inner := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(inner, ":-")
			if !validVarName(name) {
				return "", vars, &expandErr{problem: fmt.Sprintf("${%s} is not a variable reference: a name is letters, digits and _, not starting with a digit (write $$ for a literal $)", name)}
			}
			if strings.Contains(def, "${") {
				return "", vars, &expandErr{name: name, problem: fmt.Sprintf("the default of ${%s:-...} holds another ${...}: nesting is not supported", name)}
			}
			vars = append(vars, name)
			v, ok := lookup(name)
			switch {
			case hasDef && v == "":
				v = def
			case !ok || v == "":
				return "", vars, &expandErr{name: name, problem: fmt.Sprintf("environment variable %s is not set (or empty): export it, or give a default with ${%s:-value}", name, name)}
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), vars, nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

// expandTree expands every scalar value under n (never a mapping key) once,
// and returns an *Error per problem. path names n.
func (f *File) expandTree(n *yaml.Node, path string) []error {
	var errs []error
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if n == nil || depth > maxDepth {
			return
		}
		switch n.Kind {
		case yaml.AliasNode:
			walk(n.Alias, path, depth+1)
		case yaml.DocumentNode, yaml.SequenceNode:
			for i, c := range n.Content {
				p := path
				if n.Kind == yaml.SequenceNode {
					p = fmt.Sprintf("%s[%d]", path, i)
				}
				walk(c, p, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := path
				if k.Value != "<<" {
					p = joinPath(path, k.Value)
				}
				walk(n.Content[i+1], p, depth+1)
			}
		case yaml.ScalarNode:
			if _, done := f.expanded[n]; done {
				return
			}
			v, vars, err := expand(n.Value, f.lookup)
			if err != nil {
				errs = append(errs, &Error{File: f.name, Line: n.Line, Path: path, Problem: err.problem})
				f.expanded[n] = nil
				return
			}
			f.expanded[n] = vars
			if v == n.Value {
				return
			}
			n.Value = v
			if n.Style&yaml.TaggedStyle != 0 {
				return // an explicit tag stays
			}
			// The value is typed by what it expanded to, so ${PORT} fills
			// an int; but never null: an empty or "null" variable stays a
			// string.
			n.Tag, n.Style = "", 0
			if n.ShortTag() == "!!null" {
				n.Tag, n.Style = "!!str", yaml.DoubleQuotedStyle
			}
		}
	}
	walk(n, path, 0)
	return errs
}

// maxDepth bounds walks over documents with alias cycles.
const maxDepth = 64
