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
