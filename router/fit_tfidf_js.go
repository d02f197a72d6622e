//go:build !kefu_widget && js

package router

// fitTFIDF on js/wasm (the edge build; the widget's leaves fitting out) is
// fitTFIDFDirect: james-bowman/nlp, which the relay fits with, and the
// sparse and gonum packages it brings were ~72 KB of the Worker's gzipped
// bundle for a few loops over counts (docs/decisions.md, issue 17).
// TestFitTFIDFDirectMatchesNLP holds the two to the same result.
func fitTFIDF(docs []string) (*vocab, []vec, error) { return fitTFIDFDirect(docs) }
