package configfile

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// checker walks a YAML subtree alongside the Go type it decodes into, and
// reports every unknown key and every value its field cannot hold, each
// with its key path and line.
type checker struct {
	f    *File
	errs []error
	// hint is appended to unknown-key errors.
	hint string
}

var (
	durationType        = reflect.TypeOf(time.Duration(0))
	unmarshalerType     = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	secretPkg           = "github.com/liqstream/liqstream/services/lib/secret"
)

func (c *checker) add(n *yaml.Node, path, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.f.name, Line: n.Line, Path: path, Problem: fmt.Sprintf(format, args...)})
}

// field is one YAML key of a struct.
type field struct {
	t reflect.Type
}

// structKeys lists the YAML keys of struct type t, following ,inline
// fields as yaml.v3 does. open is true when t takes any key (an ,inline map
// or an inlined custom unmarshaler).
func structKeys(t reflect.Type) (keys map[string]field, open bool) {
	keys = map[string]field{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.PkgPath != "" && !sf.Anonymous {
			continue
		}
		tag := sf.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(sf.Tag), ":") {
			tag = string(sf.Tag)
		}
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := sf.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map || reflect.PointerTo(ft).Implements(unmarshalerType) {
				open = true
				continue
			}
			sub, subOpen := structKeys(ft)
			for k, v := range sub {
				keys[k] = v
			}
			open = open || subOpen
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		keys[name] = field{t: sf.Type}
	}
	return keys, open
}

// walk checks n against type t. reject maps keys of this level to why they
// are not allowed (only at the section's root).
func (c *checker) walk(n *yaml.Node, t reflect.Type, path string, reject map[string]string, depth int) {
	if n == nil || depth > maxDepth {
		return
	}
	if n.Kind == yaml.AliasNode {
		c.walk(n.Alias, t, path, reject, depth+1)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value keeps the default
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t == durationType ||
		(n.Kind == yaml.ScalarNode && reflect.PointerTo(t).Implements(textUnmarshalerType)) {
		c.leaf(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.add(n, path, "expected a mapping of keys (key: value), got %s", describe(n))
			return
		}
		keys, open := structKeys(t)
		c.mapping(n, path, depth, func(k, v *yaml.Node) {
			p := joinPath(path, k.Value)
			if why, ok := reject[k.Value]; ok {
				c.add(k, p, "not allowed here: %s", why)
				return
			}
			fd, ok := keys[k.Value]
			if !ok {
				if !open {
					c.add(k, p, "unknown key%s", c.suggest(k.Value, keys))
				}
				return
			}
			c.walk(v, fd.t, p, nil, depth+1)
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(n, path, "expected a mapping of keys (key: value), got %s", describe(n))
			return
		}
		c.mapping(n, path, depth, func(k, v *yaml.Node) {
			c.walk(v, t.Elem(), joinPath(path, k.Value), nil, depth+1)
		})
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			c.add(n, path, "expected a list ([a, b] or one \"- item\" per line), got %s", describe(n))
			return
		}
		for i, e := range n.Content {
			c.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), nil, depth+1)
		}
	case reflect.Interface:
		// Any value fits.
	default:
		c.leaf(n, t, path)
	}
}

// mapping calls fn for every key and value of n, following << merge keys
// (whose keys the explicit ones override, so they are checked the same).
func (c *checker) mapping(n *yaml.Node, path string, depth int, fn func(k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 {
			c.merge(v, path, depth, fn)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.add(k, path, "a key must be a plain name, got %s", describe(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			c.add(k, joinPath(path, k.Value), "key given twice (first on line %d): keep one", line)
			continue
		}
		seen[k.Value] = k.Line
		fn(k, v)
	}
}

func (c *checker) merge(v *yaml.Node, path string, depth int, fn func(k, v *yaml.Node)) {
	if depth > maxDepth {
		return
	}
	switch v.Kind {
	case yaml.AliasNode:
		c.merge(v.Alias, path, depth+1, fn)
	case yaml.MappingNode:
		c.mapping(v, path, depth+1, fn)
	case yaml.SequenceNode:
		for _, e := range v.Content {
			c.merge(e, path, depth+1, fn)
		}
	default:
		c.add(v, path, "<< merges a mapping or an alias of one, got %s", describe(v))
	}
}

func (c *checker) suggest(key string, keys map[string]field) string {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	hint := c.hint
	if hint != "" {
		hint = "; " + hint
	}
	if s := closest(key, names); s != "" {
		return fmt.Sprintf(": did you mean %s?%s", s, hint)
	}
	if len(names) <= 12 {
		return fmt.Sprintf(" (keys here: %s)%s", strings.Join(names, ", "), hint)
	}
	return fmt.Sprintf(" (see deploy/config/README.md for the keys)%s", hint)
}

// leaf checks that scalar n decodes into a value of type t by decoding it
// into a scratch value.
func (c *checker) leaf(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		c.add(n, path, "expected a single value, got %s", describe(n))
		return
	}
	v := reflect.New(t)
	err := n.Decode(v.Interface())
	if err == nil {
		return
	}
	shown, revealed := c.shown(n, t)
	custom := reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)
	if custom && revealed {
		// The type's own message says what it accepts.
		c.add(n, path, "%s: %s", shown, strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	c.add(n, path, "%s is not %s", shown, want(t))
}

// shown is how an offending value appears in an error: quoted, unless it
// came from the environment or belongs to a secret field (revealed false).
func (c *checker) shown(n *yaml.Node, t reflect.Type) (s string, revealed bool) {
	if vars := c.f.expanded[n]; len(vars) > 0 {
		return "the value of ${" + strings.Join(vars, "}, ${") + "}", false
	}
	if t.PkgPath() == secretPkg {
		return "the value", false
	}
	v := n.Value
	if len(v) > 64 {
		v = v[:64] + "..."
	}
	return strconv.Quote(v), true
}

// want describes what a value of type t looks like.
func want(t reflect.Type) string {
	if t == durationType {
		return "a duration: a number with a unit, e.g. 250ms, 5s, 1m30s"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean: true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("a whole number (%s)", t.Kind())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a non-negative whole number (%s)", t.Kind())
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a valid " + t.String()
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a single value"
}

// KeyPaths lists the dotted key paths of every leaf value that the struct
// pointed to by v decodes, sorted: "kafka.brokers", "rpc_urls[]" (a list),
// "labels.*" (a map). Docs use it to check that they list every key.
func KeyPaths(v any) []string {
	var out []string
	var walk func(t reflect.Type, path string, depth int)
	walk = func(t reflect.Type, path string, depth int) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if depth > 16 || t == durationType || reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
			out = append(out, path)
			return
		}
		switch t.Kind() {
		case reflect.Struct:
			keys, _ := structKeys(t)
			for k, f := range keys {
				walk(f.t, joinPath(path, k), depth+1)
			}
		case reflect.Slice, reflect.Array:
			walk(t.Elem(), path+"[]", depth+1)
		case reflect.Map:
			walk(t.Elem(), joinPath(path, "*"), depth+1)
		default:
			out = append(out, path)
		}
	}
	walk(reflect.TypeOf(v), "", 0)
	sort.Strings(out)
	return out
}
