package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

var giftCards = router.Intent{
	Name: "gift_cards",
	Examples: []string{"do you sell gift cards", "can I buy a gift card", "gift voucher for a friend",
		"how do gift cards work", "is there a gift certificate"},
	Answer: "Gift cards from 10 to 200 euros, delivered by email within minutes.",
	Action: router.ActionAnswer,
}

type saved struct {
	Intent  router.Intent
	Intents []router.Intent
	Model   struct {
		Hash    string
		Intents int
	}
}

func TestIntentCreateEditDelete(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	var before saved
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&before)

	var created saved
	admin.must(201, "POST", "/v1/admin/intents", giftCards).decode(&created)
	if created.Model.Hash == "" || created.Model.Hash == before.Model.Hash || created.Model.Intents != 5 {
		t.Errorf("model after create %+v (before %+v)", created.Model, before.Model)
	}

	renamed := giftCards
	renamed.Name = "vouchers"
	renamed.Answer = "Vouchers by email."
	var edited saved
	admin.must(200, "PUT", "/v1/admin/intents/gift_cards", renamed).decode(&edited)
	var list struct{ Intents []router.Intent }
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&list)
	last := list.Intents[len(list.Intents)-1]
	if len(list.Intents) != 5 || last.Name != "vouchers" || last.Answer != "Vouchers by email." {
		t.Errorf("after rename: %+v", list.Intents)
	}

	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               protocol.Code
	}{
		{"create a name that exists", "POST", "/v1/admin/intents", renamed, 409, protocol.CodeConflict},
		{"rename onto another intent", "PUT", "/v1/admin/intents/vouchers", router.Intent{Name: "shipping", Examples: []string{"x y"}, Answer: "a"}, 409, protocol.CodeConflict},
		{"edit a missing intent", "PUT", "/v1/admin/intents/nope", renamed, 404, protocol.CodeNotFound},
		{"no examples", "POST", "/v1/admin/intents", router.Intent{Name: "empty", Answer: "a"}, 400, protocol.CodeBadField},
		{"answer action without an answer", "POST", "/v1/admin/intents", router.Intent{Name: "mute", Examples: []string{"hello"}}, 400, protocol.CodeBadField},
		{"unknown action", "POST", "/v1/admin/intents", router.Intent{Name: "odd", Examples: []string{"hello"}, Action: "dance"}, 400, protocol.CodeBadField},
		{"name with spaces around", "POST", "/v1/admin/intents", router.Intent{Name: " padded ", Examples: []string{"hello"}, Answer: "a"}, 400, protocol.CodeBadField},
		{"control character", "POST", "/v1/admin/intents", router.Intent{Name: "bell\a", Examples: []string{"hello"}, Answer: "a"}, 400, protocol.CodeBadField},
		{"unknown field", "POST", "/v1/admin/intents", `{"name":"x","examples":["a b"],"answer":"a","priority":1}`, 400, protocol.CodeUnknownField},
		{"not JSON", "POST", "/v1/admin/intents", `{"name":`, 400, protocol.CodeBadFrame},
		{"wrong type", "POST", "/v1/admin/intents", `{"name":"x","examples":"a b","answer":"a"}`, 400, protocol.CodeBadField},
		{"delete a missing intent", "DELETE", "/v1/admin/intents/nope", nil, 404, protocol.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin.t = t
			res := admin.do(tt.method, tt.path, tt.body)
			if res.status != tt.status || res.code() != string(tt.code) {
				t.Errorf("got %d %s, want %d %s", res.status, res.body, tt.status, tt.code)
			}
		})
	}
	admin.t = t
	var after struct{ Intents []router.Intent }
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&after)
	if len(after.Intents) != 5 {
		t.Fatalf("refused changes changed the set: %d intents", len(after.Intents))
	}

	admin.must(204, "DELETE", "/v1/admin/intents/vouchers", nil)
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&after)
	if len(after.Intents) != 4 {
		t.Errorf("after delete: %d intents", len(after.Intents))
	}
}

