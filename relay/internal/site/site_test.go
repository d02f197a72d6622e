package site

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/web"
)

// noSettings is a store with nothing saved.
type noSettings struct{}

func (noSettings) Setting(string, any) (bool, error)                     { return false, nil }
func (noSettings) PutSetting(context.Context, string, any) error         { return nil }
func (noSettings) SettingBytes(string) ([]byte, error)                   { return nil, nil }
func (noSettings) PutSettingBytes(context.Context, string, []byte) error { return nil }

func TestConfigTransportAndWasm(t *testing.T) {
	assets, err := web.LoadAssets(fstest.MapFS{
		"panel.js":          {Data: []byte("panel")},
		"wasm/kefu.wasm":    {Data: []byte("\x00asm embedded")},
		"wasm/wasm_exec.js": {Data: []byte("exec")},
	})
	if err != nil {
		t.Fatal(err)
	}
	embedded := assets.URL("wasm/kefu.wasm")
	tests := []struct {
		name     string
		opts     Options
		wantWS   any // JSON value of "ws"
		wantWasm string
		wantExec string
	}{
		{name: "relay", opts: Options{}, wantWS: "/v1/ws", wantWasm: embedded, wantExec: assets.URL("wasm/wasm_exec.js")},
		{name: "no socket", opts: Options{NoSocket: true}, wantWS: nil, wantWasm: embedded, wantExec: assets.URL("wasm/wasm_exec.js")},
		{
			name:   "wasm served elsewhere",
			opts:   Options{NoSocket: true, Wasm: &WasmFiles{Module: Asset{URL: "/assets/abc/wasm/kefu.wasm", Hash: "abc"}, Exec: "/assets/def/wasm/wasm_exec.js"}},
			wantWS: nil, wantWasm: "/assets/abc/wasm/kefu.wasm", wantExec: "/assets/def/wasm/wasm_exec.js",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(assets, noSettings{}, origin.NewPolicy(nil), func() string { return "" }, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			s.Routes(mux, func(h http.Handler) http.Handler { return h })
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/widget/config", nil))
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("config %q: %v", rec.Body, err)
			}
			ws, present := got["ws"]
			if !present || ws != tc.wantWS {
				t.Errorf("ws = %#v (present %v), want %#v", ws, present, tc.wantWS)
			}
			wasm, _ := got["wasm"].(map[string]any)
			if wasm["url"] != tc.wantWasm || got["wasm_exec"] != tc.wantExec {
				t.Errorf("wasm = %v, wasm_exec = %v; want %s, %s", wasm["url"], got["wasm_exec"], tc.wantWasm, tc.wantExec)
			}
		})
	}
}
