package storetest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FilesHolding walks root (a file or a directory) and returns, for each
// needle found in the raw bytes of any file, the files holding it: how a
// test proves erased data left the disk, not just the store's API.
func FilesHolding(t testing.TB, root string, needles ...string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	// A live server removes files as it goes (JetStream drops a message
	// block it compacted away): one gone between the listing and the read
	// holds nothing any more. CI: "open .../msgs/1.blk: no such file".
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path != root {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(data, []byte(n)) {
				out[n] = append(out[n], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", root, err)
	}
	return out
}
