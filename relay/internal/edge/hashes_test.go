package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/web"
	"github.com/kefuhq/kefu/widget"
)

func TestParseAssetHashes(t *testing.T) {
	got, err := ParseAssetHashes("widget.js=0123456789ab:15436,i18n/en.json=ba9876543210:2")
	if err != nil {
		t.Fatal(err)
	}
	if got["widget.js"] != (web.Precomputed{Hash: "0123456789ab", Size: 15436}) || got["i18n/en.json"] != (web.Precomputed{Hash: "ba9876543210", Size: 2}) || len(got) != 2 {
		t.Errorf("got %v", got)
	}
	if got, err := ParseAssetHashes(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
	for _, bad := range []string{"widget.js", "widget.js=abc", "widget.js=abc:x", "=abc:1", "widget.js=:1", "a=b:1,", "a=b:-1"} {
		if _, err := ParseAssetHashes(bad); err == nil || !strings.Contains(err.Error(), "name=hash:size") {
			t.Errorf("%q: got %v, want an error naming the format", bad, err)
		}
	}
}

// What edge/build.sh passes (sha256sum's first 12 hex digits and the size
// of each widget file) gives the assets hashing them here would.
func TestBuildTimeHashesMatch(t *testing.T) {
	var entries []string
	err := fs.WalkDir(widget.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(widget.FS, p)
		sum := sha256.Sum256(data)
		entries = append(entries, fmt.Sprintf("%s=%s:%d", p, hex.EncodeToString(sum[:])[:12], len(data)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	hashes, err := ParseAssetHashes(strings.Join(entries, ","))
	if err != nil {
		t.Fatal(err)
	}
	given, err := web.Load(web.Options{Hashes: hashes}, widget.FS)
	if err != nil {
		t.Fatal(err)
	}
	hashed, err := web.LoadAssetsUncompressed(widget.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range hashed.Names() {
		if g, h := given.URL(name), hashed.URL(name); g != h || g == "" {
			t.Errorf("%s: %q with build-time hashes, %q hashed here", name, g, h)
		}
	}
	if len(hashed.Names()) < 3 {
		t.Errorf("widget files: %v", hashed.Names())
	}
}
