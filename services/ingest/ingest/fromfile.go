package ingest

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/configfile"
)

// perChain are the keys of Config that only make sense for one chain: the
// ingest section (shared by every chain) rejects them.
var perChain = []string{"rpc_url", "rpc_urls", "market", "markets"}

// kafkaSectionHint is added to unknown-key errors of the top-level kafka
// section (the aggregator uses the same words).
const kafkaSectionHint = "the top-level kafka section holds only the connection (brokers, tls, sasl); service settings go under ingest.kafka or aggregator.kafka"

// FromFile builds the config of chain (a slug or chain id) from the shared
// liqstream.yaml, in order of precedence:
//
//	DefaultConfig() < kafka (connection) < ingest (every chain) < chains.<slug>
//
// Flags go over the result; validating it is the caller's (Validate). A nil
// f gives the defaults for chain. It returns every problem found, joined.
func FromFile(f *configfile.File, chain string) (Config, error) {
	cfg := DefaultConfig()
	ch, err := chains.Default().Lookup(chain)
	if err != nil {
		return cfg, fmt.Errorf("%w: chain: %w", ErrConfig, err)
	}
	cfg.Chain = ch.Slug
	if f == nil {
		return cfg, nil
	}
	keys, err := f.Keys("chains")
	if err != nil {
		return cfg, err
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	if !slices.Contains(names, ch.Slug) {
		have := "no chains"
		if len(names) > 0 {
			have = strings.Join(names, ", ")
		}
		return cfg, &configfile.Error{File: f.Name(), Path: "chains." + ch.Slug,
			Problem: fmt.Sprintf("missing: the file configures %s; add a chains.%s section with its rpc_urls", have, ch.Slug)}
	}
	rejectChain := configfile.Reject("chain", "the key under chains names the chain; remove this key")
	ingestOpts := []configfile.Option{rejectChain}
	for _, k := range perChain {
		ingestOpts = append(ingestOpts, configfile.Reject(k, "it is per chain: set it under chains.<chain>"))
	}
	return cfg, errors.Join(
		f.Decode("kafka", &cfg.Kafka.Conn, configfile.Hint(kafkaSectionHint)),
		f.Decode("ingest", &cfg, ingestOpts...),
		f.Decode("chains."+ch.Slug, &cfg, rejectChain),
	)
}

// FileChains returns the chains configured under chains in f, in file
// order. Each key must be a chain slug from lib/chains.
func FileChains(f *configfile.File) ([]string, error) {
	keys, err := f.Keys("chains")
	if err != nil {
		return nil, err
	}
	reg := chains.Default()
	var out []string
	var errs []error
	for _, k := range keys {
		ch, err := reg.Lookup(k.Name)
		switch {
		case err != nil:
			hint := ""
			if s := closestSlug(k.Name, reg.Slugs()); s != "" {
				hint = "did you mean " + s + "? "
			}
			errs = append(errs, &configfile.Error{File: f.Name(), Line: k.Line, Path: "chains." + k.Name,
				Problem: fmt.Sprintf("unknown chain: %sthe chains are %s", hint, strings.Join(reg.Slugs(), ", "))})
		case ch.Slug != k.Name:
			errs = append(errs, &configfile.Error{File: f.Name(), Line: k.Line, Path: "chains." + k.Name,
				Problem: fmt.Sprintf("key chains by slug: write %s", ch.Slug)})
		default:
			out = append(out, ch.Slug)
		}
	}
	return out, errors.Join(errs...)
}

// closestSlug returns the slug sharing the longest prefix (3 letters or
// more) with s, for a did-you-mean.
func closestSlug(s string, slugs []string) string {
	s = strings.ToLower(s)
	best, bestN := "", 2
	for _, slug := range slugs {
		n := 0
		for n < len(s) && n < len(slug) && s[n] == slug[n] {
			n++
		}
		if n > bestN {
			best, bestN = slug, n
		}
	}
	return best
}
