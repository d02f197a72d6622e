package visitor

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/metrics"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// With PollEvery, GET …/events delivers messages its hub never saw: here
// the store publishes to nobody, as when another Worker request stored
// them on the edge.
func TestEventsPollStoreForOtherRequests(t *testing.T) {
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{}) // no OnAppend: the hub hears nothing
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts := defaultOptions()
	opts.PollEvery = 20 * time.Millisecond
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))
	mux := http.NewServeMux()
	New(opts, st, hub.New(), log, metrics.New(), Hooks{}).HTTPRoutes(mux, func(h http.Handler) http.Handler { return h })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	resp, err := http.Post(srv.URL+"/v1/conversations", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Token          string `json:"token"`
		ConversationID string `json:"conversation_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&w)
	resp.Body.Close()
	if err != nil || w.Token == "" {
		t.Fatalf("start: %v %+v", err, w)
	}
	add := func(id, text string) {
		if _, err := st.Append(context.Background(), w.ConversationID, store.NewMessage{ClientID: id, From: "visitor", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	add("a", "seen before") // seq 1: the client already has it

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/conversations/"+w.ConversationID+"/events?after=1", nil)
	req.Header.Set("Authorization", "Bearer "+w.Token)
	ev, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Body.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		add("b", "from another request")
		add("c", "and another")
	}()
	var ids []string
	sc := bufio.NewScanner(ev.Body)
	for sc.Scan() && len(ids) < 2 {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			ids = append(ids, id)
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		t.Fatalf("read events: %v (got ids %v)", err, ids)
	}
	if strings.Join(ids, ",") != "2,3" {
		t.Errorf("event ids %v, want 2,3: the new messages, each once, nothing the client had", ids)
	}
}
