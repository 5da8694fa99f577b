package check

import (
	"fmt"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/configfile"
)

// checkConfigFile checks a shared liqstream.yaml as `liqstream config check`
// does: the aggregator's view and every chain's ingest view are built as the
// services build them and validated. lookup resolves ${VAR}s.
func checkConfigFile(name string, data []byte, lookup configfile.LookupFunc) []error {
	f, err := configfile.Parse(name, data, lookup)
	if err != nil {
		return []error{err}
	}
	var errs []error
	agg, err := aggregator.FromFile(f)
	if err == nil {
		err = agg.Validate()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("aggregator: %w", err))
	}
	slugs, err := ingest.FileChains(f)
	if err != nil {
		errs = append(errs, err)
	}
	for _, slug := range slugs {
		cfg, err := ingest.FromFile(f, slug)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("chains.%s: %w", slug, err))
		}
	}
	return errs
}
