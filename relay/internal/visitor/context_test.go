package visitor

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// A visitor's context: the browser and OS derived from the User-Agent
// (the header itself not kept), locale, time zone and the referrer of the
// landing from hello, the page of each message without its query and
// fragment; a referrer on the shop's own site is not a referrer; a bad
// value is refused with a clear error and the message sent right after
// is stored.
func TestVisitorContext(t *testing.T) {
	rl := newRelay(t, defaultOptions())
	ua := "Mozilla/5.0 (Android 15; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
	r := rl.raw(http.Header{"User-Agent": {ua}, "Origin": {"https://shop.example"}})
	r.send(`{"type":"hello","last_seq":0,"locale":"de-AT","tz":"Europe/Vienna","referrer":"https://search.example/results?q=ann%40example.com"}`)
	w := r.next("welcome")
	r.send(`{"type":"message","id":"m1","text":"where is my order?","page_url":"https://shop.example/orders/42?token=s3cret#top","page_title":"  Order\n42 <b>x</b> "}`)
	m := r.next("message")
	if m["page_url"] != "https://shop.example/orders/42" || m["page_title"] != "Order 42 <b>x</b>" {
		t.Errorf("message frame page = %v, %v", m["page_url"], m["page_title"])
	}
	r.send(`{"type":"message","id":"m2","text":"x","page_url":"javascript:alert(1)"}`)
	e := r.next("error")
	if e["code"] != "bad_field" || !strings.Contains(e["message"].(string), "page_url") {
		t.Errorf("bad page_url: %v", e)
	}
	r.send(`{"type":"message","id":"m2","text":"x"}`)
	if a := r.next("ack"); a["seq"] != float64(2) {
		t.Errorf("the message resent without the bad address: %v", a)
	}

	v, err := rl.store.Visitor(visitorOf(t, rl, w["conversation_id"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	c := v.Context
	if c == nil || c.Browser != "Firefox 133" || c.OS != "Android 15" || c.Locale != "de-AT" || c.TimeZone != "Europe/Vienna" ||
		c.Referrer != "https://search.example/results" || c.Visits != 1 || c.LastSeen.IsZero() {
		t.Fatalf("context = %+v", c)
	}
	msgs, err := rl.store.Messages(v.ConversationID, 0, 10)
	if err != nil || len(msgs) != 2 || msgs[0].Page == nil || msgs[0].Page.URL != "https://shop.example/orders/42" || msgs[1].Page != nil {
		t.Fatalf("messages = %+v, %v", msgs, err)
	}

	// The shop's own pages are not a referrer.
	r2 := rl.raw(http.Header{"User-Agent": {ua}, "Origin": {"https://shop.example"}})
	r2.send(`{"type":"hello","last_seq":0,"referrer":"https://shop.example/products"}`)
	w2 := r2.next("welcome")
	v2, err := rl.store.Visitor(visitorOf(t, rl, w2["conversation_id"].(string)))
	if err != nil || v2.Context == nil || v2.Context.Referrer != "" || v2.Context.Visits != 1 {
		t.Fatalf("same-site referrer: %+v, %v", v2.Context, err)
	}

	// What is stored holds no User-Agent, query or fragment.
	data, err := os.ReadFile(rl.store.Path()) // commits are written through before they are acked
	if err != nil {
		t.Fatal(err)
	}
	raw := string(data)
	for _, secret := range []string{"rv:133.0", "s3cret", "ann%40example.com", "Gecko"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the store file holds %q", secret)
		}
	}
}

func visitorOf(t *testing.T, rl *relay, convID string) string {
	t.Helper()
	c, err := rl.store.Conversation(convID)
	if err != nil {
		t.Fatal(err)
	}
	return c.VisitorID
}
