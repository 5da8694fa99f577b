package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sections are the top-level sections of liqstream.yaml, in the order the
// reference (deploy/config/README.md) documents them. Any other top-level
// key is an error.
var Sections = []string{"kafka", "clickhouse", "ingest", "chains", "aggregator"}

// File is a parsed liqstream.yaml. Each service decodes the sections it
// needs; ${VAR} references are expanded in a section when it is first
// decoded, so a service never needs the variables of sections it does not
// read. A nil *File is an empty file: every section is absent.
type File struct {
	name   string
	root   *yaml.Node // the top-level mapping; nil for an empty file
	lookup LookupFunc
	// expanded records the scalars already expanded, with the variables
	// each read (aliases share nodes: a node is expanded once).
	expanded map[*yaml.Node][]string
}

// Open reads and parses the file at path, expanding from the process
// environment.
func Open(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w (check the --config path)", err)
	}
	return Parse(path, b, os.LookupEnv)
}

// Parse parses b, named name in errors. lookup resolves ${VAR} (nil:
// os.LookupEnv). It fails on invalid YAML, more than one document, a
// top level that is not a mapping and an unknown top-level section.
func Parse(name string, b []byte, lookup LookupFunc) (*File, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	f := &File{name: name, lookup: lookup, expanded: map[*yaml.Node][]string{}}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // an empty file: every default
		}
		return nil, &Error{File: name, Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ") + " (fix the syntax at that line)"}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: name, Line: extra.Line, Problem: "holds more than one YAML document (---): put every section in one document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ") + " (fix the syntax at that line)"}
	}
	if len(doc.Content) == 0 {
		return f, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return f, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: root.Line, Problem: fmt.Sprintf("the top level must be a mapping of sections (%s), got %s", strings.Join(Sections, ", "), describe(root))}
	}
	var errs []error
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		switch {
		case k.Kind != yaml.ScalarNode:
			errs = append(errs, &Error{File: name, Line: k.Line, Problem: "a section name must be a plain key"})
		case seen[k.Value] > 0:
			errs = append(errs, &Error{File: name, Line: k.Line, Path: k.Value, Problem: fmt.Sprintf("section given twice (first on line %d): merge them", seen[k.Value])})
		case !contains(Sections, k.Value):
			hint := ""
			if s := closest(k.Value, Sections); s != "" {
				hint = fmt.Sprintf("did you mean %s? ", s)
			}
			errs = append(errs, &Error{File: name, Line: k.Line, Path: k.Value, Problem: fmt.Sprintf("unknown section: %sthe sections are %s", hint, strings.Join(Sections, ", "))})
		default:
			seen[k.Value] = k.Line
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	f.root = root
	return f, nil
}

// Name is the file's name as given to Open or Parse.
func (f *File) Name() string {
	if f == nil {
		return ""
	}
	return f.name
}

// node returns the node at a dotted path and whether it is there; a null
// value counts as absent.
func (f *File) node(path string) (*yaml.Node, error) {
	if f == nil || f.root == nil {
		return nil, nil
	}
	n := f.root
	walked := ""
	for _, key := range strings.Split(path, ".") {
		n = deref(n)
		if n.Kind != yaml.MappingNode {
			return nil, &Error{File: f.name, Line: n.Line, Path: walked, Problem: fmt.Sprintf("expected a mapping of keys (key: value), got %s", describe(n))}
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		walked = joinPath(walked, key)
		if next == nil {
			return nil, nil
		}
		n = next
	}
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	return n, nil
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

// Has reports whether the file sets the dotted path to a non-empty value.
func (f *File) Has(path string) bool {
	n, err := f.node(path)
	return err == nil && n != nil
}

// Keys returns the keys of the mapping at the dotted path, in file order,
// with their lines; nil if the path is absent. A key given twice is an
// error.
func (f *File) Keys(path string) ([]Key, error) {
	n, err := f.node(path)
	if err != nil || n == nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, &Error{File: f.name, Line: n.Line, Path: path, Problem: fmt.Sprintf("expected a mapping of keys (key: value), got %s", describe(n))}
	}
	var out []Key
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if first, dup := seen[k.Value]; dup {
			return nil, &Error{File: f.name, Line: k.Line, Path: joinPath(path, k.Value), Problem: fmt.Sprintf("key given twice (first on line %d): keep one", first)}
		}
		seen[k.Value] = k.Line
		out = append(out, Key{Name: k.Value, Line: k.Line})
	}
	return out, nil
}

// Key is a mapping key and its line.
type Key struct {
	Name string
	Line int
}

// Option adjusts one Decode.
type Option func(*decodeOpts)

type decodeOpts struct {
	reject map[string]string
	hint   string
}

// Reject makes key, directly under the decoded section, an error saying
// why (e.g. "the chain is the key under chains").
func Reject(key, why string) Option {
	return func(o *decodeOpts) {
		if o.reject == nil {
			o.reject = map[string]string{}
		}
		o.reject[key] = why
	}
}

// Hint is added to every unknown-key error of the section, e.g. to say
// where a key of another section belongs.
func Hint(hint string) Option { return func(o *decodeOpts) { o.hint = hint } }

// Decode decodes the section at the dotted path (e.g. "chains.polygon")
// over dst, a pointer to a struct that already holds defaults: keys absent
// from the file, or given no value, keep them. It first expands ${VAR}s in
// the section's values, then checks every key and value against dst's
// type, and returns every problem found (each an *Error naming the key path
// and line, joined) before changing dst. An absent section changes nothing.
func (f *File) Decode(path string, dst any, opts ...Option) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("configfile: Decode %s needs a non-nil pointer, got %T", path, dst)
	}
	var o decodeOpts
	for _, opt := range opts {
		opt(&o)
	}
	n, err := f.node(path)
	if err != nil || n == nil {
		return err
	}
	errs := f.expandTree(n, path)
	c := &checker{f: f, hint: o.hint}
	c.walk(n, rv.Type().Elem(), path, o.reject, 0)
	errs = append(errs, c.errs...)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := prune(n, 0).Decode(dst); err != nil {
		// The checks above catch what the decoder would; should it still
		// fail, its message is shown without the values it quotes.
		return &Error{File: f.name, Line: n.Line, Path: path, Problem: backquoted.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "`...`") + " (fix the value on that line)"}
	}
	return nil
}

var backquoted = regexp.MustCompile("`[^`]*`")

// prune copies n without the mapping entries whose value is null, so such
// keys keep their defaults; aliases are replaced by copies of their target.
func prune(n *yaml.Node, depth int) *yaml.Node {
	if depth > maxDepth {
		return n
	}
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		c := *n
		c.Content = nil
		for i := 0; i+1 < len(n.Content); i += 2 {
			v := deref(n.Content[i+1])
			if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
				continue
			}
			c.Content = append(c.Content, n.Content[i], prune(v, depth+1))
		}
		return &c
	case yaml.SequenceNode:
		c := *n
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, e := range n.Content {
			c.Content[i] = prune(e, depth+1)
		}
		return &c
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
