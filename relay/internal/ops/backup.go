// Package ops holds the operator's tools that reach a running relay: the
// database backup served over HTTP (GET /v1/admin/backup) and over the
// control socket in the data directory (kefu backup), and the client
// side of that socket. What a backup is comes from the storage backend
// through the small Backuper interface, so another backend can serve the
// same tools.
package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Backuper writes a consistent copy of the database (boltdb.Store).
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// BackupHandler serves a database backup as a download.
type BackupHandler struct {
	DB Backuper
	// SpoolDir holds the copy while it is sent: the data directory, which
	// has room for the database by construction (a scratch image has no
	// /tmp).
	SpoolDir string
	Log      *slog.Logger
	Now      func() time.Time
}

// ServeHTTP copies the database into a spool file, then sends that file.
// The copy holds a read transaction only as long as writing a local file
// takes; a slow download then holds nothing (a long read transaction
// would make a commit that grows the file wait).
func (h BackupHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	start := now()
	f, err := os.CreateTemp(h.SpoolDir, ".kefu-backup-*")
	if err != nil {
		h.fail(w, "create the spool file", err)
		return
	}
	defer f.Close()
	// Gone from the directory at once: nothing is left behind by a crash.
	os.Remove(f.Name())
	n, err := h.DB.Backup(r.Context(), f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the client left
		}
		h.fail(w, "copy the database", err)
		return
	}
	name := "kefu-backup-" + start.UTC().Format("20060102T150405Z") + ".db"
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	hd.Set("Content-Length", strconv.FormatInt(n, 10))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	sent, err := io.Copy(w, f)
	if err != nil && r.Context().Err() == nil {
		h.Log.Warn("ops: backup download cut", "sent", sent, "of", n, "err", err)
		return
	}
	h.Log.Info("ops: backup sent", "bytes", n, "took", now().Sub(start).Round(time.Millisecond))
}

func (h BackupHandler) fail(w http.ResponseWriter, what string, err error) {
	h.Log.Error("ops: backup failed", "step", what, "err", err)
	msg := "the backup failed: " + what
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		msg += fmt.Sprintf(" (%v)", err)
	}
	httpx.Error(w, http.StatusInternalServerError, protocol.CodeStorage, msg)
}
