// Package datadir tells what a data directory holds, so a node never
// starts on data of the other kind: a single node's bbolt file, or a
// cluster node's embedded JetStream files.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Kinds of data directory.
const (
	// Single is a single-node relay's: the bbolt file kefu.db.
	Single = "single"
	// Cluster is a cluster node's: embedded JetStream's files under NATSDir.
	Cluster = "cluster"
)

// BoltFile is the single node's database file (boltdb.FileName).
const BoltFile = "kefu.db"

// NATSDir is where an embedded cluster node keeps JetStream's files
// inside its data directory.
const NATSDir = "nats"

// ErrWrongKind means the directory holds the other kind of data.
var ErrWrongKind = errors.New("data directory holds the other kind of data")

// Check returns an error, saying what to do, when dir holds data of the
// other kind than want. An empty or missing directory suits either.
func Check(dir, want string) error {
	hasBolt := exists(filepath.Join(dir, BoltFile))
	hasNATS := exists(filepath.Join(dir, NATSDir))
	switch want {
	case Single:
		if hasNATS {
			return fmt.Errorf("%w: %s holds a cluster node's JetStream data (%s/); start kefu with the cluster flags, or choose another --data for a single node",
				ErrWrongKind, dir, NATSDir)
		}
	case Cluster:
		if hasBolt {
			return fmt.Errorf("%w: %s holds a single-node store (%s); a cluster node starts on an empty directory — move the data into the cluster with `kefu migrate --from %s --nats-url <cluster>`, then start the node with another --data",
				ErrWrongKind, dir, BoltFile, dir)
		}
	default:
		return fmt.Errorf("datadir: unknown kind %q", want)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
