package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// widgetConfig fetches the widget config for a list of preferred languages.
func widgetConfig(t *testing.T, base, langs string) map[string]json.RawMessage {
	t.Helper()
	res, err := http.Get(base + "/v1/widget/config?lang=" + langs)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c map[string]json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Per-language answers (issue 15): the widget config of a language names
// that language's answers at an immutable URL; a visitor speaking it gets
// them, whoever else the default; an answer in a language the widget does
// not speak is refused.
func TestAnswersPerLanguage(t *testing.T) {
	r, _ := start(t, nil)
	admin := signIn(t, r, "admin", adminPassword)
	gift := giftCards
	gift.Answers = map[string]string{"de": "Geschenkkarten von 10 bis 200 Euro, per E-Mail.", "zh": "礼品卡 10 到 200 欧元，通过邮件发送。"}
	admin.must(201, "POST", "/v1/admin/intents", gift)

	var list struct {
		Intents   []router.Intent
		Languages []struct{ Lang string }
	}
	admin.must(200, "GET", "/v1/admin/intents", nil).decode(&list)
	if len(list.Languages) < 9 {
		t.Errorf("languages for answers: %+v", list.Languages)
	}
	for _, in := range list.Intents {
		if in.Name == gift.Name && in.Answers["de"] != gift.Answers["de"] {
			t.Errorf("stored answers %+v", in.Answers)
		}
	}

	de := widgetConfig(t, r.URL, "de-AT,en")
	var asset struct{ URL, Hash string }
	if err := json.Unmarshal(de["answers"], &asset); err != nil || asset.URL == "" {
		t.Fatalf("config for de has answers %s (%v)", de["answers"], err)
	}
	res, err := http.Get(r.URL + asset.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var answers map[string]string
	if err := json.Unmarshal(body, &answers); err != nil {
		t.Fatalf("answers %s: %v", body, err)
	}
	if answers["gift_cards"] != gift.Answers["de"] || !strings.Contains(answers["shipping"], "Werktag") {
		t.Errorf("German answers: %v", answers)
	}
	if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("answers Cache-Control %q", cc)
	}
	if _, ok := answers["human"]; ok {
		t.Errorf("a hand-off intent's text is no answer: %v", answers)
	}
	// A stale hash is gone, not another language's answers.
	if res, err := http.Get(r.URL + "/v1/answers/de/0000000000000000"); err != nil || res.StatusCode != 404 {
		t.Errorf("stale answers: %v %v", res.StatusCode, err)
	}

	// A widget language without translations gets none: the model's answers.
	admin.must(204, "DELETE", "/v1/admin/intents/shipping", nil)
	admin.must(204, "DELETE", "/v1/admin/intents/returns", nil)
	admin.must(204, "DELETE", "/v1/admin/intents/opening_hours", nil)
	if ans := widgetConfig(t, r.URL, "fr")["answers"]; ans != nil {
		t.Errorf("config for fr has answers %s", ans)
	}

	// Refused: a language the widget does not speak, a bad tag.
	for _, as := range []map[string]string{{"nl": "Cadeaubonnen."}, {"DE": "x"}} {
		bad := gift
		bad.Answers = as
		res := admin.do("PUT", "/v1/admin/intents/gift_cards", bad)
		if res.status != 400 || res.code() != string(protocol.CodeBadField) {
			t.Errorf("answers %v: %d %s", as, res.status, res.body)
		}
	}

	// The relay answers in the visitor's language: classified by the
	// relay, and when the browser says it answered.
	for _, tc := range []struct {
		lang, want string
		browser    bool
	}{
		{"de", gift.Answers["de"], false},
		{"zh", gift.Answers["zh"], true},
		{"fr", gift.Answer, false},
		{"", gift.Answer, true},
	} {
		t.Run(fmt.Sprintf("%s browser=%v", tc.lang, tc.browser), func(t *testing.T) {
			got := make(chan string, 4)
			c, err := client.Dial(context.Background(), client.Options{URL: r.WS, Lang: tc.lang, OnMessage: func(m protocol.Message) {
				if m.From == protocol.FromBot && m.Intent == "gift_cards" {
					got <- m.Text
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if tc.browser {
				f, _ := json.Marshal(protocol.Send{Type: protocol.TypeMessage, ID: "m1", Text: "gift card please", Intent: "gift_cards"})
				if err := c.WriteRaw(ctx, f); err != nil {
					t.Fatal(err)
				}
			} else if _, err := c.Send(ctx, "do you sell gift cards"); err != nil {
				t.Fatal(err)
			}
			select {
			case text := <-got:
				if text != tc.want {
					t.Errorf("answer %q, want %q", text, tc.want)
				}
			case <-ctx.Done():
				t.Fatal("no FAQ answer")
			}
		})
	}
}
