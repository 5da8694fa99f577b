package price

import "encoding/binary"

// Forget drops the cached prices and reserve configurations of blocks at or
// above from. Both caches are keyed by block number, so after a reorg the
// entries of orphaned blocks would answer for the canonical blocks of the
// same numbers, whose state (an oracle update in the new branch) may differ;
// ingest calls Forget with the first reorged block before re-reading them.
func (p *Pricer) Forget(from uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.prices {
		if binary.BigEndian.Uint64([]byte(k[:8])) >= from {
			delete(p.prices, k)
		}
	}
	for k := range p.reserves {
		if binary.BigEndian.Uint64([]byte(k[:8])) >= from {
			delete(p.reserves, k)
		}
	}
}