// The widget learns of a new intent at its next config fetch: the config
// names the new model, which is served; the relay's own classification
// answers with it at once.
func TestNewIntentReachesWidgetsWithoutRestart(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	var created saved
	admin.must(201, "POST", "/v1/admin/intents", giftCards).decode(&created)

	resp, err := http.Get(r.URL + "/v1/widget/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ Model struct{ URL, Hash string } }
	json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if cfg.Model.Hash != created.Model.Hash {
		t.Fatalf("widget config names model %q, want the new %q", cfg.Model.Hash, created.Model.Hash)
	}
	resp, err = http.Get(r.URL + cfg.Model.URL)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m, err := router.Load(data)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("model download: %d %v", resp.StatusCode, err)
	}
	if got := m.Classify("can I buy a gift card?"); !got.Matched || got.Intent != "gift_cards" {
		t.Errorf("the served model classifies the question as %+v", got)
	}

	v := newVisitor(t, r)
	v.send(t, "can I buy a gift card?")
	waitFor(t, "the relay's answer", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, m := range v.msgs {
			if m.From == "bot" && m.Intent == "gift_cards" && m.Text == giftCards.Answer {
				return true
			}
		}
		return false
	})
}

func TestTryASentence(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	var got struct {
		Model   string
		Matched bool
		Intent  string
		Score   float64
		Ranked  []router.Match
	}
	admin.must(200, "POST", "/v1/admin/intents/try", map[string]string{"text": "how long does shipping take?"}).decode(&got)
	if !got.Matched || got.Intent != "shipping" || got.Model == "" || len(got.Ranked) == 0 || got.Ranked[0].Intent != "shipping" || got.Ranked[0].Score != got.Score {
		t.Errorf("try: %+v", got)
	}
	admin.must(200, "POST", "/v1/admin/intents/try", map[string]string{"text": "zebra quantum umbrella"}).decode(&got)
	if got.Matched || got.Ranked == nil {
		t.Errorf("nonsense matched or ranked is null: %+v", got)
	}
	for _, body := range []string{`{"text":"   "}`, `{"text":""}`, `{}`} {
		if res := admin.do("POST", "/v1/admin/intents/try", body); res.status != 400 || res.code() != "bad_field" {
			t.Errorf("try %s: %d %s", body, res.status, res.body)
		}
	}
	if res := admin.do("POST", "/v1/admin/intents/try", `{"text":"`+strings.Repeat("a", 9000)+`"}`); res.status != 413 {
		t.Errorf("9 KB sentence: %d", res.status)
	}
}

