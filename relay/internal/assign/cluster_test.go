package assign

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/protocol"
)

// splitBrain is what two nodes that both believe they hold the router's
// lease see (a frozen holder waking up before it notices it lost it): both
// route, and their announcements are lost. It stands in for the bus only to
// make that moment happen on purpose; the store and routers are real.
type splitBrain struct{ id string }

func (p splitBrain) Publish(string, any) {}
func (p splitBrain) ID() string          { return p.id }
func (p splitBrain) Routing() bool       { return true }

// routingStore opens a real store with the default intents, closed when
// the test ends.
func routingStore(t *testing.T) (*boltdb.Store, *intents.Service, *slog.Logger) {
	t.Helper()
	st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	in, err := intents.Open(context.Background(), st, log, false)
	if err != nil {
		t.Fatal(err)
	}
	return st, in, log
}

// handedOff stores n visitors' conversations, each handed to the queue.
func handedOff(t *testing.T, st *boltdb.Store, n int) []store.Conversation {
	t.Helper()
	ctx := context.Background()
	var convs []store.Conversation
	for i := range n {
		_, c, err := st.CreateVisitor(ctx, []byte(fmt.Sprint("token", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		if c, err = st.UpdateConversation(ctx, c.ID, store.HandOff); err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c)
	}
	return convs
}

// Two routers draining one queue at once never give a conversation twice:
// the assignment is a compare-and-set on the conversation record.
func TestTwoRoutersNeverAssignOneConversationTwice(t *testing.T) {
	st, in, log := routingStore(t)
	ctx := context.Background()
	var agents []store.Account
	for _, name := range []string{"mei", "bo"} {
		a := store.Account{ID: store.NewID(), Username: name, Name: name, Role: store.RoleAgent, Capacity: 100, CreatedAt: time.Now()}
		if err := st.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
	}
	routers := make([]*Router, 2)
	for i := range routers {
		routers[i] = New(st, hub.New(), in, log, nil, time.Minute, nil, splitBrain{id: fmt.Sprint("n", i)})
		if err := routers[i].Load(); err != nil {
			t.Fatal(err)
		}
		// Each sees a different agent online, so a conversation routed by
		// both would go to two people.
		routers[i].Connected(ctx, agents[i], protocol.StatusOnline)
	}
	const n = 40
	convs := handedOff(t, st, n)
	var wg sync.WaitGroup
	for _, r := range routers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range convs {
				r.Queued(ctx, c, "help", "")
			}
		}()
	}
	wg.Wait()
	for _, c := range convs {
		got, err := st.Conversation(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := st.Messages(c.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		joined := 0
		for _, m := range msgs {
			if m.From == protocol.FromSystem && strings.Contains(m.Text, "joined") {
				joined++
				if m.AuthorID != got.AgentID {
					t.Errorf("conversation %s: the joined line names %q, the agent is %q", c.ID, m.AuthorID, got.AgentID)
				}
			}
		}
		if got.Handler != store.HandlerAgent || joined != 1 {
			t.Errorf("conversation %s: handler %s, %d joins; want one assignment", c.ID, got.Handler, joined)
		}
	}
	// Each router's view may lag (announcements were lost), but the one
	// that rereads the store counts every assignment once.
	routers[0].Reconcile(ctx)
	sum := 0
	for _, a := range routers[0].Agents() {
		sum += a.Load
	}
	if sum != n {
		t.Errorf("after a reread, loads add up to %d, want %d", sum, n)
	}
}

// Routing passes started at once (conversations queued by many visitors,
// an agent signing in) never give an agent more than their capacity. The
// race is narrow, so the scene is played several times.
func TestConcurrentRoutingKeepsCapacity(t *testing.T) {
	const capacity, rounds = 2, 15
	for round := range rounds {
		if got := routeAtOnce(t, capacity, 12); got != capacity {
			t.Fatalf("round %d: an agent with capacity %d was given %d open conversations by concurrent routing passes", round, capacity, got)
		}
	}
}

// routeAtOnce queues n conversations from n goroutines with one agent of
// the given capacity online, and returns how many the agent got.
func routeAtOnce(t *testing.T, capacity, n int) int {
	t.Helper()
	st, in, log := routingStore(t)
	ctx := context.Background()
	a := store.Account{ID: store.NewID(), Username: "mei", Name: "Mei", Role: store.RoleAgent, Capacity: capacity, CreatedAt: time.Now()}
	if err := st.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	r := New(st, hub.New(), in, log, nil, time.Minute, nil, nil)
	if err := r.Load(); err != nil {
		t.Fatal(err)
	}
	r.Connected(ctx, a, protocol.StatusOnline)
	convs := handedOff(t, st, n)
	var wg sync.WaitGroup
	for _, c := range convs {
		wg.Add(1)
		go func() { defer wg.Done(); r.Queued(ctx, c, "help", "") }()
	}
	wg.Wait()
	got, err := st.Conversations(func(c *store.Conversation) bool { return c.AgentID == a.ID && c.Status != store.StatusClosed })
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}
