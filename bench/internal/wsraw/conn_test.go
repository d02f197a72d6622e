package wsraw

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// echo is a coder/websocket server that echoes text frames and pings once.
func echo(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "s=1" {
			http.Error(w, "no cookie", http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		c.SetReadLimit(1 << 20)
		pinged := false
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if !pinged {
				pinged = true
				// The ping needs our reader running, as in the relay.
				go c.Ping(ctx)
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws://" + strings.TrimPrefix(srv.URL, "http://") + "/ws"
}

func TestEchoSizes(t *testing.T) {
	url := echo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, nil, url, http.Header{"Cookie": {"s=1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{0, 1, 125, 126, 200, 65535, 65536, 300000} {
		want := bytes.Repeat([]byte("x"), n)
		if err := c.Write(want); err != nil {
			t.Fatalf("write %d: %v", n, err)
		}
		got, err := c.Read()
		if err != nil {
			t.Fatalf("read %d: %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("echo of %d bytes came back as %d bytes", n, len(got))
		}
	}
}

func TestRefusedUpgrade(t *testing.T) {
	url := echo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, nil, url, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Fatalf("got %v, want an HTTP 401 error", err)
	}
}
