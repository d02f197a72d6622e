//go:build js

package ai

import (
	"context"
	"io"
)

// openStream on js/wasm (the edge) sends req itself (sendChat, wire.go):
// importing go-openai would run its package init on every start of a Go
// instance in the Worker.
func openStream(ctx context.Context, d doer, baseURL string, req chatRequest) (io.Closer, error) {
	return sendChat(ctx, d, baseURL, req)
}
