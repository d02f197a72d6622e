package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// SocketName is the control socket's file in the data directory. Only
// the relay's own user can open it (the directory is 0700, the socket
// 0600): whoever can, could read the database file anyway.
const SocketName = "kefu.sock"

// SocketPath is the control socket of the relay using dataDir.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// Control is the control socket a running relay serves in its data
// directory, for the operator's commands on the same host (kefu backup).
type Control struct {
	srv *http.Server
	ln  net.Listener
}

// ListenControl opens the control socket in dataDir, replacing a stale
// one: the caller holds the database lock, so no other relay uses it.
func ListenControl(dataDir string, db Backuper, log *slog.Logger) (*Control, error) {
	path := SocketPath(dataDir)
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("ops: control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ops: control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /backup", BackupHandler{DB: db, SpoolDir: dataDir, Log: log})
	return &Control{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// Serve answers on the socket until Close.
func (c *Control) Serve() error {
	if err := c.srv.Serve(c.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ops: control socket: %w", err)
	}
	return nil
}

// Close stops answering and removes the socket file.
func (c *Control) Close() error { return c.srv.Close() }

// ErrNoRelay means no relay answers on the data directory's control socket.
var ErrNoRelay = errors.New("no relay answers on the control socket")

// FetchBackup asks the relay using dataDir for a backup and writes it to w.
// It returns ErrNoRelay when no relay listens there (none runs, or it was
// killed and left its socket behind).
func FetchBackup(ctx context.Context, dataDir string, w io.Writer) (int64, error) {
	path := SocketPath(dataDir)
	if _, err := os.Stat(path); err != nil {
		return 0, ErrNoRelay
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://kefu/backup", nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			return 0, ErrNoRelay
		}
		return 0, fmt.Errorf("ops: backup from the relay: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("ops: backup from the relay: %s: %s", resp.Status, body)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if err != nil {
		return n, fmt.Errorf("ops: backup from the relay: %w", err)
	}
	return n, nil
}
