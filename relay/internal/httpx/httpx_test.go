package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/protocol"
)

func TestDecodeJSON(t *testing.T) {
	type req struct {
		Text string `json:"text"`
		N    int    `json:"n"`
	}
	tests := []struct {
		name, ctype, body string
		wantStatus        int
		wantCode          protocol.Code
	}{
		{"ok", "application/json", `{"text":"hi","n":2}`, 0, ""},
		{"charset ok", "application/json; charset=utf-8", `{"text":"hi"}`, 0, ""},
		{"wrong content type", "text/plain", `{"text":"hi"}`, 415, protocol.CodeBadFrame},
		{"unknown field", "application/json", `{"text":"hi","admin":true}`, 400, protocol.CodeUnknownField},
		{"wrong type", "application/json", `{"n":"two"}`, 400, protocol.CodeBadField},
		{"not json", "application/json", `{text:`, 400, protocol.CodeBadFrame},
		{"trailing", "application/json", `{"text":"a"} {}`, 400, protocol.CodeBadFrame},
		{"too big", "application/json", `{"text":"` + strings.Repeat("a", 200) + `"}`, 413, protocol.CodeFrameTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.ctype)
			w := httptest.NewRecorder()
			var v req
			err := DecodeJSON(w, r, 100, &v)
			if tt.wantStatus == 0 {
				if err != nil || v.Text != "hi" {
					t.Fatalf("err %v, v %+v", err, v)
				}
				return
			}
			if err == nil || w.Code != tt.wantStatus {
				t.Fatalf("err %v, status %d, want %d", err, w.Code, tt.wantStatus)
			}
			var b ErrorBody
			if json.Unmarshal(w.Body.Bytes(), &b); b.Error.Code != tt.wantCode || b.Error.Message == "" {
				t.Errorf("body %s, want code %s", w.Body, tt.wantCode)
			}
		})
	}
	_ = http.StatusOK
}

// Whatever a client posts, DecodeJSON either fills the target or answers
// with a JSON error carrying a code and a 4xx status; it never panics.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"text":"hi","n":2}`, `{"TEXT":"hi"}`, `{"text":"a","text":"b"}`, `{"n":1e99}`, `[]`, `{"text":"hi"} x`, "{\"text\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			Text string `json:"text"`
			N    int    `json:"n"`
		}
		r := httptest.NewRequest("POST", "/", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		if err := DecodeJSON(w, r, 1024, &v); err == nil {
			if w.Body.Len() != 0 {
				t.Fatalf("accepted and answered: %s", w.Body)
			}
			return
		}
		var b ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error.Code == "" || b.Error.Message == "" || w.Code < 400 || w.Code > 499 {
			t.Fatalf("refusal %d %s for %q", w.Code, w.Body, body)
		}
	})
}
