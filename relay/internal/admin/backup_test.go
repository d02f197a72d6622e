package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// GET /v1/admin/backup downloads the whole database as a file, to admins
// only; the download opens as a sound database with what was stored.
func TestBackupDownload(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	agent := newAccount(t, r, "bob", store.RoleAgent)

	if res := anonymous(t, r).do("GET", "/v1/admin/backup", nil); res.status != 401 {
		t.Errorf("signed out: %d, want 401", res.status)
	}
	if res := agent.do("GET", "/v1/admin/backup", nil); res.status != 403 {
		t.Errorf("agent: %d, want 403", res.status)
	}
	res := admin.must(200, "GET", "/v1/admin/backup", nil)
	cd := res.header.Get("Content-Disposition")
	if !regexp.MustCompile(`^attachment; filename="kefu-backup-\d{8}T\d{6}Z\.db"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if n, _ := strconv.Atoi(res.header.Get("Content-Length")); n != len(res.body) || n == 0 {
		t.Errorf("Content-Length %s for %d bytes", res.header.Get("Content-Length"), len(res.body))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, boltdb.FileName), res.body, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := boltdb.CheckFile(context.Background(), filepath.Join(dir, boltdb.FileName), 0)
	if err != nil || !rep.OK() || rep.Records["accounts"] != 2 {
		t.Errorf("the download: %v %+v, want a sound database with both accounts", err, rep)
	}
	// Nothing is left in the data directory by the spool file.
	entries, _ := os.ReadDir(r.Config.DataDir)
	for _, e := range entries {
		if e.Name() != boltdb.FileName && e.Name() != "kefu.sock" && e.Name() != "secret.key" {
			t.Errorf("left in the data directory: %s", e.Name())
		}
	}
}
