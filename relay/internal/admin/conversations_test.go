package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

type convItem struct {
	ID, Status, Handler, Intent, Preview, Match string
	AgentID                                     string `json:"agent_id"`
	AgentName                                   string `json:"agent_name"`
	Traits                                      map[string]string
	LastSeq                                     int `json:"last_seq"`
}

type convList struct {
	Conversations []convItem
	Total         int
}

func ids(l convList) []string {
	var out []string
	for _, c := range l.Conversations {
		out = append(out, c.ID)
	}
	return out
}

func TestConversationsListFiltersAndTranscript(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	ctx := context.Background()

	faq := newVisitor(t, r)
	faq.send(t, "how long does shipping take?")
	waitFor(t, "the FAQ answer", func() bool { return conversation(t, r, faq.conv).LastSeq == 2 })
	time.Sleep(2 * time.Millisecond) // distinct updated_at, so the order below is defined
	person := newVisitor(t, r)
	person.send(t, "I want to talk to a person")
	waitFor(t, "the hand-off", func() bool { return conversation(t, r, person.conv).Handler == store.HandlerQueue })
	time.Sleep(2 * time.Millisecond)
	other := newVisitor(t, r)
	if err := other.c.WriteRaw(ctx, []byte(`{"type":"identify","traits":{"name":"Ann <b>Lee</b>","plan":"pro"}}`)); err != nil {
		t.Fatal(err)
	}
	other.send(t, "Purple ELEPHANTS are dancing on my order")
	// The AI is off, so the question goes to the queue.
	waitFor(t, "the second hand-off", func() bool { return conversation(t, r, other.conv).Handler == store.HandlerQueue })
	newVisitor(t, r) // opened the chat, wrote nothing: not listed

	// Mei (one chat at a time) gets the oldest queued chat; the other waits.
	mei := newAccount(t, r, "mei", store.RoleAgent)
	if _, err := r.Store.UpdateAccount(ctx, mei.user.ID, func(a *store.Account) error { a.Capacity = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	acct, _ := r.Store.Account(mei.user.ID)
	r.App.Router().Upsert(ctx, acct)
	mei.agentSocket()
	waitFor(t, "the person's chat assigned", func() bool { return conversation(t, r, person.conv).AgentID == mei.user.ID })
	if err := r.App.Router().Close(ctx, faq.conv, acct); err != nil {
		t.Fatal(err)
	}

	var all convList
	admin.must(200, "GET", "/v1/admin/conversations", nil).decode(&all)
	if all.Total != 3 || len(all.Conversations) != 3 {
		t.Fatalf("listed %d (total %d), want 3", len(all.Conversations), all.Total)
	}
	// Newest activity first: the FAQ chat was just closed, Mei's got her "joined" message.
	if got := ids(all); got[0] != faq.conv {
		t.Errorf("order %v", got)
	}
	for _, c := range all.Conversations {
		if c.ID == other.conv && (c.Traits["name"] != "Ann <b>Lee</b>" || c.Handler != "queue") {
			t.Errorf("listed %+v", c)
		}
		if c.ID == person.conv && (c.AgentName != "Mei" || c.Handler != "agent") {
			t.Errorf("listed %+v", c)
		}
	}

	tests := []struct {
		name, query string
		want        []string
	}{
		{"closed", "status=closed", []string{faq.conv}},
		{"open", "status=open&handler=queue", []string{other.conv}},
		{"by agent", "agent=" + mei.user.ID, []string{person.conv}},
		{"by intent", "intent=shipping", []string{faq.conv}},
		{"text in any case", "q=elephants", []string{other.conv}},
		{"text in a bot answer", "q=business%20day", []string{faq.conv}},
		{"text and status", "q=shipping&status=open", nil},
		{"nothing matches", "q=zebra", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin.t = t
			var l convList
			admin.must(200, "GET", "/v1/admin/conversations?"+tt.query, nil).decode(&l)
			if got := ids(l); strings.Join(got, ",") != strings.Join(tt.want, ",") || l.Total != len(tt.want) {
				t.Errorf("got %v (total %d), want %v", got, l.Total, tt.want)
			}
		})
	}
	admin.t = t
	var found convList
	admin.must(200, "GET", "/v1/admin/conversations?q=ELEPHANTS", nil).decode(&found)
	if len(found.Conversations) != 1 || found.Conversations[0].Match != "Purple ELEPHANTS are dancing on my order" {
		t.Errorf("search match %+v", found.Conversations)
	}

	var page convList
	admin.must(200, "GET", "/v1/admin/conversations?limit=1&offset=1", nil).decode(&page)
	if page.Total != 3 || len(page.Conversations) != 1 || page.Conversations[0].ID != all.Conversations[1].ID {
		t.Errorf("page 2 of 1: %+v", page)
	}
	admin.must(200, "GET", "/v1/admin/conversations?offset=10", nil).decode(&page)
	if page.Total != 3 || len(page.Conversations) != 0 {
		t.Errorf("past the end: %+v", page)
	}
	for _, q := range []string{"status=maybe", "handler=ai", "limit=0", "limit=201", "offset=-1", "limit=x", "q=" + strings.Repeat("a", 201)} {
		if res := admin.do("GET", "/v1/admin/conversations?"+q, nil); res.status != 400 || res.code() != "bad_field" {
			t.Errorf("?%s: %d %s", q, res.status, res.body)
		}
	}

	var one struct {
		Conversation convItem
		Visitor      struct {
			ID     string
			Traits map[string]string
		}
		Messages []struct {
			Seq                     int
			From, Author, Text, Via string
			Intent                  string
			TS                      int64
		}
	}
	admin.must(200, "GET", "/v1/admin/conversations/"+faq.conv, nil).decode(&one)
	var got []string
	for i, m := range one.Messages {
		if m.Seq != i+1 || m.TS == 0 {
			t.Errorf("message %d: %+v", i, m)
		}
		got = append(got, m.From+"/"+m.Via+"/"+m.Intent)
	}
	if strings.Join(got, " ") != "visitor// bot/relay/shipping system//" || one.Conversation.Status != "closed" {
		t.Errorf("transcript %v, status %s", got, one.Conversation.Status)
	}
	admin.must(200, "GET", "/v1/admin/conversations/"+other.conv, nil).decode(&one)
	if one.Visitor.Traits["plan"] != "pro" || one.Visitor.ID == "" || one.Messages[0].Text != "Purple ELEPHANTS are dancing on my order" {
		t.Errorf("visitor %+v, first message %+v", one.Visitor, one.Messages[0])
	}
	if res := admin.do("GET", "/v1/admin/conversations/nope", nil); res.status != 404 || res.code() != "not_found" {
		t.Errorf("unknown conversation: %d %s", res.status, res.body)
	}
}
