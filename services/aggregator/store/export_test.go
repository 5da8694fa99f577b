package store

import "time"

// StagePrefix starts every staging table's name.
const StagePrefix = stagePrefix

// StageNameAt returns a staging table name as a recomputation that started
// at t would choose it.
func StageNameAt(t time.Time) string { return stageName(uint64(t.UnixNano()) * 2) }

// UseStageName makes every later recomputation of s stage its rows in the
// table name, as a retry after a cut-short fill does.
func UseStageName(s *Store, name string) { s.stageName = func(uint64) string { return name } }

// InsertChunkRows is how many rows a raw INSERT sends per block.
const InsertChunkRows = insertChunkRows

// FailAfterFirstBlock makes the next raw INSERT of s fail with err after
// sending its first block, as a connection lost midway would; later ones
// succeed.
func FailAfterFirstBlock(s *Store, err error) {
	s.blockSent = func(int) error {
		s.blockSent = nil
		return err
	}
}
