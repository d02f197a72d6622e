package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := func(files ...string) string {
		d := t.TempDir()
		for _, f := range files {
			if strings.HasSuffix(f, "/") {
				os.MkdirAll(filepath.Join(d, f), 0o700)
			} else {
				os.WriteFile(filepath.Join(d, f), []byte("x"), 0o600)
			}
		}
		return d
	}
	tests := []struct {
		name    string
		dir     string
		want    string
		wantErr string // "" for none
	}{
		{"empty suits a single node", dir(), Single, ""},
		{"empty suits a cluster node", dir(), Cluster, ""},
		{"missing suits either", filepath.Join(t.TempDir(), "new"), Cluster, ""},
		{"bbolt as a single node", dir(BoltFile), Single, ""},
		{"JetStream as a cluster node", dir(NATSDir + "/"), Cluster, ""},
		{"bbolt as a cluster node", dir(BoltFile), Cluster, "kefu migrate"},
		{"JetStream as a single node", dir(NATSDir + "/"), Single, "cluster flags"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.dir, tc.want)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrWrongKind) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Check = %v, want ErrWrongKind mentioning %q", err, tc.wantErr)
			}
		})
	}
}
