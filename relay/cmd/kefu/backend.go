package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/kefuhq/kefu/relay/internal/datadir"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// storeTools is what the operator's commands ask of a storage backend for
// a data directory: check a database file, repair the directory, copy the
// database of a stopped relay. (A running relay is asked through its
// control socket, which serves any backend's ops.Backuper.) The bbolt
// backend provides them; a cluster node's data is JetStream's, and the
// cluster backend will offer its own.
type storeTools interface {
	// Check checks the database file at path.
	Check(ctx context.Context, path string) (store.CheckReport, error)
	// Repair sets damaged records aside so the relay can start.
	Repair(ctx context.Context, dataDir string) (store.RepairReport, error)
	// Backup copies the database of a data directory no relay holds.
	Backup(ctx context.Context, dataDir string, w io.Writer) (int64, error)
	// File is the database file of a data directory.
	File(dataDir string) string
}

// errClusterData means the data directory is a cluster node's.
var errClusterData = errors.New("holds a cluster node's JetStream data")

// toolsFor picks the backend's tools by what dataDir holds.
func toolsFor(dataDir string) (storeTools, error) {
	if err := datadir.Check(dataDir, datadir.Single); errors.Is(err, datadir.ErrWrongKind) {
		return nil, fmt.Errorf("%s %w: kefu check, repair and backup work on a single node's database; JetStream keeps and replicates a cluster's (docs/cluster.md)", dataDir, errClusterData)
	}
	return boltTools{}, nil
}

// boltTools are the bbolt backend's.
type boltTools struct{}

func (boltTools) Check(ctx context.Context, path string) (store.CheckReport, error) {
	return boltdb.CheckFile(ctx, path, lockWait)
}

func (boltTools) Repair(ctx context.Context, dataDir string) (store.RepairReport, error) {
	// The command's report lists what it did; no log lines besides.
	return boltdb.Repair(ctx, dataDir, boltdb.RepairOptions{LockTimeout: lockWait})
}

func (boltTools) Backup(ctx context.Context, dataDir string, w io.Writer) (int64, error) {
	return boltdb.BackupFile(ctx, filepath.Join(dataDir, boltdb.FileName), lockWait, w)
}

func (boltTools) File(dataDir string) string { return filepath.Join(dataDir, boltdb.FileName) }
