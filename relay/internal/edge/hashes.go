package edge

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/web"
)

// ParseAssetHashes reads the widget files' hashes as edge/build.sh writes
// them: "name=hash:size" entries separated by commas ("" is none).
func ParseAssetHashes(s string) (map[string]web.Precomputed, error) {
	out := map[string]web.Precomputed{}
	if s == "" {
		return out, nil
	}
	for _, e := range strings.Split(s, ",") {
		name, rest, ok1 := strings.Cut(e, "=")
		hash, size, ok2 := strings.Cut(rest, ":")
		n, err := strconv.Atoi(size)
		if !ok1 || !ok2 || name == "" || hash == "" || err != nil || n < 0 {
			return nil, fmt.Errorf("edge: asset hash %q: want name=hash:size", e)
		}
		out[name] = web.Precomputed{Hash: hash, Size: n}
	}
	return out, nil
}
