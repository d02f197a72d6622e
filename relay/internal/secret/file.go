package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultFile is the key file's name in the data directory.
const DefaultFile = "secret.key"

// LoadFile reads the key file at path: the key's text form (Parse) on one
// line.
func LoadFile(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret: read key file: %w", err)
	}
	k, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret: key file %s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreateFile reads the key file at path or, when there is none,
// creates it with a new key, readable by its owner only (0600). created
// says which. Two processes starting at once end up with the same key:
// the file appears whole or not at all, and only once.
func LoadOrCreateFile(path string) (k *Key, created bool, err error) {
	k, err = LoadFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, text := Generate()
	tmp, err := writeTemp(filepath.Dir(path), filepath.Base(path), text+"\n")
	if err != nil {
		return nil, false, fmt.Errorf("secret: create key file: %w", err)
	}
	defer os.Remove(tmp)
	// A hard link never replaces an existing file: whoever links first
	// wins, and everyone else reads what they wrote.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			k, err = LoadFile(path)
			return k, false, err
		}
		return nil, false, fmt.Errorf("secret: create key file: %w", err)
	}
	if err := syncFile(filepath.Dir(path)); err != nil {
		return nil, false, fmt.Errorf("secret: create key file: %w", err)
	}
	return k, true, nil
}

// writeTemp writes text to a new file of its own (mode 0600, as
// os.CreateTemp makes them) in dir, flushed to disk, and returns its path.
func writeTemp(dir, name, text string) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// syncFile flushes a file or directory to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