func TestExportImport(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	res := admin.must(200, "GET", "/v1/admin/intents/export", nil)
	if cd := res.header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="kefu-intents-`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	var file struct{ Intents []router.Intent }
	res.decode(&file)
	if len(file.Intents) != 4 {
		t.Fatalf("exported %d intents", len(file.Intents))
	}
	exported := string(res.body)

	var list saved
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&list)
	hash := list.Model.Hash

	tests := []struct {
		name   string
		body   any
		status int
		code   protocol.Code
	}{
		{"no intents", map[string]any{"intents": []router.Intent{}}, 400, protocol.CodeBadField},
		{"nothing valid", map[string]any{"intents": []router.Intent{{Name: "broken", Answer: "no examples"}}}, 400, protocol.CodeBadField},
		{"a bare list", []router.Intent{giftCards}, 400, protocol.CodeBadFrame}, // not one JSON object
		{"unknown field", `{"intents":[],"version":2}`, 400, protocol.CodeUnknownField},
		{"not json", "{\"intents\": [", 400, protocol.CodeBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin.t = t
			res := admin.do("POST", "/v1/admin/intents/import", tt.body)
			if res.status != tt.status || res.code() != string(tt.code) {
				t.Errorf("got %d %s, want %d %s", res.status, res.body, tt.status, tt.code)
			}
		})
	}
	admin.t = t
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&list)
	if list.Model.Hash != hash || len(list.Intents) != 4 {
		t.Fatalf("a refused import changed the intents: %d, model %s → %s", len(list.Intents), hash, list.Model.Hash)
	}

	// A file with problems: checked first (nothing changes), then
	// imported without the broken intent and the repeated name, each
	// problem reported with its line; a newline inside an example is a
	// space.
	messy := "{\"intents\": [\n" +
		`{"name": "gift_cards", "examples": ["do you sell` + "\\n" + `gift cards", "gift card"], "answer": "Yes, from $10."},` + "\n" +
		`{"name": "broken", "answer": "no examples"},` + "\n" +
		`{"name": "gift_cards", "examples": ["again"], "answer": "x"}` + "\n]}"
	var imported struct {
		Count    int
		Problems []struct {
			Line    int
			Intent  string
			Message string
			Skipped bool
		}
		Model struct{ Hash string }
	}
	admin.must(200, "POST", "/v1/admin/intents/import?check=1", messy).decode(&imported)
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&list)
	if imported.Count != 1 || len(imported.Problems) != 2 || list.Model.Hash != hash {
		t.Fatalf("check: got %+v and model %s, want 1 intent, 2 problems, no change", imported, list.Model.Hash)
	}
	admin.must(200, "POST", "/v1/admin/intents/import", messy).decode(&imported)
	if imported.Count != 1 || imported.Model.Hash == hash {
		t.Errorf("import answer %+v", imported)
	}
	if p := imported.Problems; len(p) != 2 || p[0].Line != 3 || p[0].Intent != "broken" || !p[0].Skipped ||
		p[1].Line != 4 || !strings.Contains(p[1].Message, "already used on line 2") {
		t.Errorf("problems: got %+v", p)
	}
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&list)
	if len(list.Intents) != 1 || list.Intents[0].Examples[0] != "do you sell gift cards" {
		t.Errorf("imported %+v, want gift_cards with its examples on one line", list.Intents)
	}
	// The exported file imports as is: the round trip restores the set.
	admin.must(200, "POST", "/v1/admin/intents/import", exported)
	if again := admin.must(200, "GET", "/v1/admin/intents/export", nil); string(again.body) != exported {
		t.Errorf("round trip changed the file:\n%s\nvs\n%s", again.body, exported)
	}
}

func TestIntentQuality(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	var rep struct {
		Model   string
		Intents []router.IntentReport
	}
	admin.must(200, "GET", "/v1/admin/intents/quality", nil).decode(&rep)
	if len(rep.Intents) != 4 || rep.Model == "" {
		t.Fatalf("report on the defaults: %+v", rep)
	}
	for _, in := range rep.Intents {
		if in.Recognised+len(in.NeverMatched) != in.Examples || in.Overlaps == nil {
			t.Errorf("%s: %+v", in.Name, in)
		}
	}
	// An intent whose examples are another's: the report names the overlap,
	// and it is about the new model.
	twin := router.Intent{Name: "delivery", Answer: "soon", Action: router.ActionAnswer,
		Examples: []string{"how long does shipping take", "when will my package arrive", "how much is delivery"}}
	admin.must(201, "POST", "/v1/admin/intents", twin)
	old := rep.Model
	admin.must(200, "GET", "/v1/admin/intents/quality", nil).decode(&rep)
	if rep.Model == old || len(rep.Intents) != 5 {
		t.Fatalf("after a change: model %s (was %s), %d intents", rep.Model, old, len(rep.Intents))
	}
	d := rep.Intents[4]
	if d.Name != "delivery" || len(d.Overlaps) == 0 || d.Overlaps[0].Intent != "shipping" {
		t.Errorf("delivery: %+v, want an overlap with shipping first", d)
	}
}
