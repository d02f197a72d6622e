package web

import (
	"bytes"
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadAssetsCompression(t *testing.T) {
	js := []byte(strings.Repeat("console.log('kefu');\n", 200))
	tree := fstest.MapFS{"panel.js": {Data: js}}
	tests := []struct {
		name     string
		load     func(...fs.FS) (*Assets, error)
		wantGzip bool
	}{
		{"relay: gzip form kept in memory", LoadAssets, true},
		{"edge: none, Cloudflare compresses", LoadAssetsUncompressed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.load(tree)
			if err != nil {
				t.Fatal(err)
			}
			as := a.Get("panel.js")
			if (as.Gzip != nil) != tc.wantGzip {
				t.Fatalf("gzip form present = %v, want %v", as.Gzip != nil, tc.wantGzip)
			}
			req := httptest.NewRequest("GET", "/assets/"+as.Hash+"/panel.js", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			a.Serve(rec, req, as)
			if gz := rec.Header().Get("Content-Encoding") == "gzip"; gz != tc.wantGzip {
				t.Errorf("served gzip = %v, want %v", gz, tc.wantGzip)
			}
			if !tc.wantGzip && !bytes.Equal(rec.Body.Bytes(), js) {
				t.Error("uncompressed body differs from the file")
			}
		})
	}
}
