package origin

import (
	"fmt"
	"testing"
	"time"
)

// clock is a fake time that moves one second per reading.
func clock() func() time.Time {
	t := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestAdmitRemembersRefusedSites(t *testing.T) {
	p := NewPolicy([]string{"shop.example.com"})
	p.refused.now = clock()
	for _, o := range []string{
		"https://Blog.Example.com", "https://blog.example.com/", "https://blog.example.com", // one site, three times
		"https://shop.example.com",                                                                             // allowed: not a refusal
		"",                                                                                                     // no Origin: not a browser page
		"http://relay.test",                                                                                    // the relay's own host
		"null",                                                                                                 // a sandboxed or file:// page
		"javascript:alert(1)", "https://user:pw@x.example", "ftp://x.example", "https://x.example/path", "%zz", // junk: not shown
	} {
		p.Admit(o, "relay.test")
	}
	got := p.Refused()
	if len(got) != 2 || got[0].Origin != "null" || got[1].Origin != "https://blog.example.com" || got[1].Count != 3 {
		t.Fatalf("refused %+v, want null then https://blog.example.com ×3", got)
	}
	if !got[1].First.Before(got[1].Last) {
		t.Errorf("first %v, last %v", got[1].First, got[1].Last)
	}

	// Allowing the site takes it off the list at once.
	p.Set([]string{"shop.example.com", "*.example.com"})
	if got := p.Refused(); len(got) != 1 || got[0].Origin != "null" {
		t.Errorf("after allowing blog.example.com: %+v", got)
	}
	// Allowing any site empties it.
	p.Set([]string{})
	if got := p.Refused(); len(got) != 0 {
		t.Errorf("with every site allowed: %+v", got)
	}
}

func TestRefusedIsBounded(t *testing.T) {
	p := NewPolicy([]string{"shop.example.com"})
	p.refused.now = clock()
	p.Admit("https://forgotten.example", "relay.test")
	for i := range 10 * MaxRefused {
		p.Admit(fmt.Sprintf("https://flood%d.example", i), "relay.test")
		if i%10 == 0 {
			p.Admit("https://forgotten.example", "relay.test") // still seen now and then
		}
	}
	got := p.Refused()
	if len(got) != MaxRefused {
		t.Fatalf("%d refusals kept, want %d", len(got), MaxRefused)
	}
	seen := false
	for _, f := range got {
		seen = seen || f.Origin == "https://forgotten.example"
	}
	if !seen {
		t.Error("a site refused recently was pushed out by older floods")
	}
	if got[0].Origin != fmt.Sprintf("https://flood%d.example", 10*MaxRefused-1) {
		t.Errorf("most recent first: %s", got[0].Origin)
	}
}
