package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/search"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// call sends an API request as p and decodes the answer into out.
func (p *person) call(method, path, body string, out any) (int, string) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.r.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", p.csrf)
	req.Header.Set("Origin", p.r.URL)
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, out); err != nil {
			p.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

func (p *person) search(query string) search.Result {
	p.t.Helper()
	var res search.Result
	code, body := p.call("GET", "/v1/agent/search?"+query, "", &res)
	if code == http.StatusServiceUnavailable {
		return search.Result{Total: -1} // still building
	}
	if code != 200 {
		p.t.Fatalf("search %s: %d %s", query, code, body)
	}
	return res
}

func (p *person) finds(query, conv string) bool {
	for _, c := range p.search(query).Conversations {
		if c.ConversationID == conv {
			return true
		}
	}
	return false
}

// One node, through the HTTP API and the agent socket: a visitor's words
// are found, an agent tags the conversation and every console hears of
// it, a tag finds it, and bad requests get clear errors.
func TestSearchAndTagsAPI(t *testing.T) {
	r := apptest.Start(t, func(c *config.Config) { c.AdminPassword = adminPassword })
	admin := signIn(t, r, "admin", adminPassword)
	con := admin.console()
	v := newVisitor(t, r)
	v.send("my parcel arrived with a squashed pumpernickel")
	eventually(t, "the visitor's words are found", func() bool { return admin.finds("q=pumpernick", v.conv) })
	// With the words it matched, in the message, apart. (No status here:
	// with the AI off the bot hands the conversation off and an agent may
	// take it at any moment after the message is stored.)
	if res := admin.search("q=squashed+pumpernick"); len(res.Conversations) != 1 || res.Conversations[0].Snippet == nil ||
		fmt.Sprint(res.Conversations[0].Snippet.Parts) != "[{my parcel arrived with a  false} {squashed true} {  false} {pumpernickel true}]" {
		t.Fatalf("snippet: %+v", res.Conversations)
	}
	if admin.finds("q=pumpernick&status=closed", v.conv) {
		t.Fatal("an open conversation found as closed")
	}

	mei := newAgent(t, r, "mei", 5)
	var tagged struct {
		Tags []string `json:"tags"`
	}
	if code, body := mei.call("POST", "/v1/agent/conversations/"+v.conv+"/tags", `{"add":["Damaged goods","vip"]}`, &tagged); code != 200 || !slices.Equal(tagged.Tags, []string{"damaged-goods", "vip"}) {
		t.Fatalf("tag: %d %s", code, body)
	}
	con.wait(func(m map[string]any) bool {
		tags, _ := m["tags"].([]any)
		return m["type"] == search.TypeTags && m["conversation_id"] == v.conv && len(tags) == 2 && m["by"] == mei.user.ID
	})
	if !admin.finds("tag=damaged-goods&q=parcel", v.conv) || admin.finds("tag=refund", v.conv) {
		t.Fatal("search by tag")
	}
	var inUse struct {
		Tags          []search.TagCount   `json:"tags"`
		Conversations map[string][]string `json:"conversations"`
	}
	if code, body := mei.call("GET", "/v1/agent/tags", "", &inUse); code != 200 || len(inUse.Tags) != 2 || !slices.Equal(inUse.Conversations[v.conv], []string{"damaged-goods", "vip"}) {
		t.Fatalf("tags in use: %d %s", code, body)
	}
	if code, body := admin.call("GET", "/v1/admin/conversations/export", "", nil); code != 200 || !strings.Contains(body, `"tags":["damaged-goods","vip"]`) {
		t.Fatalf("the JSON export has no tags: %d %s", code, body)
	}

	for _, tc := range []struct {
		method, path, body string
		code               int
		says               string
	}{
		{"GET", "/v1/agent/search?from=last-week", "", 400, "not a date"},
		{"GET", "/v1/agent/search?q=%3F%3F", "", 400, "no words"},
		{"GET", "/v1/agent/search?limit=5000", "", 400, "limit"},
		{"GET", "/v1/agent/search?sort=new", "", 400, "unknown parameter"},
		{"GET", "/v1/agent/search?status=pending", "", 400, "not one of open, bot, queued, agent, closed"},
		{"POST", "/v1/agent/conversations/" + v.conv + "/tags", `{"add":["<b>"]}`, 400, "a tag is"},
		{"POST", "/v1/agent/conversations/" + v.conv + "/tags", `{}`, 400, "add"},
		{"POST", "/v1/agent/conversations/" + v.conv + "/tags", `{"add":"vip"}`, 400, ""},
		{"POST", "/v1/agent/conversations/nosuchconversat/tags", `{"add":["vip"]}`, 404, "no such conversation"},
	} {
		code, body := mei.call(tc.method, tc.path, tc.body, nil)
		if code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s %s %s: %d %s; want %d saying %q", tc.method, tc.path, tc.body, code, body, tc.code, tc.says)
		}
	}
	// Signed out: nothing.
	resp, err := http.Get(r.URL + "/v1/agent/search?q=parcel")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("signed out: %s", resp.Status)
	}
	// Refused changes changed nothing.
	if tags, _ := store.ReadTags(r.Store, v.conv); !slices.Equal(tags, []string{"damaged-goods", "vip"}) {
		t.Fatalf("tags after refused changes: %q", tags)
	}
}

