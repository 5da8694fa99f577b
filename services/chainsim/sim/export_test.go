package sim

import "bytes"

// ServeBoth answers body on a chain through the fast path (the server's own
// serve) and through the encoding/json path alone. fastRequests counts the
// requests the scanner claimed (0 when the whole body went the slow way).
func (s *Sim) ServeBoth(chainID uint64, body []byte) (fast, slow []byte, fastRequests int) {
	c := s.chains[chainID]
	trimmed := bytes.TrimSpace(body)
	sc := new(reqScanner)
	if _, ok := sc.scan(trimmed); ok {
		for _, r := range sc.reqs {
			if !r.slow {
				fastRequests++
			}
		}
	}
	return c.serve(body), c.serveSlow(trimmed), fastRequests
}

// ServeSlow answers body on a chain through the encoding/json path alone.
func (s *Sim) ServeSlow(chainID uint64, body []byte) []byte {
	return s.chains[chainID].serveSlow(bytes.TrimSpace(body))
}

// ServeBody answers body on a chain as the server does, without HTTP.
func (s *Sim) ServeBody(chainID uint64, body []byte) []byte {
	return s.chains[chainID].serve(body)
}

// OriginalBlockHash is block n's hash on the original branch, computed
// without the hash cache.
func (s *Sim) OriginalBlockHash(chainID, n uint64) [32]byte {
	return s.chains[chainID].hash.hash(n)
}

// RunCall runs a call of data to `to` at block n on a chain as eth_call
// does (ok=false: a revert with out as its data).
func (s *Sim) RunCall(chainID uint64, to [20]byte, data []byte, n uint64) (out []byte, ok bool) {
	c := s.chains[chainID]
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.run(to, data, n, 0)
}
