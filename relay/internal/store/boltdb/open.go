package boltdb

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// guard runs fn, turning a panic or a memory fault inside bbolt into an
// error wrapping store.ErrCorrupt. bbolt maps the file into memory and
// asserts on what it reads: a damaged page makes it panic, and a page
// number pointing past the end of a cut-short file faults. Only the
// calling goroutine is guarded, so everything that reads a file not yet
// known to be sound runs inside guard. what prefixes the error of a panic.
func guard(what string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w: %v", what, store.ErrCorrupt, r)
		}
	}()
	return fn()
}

// preflight looks at an existing database file before it is opened for
// writing: its header must be bbolt's and the file as long as the header
// says. It reads only the two meta pages, which bbolt validates with a
// checksum, so it cannot fault on damage further in.
func preflight(path string, lockTimeout time.Duration) error {
	cut, err := inspect(path, lockTimeout)
	if err != nil {
		return err
	}
	return cut
}

// inspect does preflight's work for the tools, which read on from a file
// cut short: cut says it is, err that the file cannot be read at all.
func inspect(path string, lockTimeout time.Duration) (cut, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0 {
		return nil, nil // a new database
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return nil, openError(path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error { return sizeCheck(path, fi.Size(), tx.Size()) }), nil
}

// sizeCheck compares the file's length with the length its header needs.
func sizeCheck(path string, have, want int64) error {
	if have < want {
		return fmt.Errorf("store: open %s: %w: the file is cut short (%d bytes, its header needs %d; an interrupted copy or restore?)", path, store.ErrCorrupt, have, want)
	}
	return nil
}

// openError explains why bbolt refused a file.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("store: open %s: %w", path, ErrLocked)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return fmt.Errorf("store: open %s: %w: not a kefu database, or its header is damaged (%v)", path, store.ErrCorrupt, err)
	case strings.Contains(err.Error(), "file size too small"): // bbolt has no sentinel for it
		return fmt.Errorf("store: open %s: %w: the file is cut short (%v)", path, store.ErrCorrupt, err)
	}
	return fmt.Errorf("store: open %s: %w", path, err)
}