// In a cluster: words stored through one node are found on another, a tag
// set on one node reaches every node's index and consoles, and an erasure
// on one node removes the conversation from every node's index.
func searchAndTagsAcrossNodes(t *testing.T, n []*apptest.Relay, _ *openaitest.Server) {
	admin := signIn(t, n[0], "admin", adminPassword)
	on := []*person{admin, admin.on(n[1]), admin.on(n[2])}
	con := on[2].console()
	v := newVisitor(t, n[0])
	v.send("the quokka figurine arrived broken")
	for i := range n {
		eventually(t, "node finds words stored through node 0", func() bool { return on[i].finds("q=quokka", v.conv) })
	}
	// Taken on node 2 by an agent who never writes in it: every node
	// finds it by that agent and by its state, then closed, by that.
	con.send(fmt.Sprintf(`{"type":"take","conversation_id":%q}`, v.conv))
	for i := range n {
		eventually(t, "node finds it by the agent who took it and its state", func() bool {
			return on[i].finds("q=quokka&status=agent&agent="+admin.user.ID, v.conv)
		})
	}
	con.send(fmt.Sprintf(`{"type":"close","conversation_id":%q}`, v.conv))
	for i := range n {
		eventually(t, "node finds it closed", func() bool { return on[i].finds("q=quokka&status=closed", v.conv) })
		if on[i].finds("q=quokka&status=open", v.conv) {
			t.Fatalf("node %d: a closed conversation found as open", i)
		}
	}
	if code, body := on[1].call("POST", "/v1/agent/conversations/"+v.conv+"/tags", `{"add":["breakage"]}`, nil); code != 200 {
		t.Fatalf("tag on node 1: %d %s", code, body)
	}
	con.wait(func(m map[string]any) bool { return m["type"] == search.TypeTags && m["conversation_id"] == v.conv })
	for i, r := range n {
		eventually(t, "every node's index has the tag", func() bool { return slices.Equal(r.App.Search().Index().Tags(v.conv), []string{"breakage"}) })
		if !on[i].finds("tag=breakage", v.conv) {
			t.Fatalf("node %d: not found by its tag", i)
		}
	}
	conv, err := n[0].Store.Conversation(v.conv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := n[0].App.Privacy().Erase(ctx, []string{conv.VisitorID}, "test"); err != nil {
		t.Fatal(err)
	}
	for _, r := range n {
		// Looked at in the index itself: a search would also drop it
		// on sight, which would hide a node that missed the erasure.
		eventually(t, "every node's index drops the erased conversation", func() bool {
			hits, _ := r.App.Search().Index().Search(search.Query{Text: "quokka"}, 0, 10)
			return len(hits) == 0 && r.App.Search().Index().Tags(v.conv) == nil
		})
	}
}
