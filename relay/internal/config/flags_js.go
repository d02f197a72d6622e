//go:build js

package config

import (
	"errors"
	"io"
)

// parseFlags refuses arguments: the edge build (js/wasm) reads its options
// from the Worker's vars and secrets only, so it links no flag package
// (docs/decisions.md, issue 17).
func parseFlags(args []string, _ []option, _ io.Writer) (map[string]*string, map[string]bool, error) {
	if len(args) > 0 {
		return nil, nil, errors.New("config: this build reads its options from the environment, not from flags")
	}
	return nil, map[string]bool{}, nil
}
