package store

import "time"

// CompactStats is what one compaction of a store's file did (boltdb's
// Compact, which makes deleted records' bytes leave the file).
type CompactStats struct {
	BytesBefore int64         `json:"bytes_before"`
	BytesAfter  int64         `json:"bytes_after"`
	PagesWiped  int           `json:"pages_wiped"`
	Took        time.Duration `json:"took_ns"`
}
