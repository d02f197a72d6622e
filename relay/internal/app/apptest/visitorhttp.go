package apptest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// VisitorPost sends POST path to the relay as a visitor's HTTP client
// does: body as JSON (no body when nil), token as the Bearer credential
// when set. It returns the answer's body; any status but 200 fails the
// test.
func (r *Relay) VisitorPost(t testing.TB, path, token string, body any) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest("POST", r.URL+path, rd)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s %s", path, resp.Status, out)
	}
	return out
}
