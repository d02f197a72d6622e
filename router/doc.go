// Package router decides what a visitor's message is about and who should
// answer it: a small TF-IDF intent model (fit with james-bowman/nlp,
// classified with plain Go so the browser build stays small) and the agent
// routing score. It does no I/O and builds for linux and js/wasm alike: the
// relay fits and serves the model, the widget's wasm loads and runs it.
package router
