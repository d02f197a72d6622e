package router

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

// Did-you-mean (issue 14): when a question is between two intents and
// neither is confident alone, the widget offers both. These measure how
// often that helps (the right intent is one of the two) and how often it
// offers a pair to a question the shop has no answer to.

// pairMetrics counts, over in-scope questions, those offered a pair with
// the right intent in it (PairRight) or without (PairWrong), and over
// out-of-scope ones, those offered a pair (OOSPair).
type pairMetrics struct{ PairRight, PairWrong, OOSPair float64 }

func scorePairs(m *Model, dr draw, close float64) pairMetrics {
	offer := func(text string) []Choice {
		r := m.Classify(text)
		if r.Matched || len(r.Ranked) < 2 {
			return nil
		}
		p, cos, cjk := m.heads(text)
		scores := make([]float64, len(p))
		for c := range p {
			scores[c] = math.Sqrt(p[c] * cos[c])
		}
		return m.choices(top(scores, 3), scores, p, cos, cjk, close)
	}
	var pm pairMetrics
	for _, q := range dr.in {
		cs := offer(q[0])
		switch {
		case len(cs) == 0:
		case cs[0].Intent == q[1] || cs[1].Intent == q[1]:
			pm.PairRight++
		default:
			pm.PairWrong++
		}
	}
	for _, q := range dr.oos {
		if len(offer(q)) > 0 {
			pm.OOSPair++
		}
	}
	pm.PairRight /= float64(len(dr.in))
	pm.PairWrong /= float64(len(dr.in))
	pm.OOSPair /= float64(max(1, len(dr.oos)))
	return pm
}

// TestQualityDidYouMean prints, per set and runner-up closeness, how many
// in-scope questions get a pair holding the right intent, a pair without
// it, and how many out-of-scope questions get a pair (KEFU_QUALITY=1; dev
// takes CLINC150's questions from train).
func TestQualityDidYouMean(t *testing.T) {
	mode := os.Getenv("KEFU_QUALITY")
	if mode == "" {
		t.Skip("set KEFU_QUALITY=1 (or dev) to measure the did-you-mean pairs")
	}
	type set struct {
		name string
		mk   func(seed uint64) draw
	}
	var sets []set
	for _, lang := range []string{"en", "zh"} {
		s := loadShopSet(t, lang)
		for _, n := range []int{10, 24} {
			sets = append(sets, set{fmt.Sprintf("shop %s, %d intents, 10-shot", lang, n), func(seed uint64) draw { return shopDraw(s, n, 10, seed) }})
		}
	}
	{
		d := loadCLINC(t)
		for _, n := range []int{20} {
			sets = append(sets, set{fmt.Sprintf("CLINC150 %d intents, 10-shot", n), func(seed uint64) draw { return clincDraw(d, n, 10, seed, mode == "dev") }})
		}
	}
	closes := []float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.7}
	var b strings.Builder
	b.WriteString("| set | runner-up ≥ | pair, right in it | pair, right not in it | out of scope offered a pair |\n|---|---|---|---|---|\n")
	for _, st := range sets {
		rows := make([][3][]float64, len(closes))
		for seed := uint64(1); seed <= 5; seed++ {
			dr := st.mk(seed)
			m, err := Fit(dr.intents, Options{})
			if err != nil {
				t.Fatalf("%s: Fit: %v", st.name, err)
			}
			for i, c := range closes {
				pm := scorePairs(m, dr, c)
				rows[i][0] = append(rows[i][0], pm.PairRight)
				rows[i][1] = append(rows[i][1], pm.PairWrong)
				rows[i][2] = append(rows[i][2], pm.OOSPair)
			}
		}
		for i, c := range closes {
			fmt.Fprintf(&b, "| %s | %.1f | %v | %v | %v |\n", st.name, c, summarise(rows[i][0]), summarise(rows[i][1]), summarise(rows[i][2]))
		}
	}
	t.Logf("did you mean, 5 seeds:\n%s", b.String())
}

// TestDidYouMeanPair checks the rule on a shop with two intents a visitor
// can confuse: a question that fits both gets both, each named by its own
// most distinctive example in the question's script (not the one they
// share); a confident question and an unrelated one get none.
func TestDidYouMeanPair(t *testing.T) {
	intents := didYouMeanIntents()
	m, err := Fit(intents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		text string
		pair [2]string // "" : no pair
	}{
		{"礼品卡", [2]string{"gift_card_balance", "gift_card_buy"}},
		{"what are your opening hours", [2]string{}},
		{"tell me a joke about penguins", [2]string{}},
	} {
		r := m.Classify(tt.text)
		t.Logf("%q: matched %v %s conf %.2f ranked %v choices %v", tt.text, r.Matched, r.Intent, r.Confidence, r.Ranked, r.Choices)
		if tt.pair[0] == "" {
			if len(r.Choices) != 0 {
				t.Errorf("%q: choices %v, want none", tt.text, r.Choices)
			}
			continue
		}
		if r.Matched || len(r.Choices) != 2 {
			t.Errorf("%q: matched %v, choices %v; want the pair %v", tt.text, r.Matched, r.Choices, tt.pair)
			continue
		}
		got := map[string]bool{r.Choices[0].Intent: true, r.Choices[1].Intent: true}
		if !got[tt.pair[0]] || !got[tt.pair[1]] {
			t.Errorf("%q: choices %v, want %v", tt.text, r.Choices, tt.pair)
		}
		if r.Choices[0].Question == r.Choices[1].Question {
			t.Errorf("%q: both choices named %q", tt.text, r.Choices[0].Question)
		}
		for _, c := range r.Choices {
			cjkQ := strings.ContainsFunc(c.Question, isCJK)
			if cjkQ != strings.ContainsFunc(tt.text, isCJK) {
				t.Errorf("%q: choice %s named by %q, not in the question's script", tt.text, c.Intent, c.Question)
			}
		}
	}
}

// didYouMeanIntents is a small shop with two intents visitors confuse
// (they share examples): "礼品卡" is between them. The browser tests use
// the same set (e2e/didyoumean.test.js).
func didYouMeanIntents() []Intent {
	return []Intent{
		{Name: "gift_card_balance", Answer: "See your balance at /gift.", Examples: []string{"my gift card", "a question about my gift card", "gift card balance", "what is the balance of my gift card", "我的礼品卡", "礼品卡余额"}},
		{Name: "gift_card_buy", Answer: "Buy one at /gift/buy.", Examples: []string{"my gift card", "a question about my gift card", "buy a gift card", "gift card for a friend", "我的礼品卡", "购买礼品卡"}},
		{Name: "opening_hours", Answer: "9 to 5.", Examples: []string{"when are you open", "opening hours", "what time do you close", "are you open on sunday", "你们几点开门"}},
		{Name: "payment", Answer: "Cards and PayPal.", Examples: []string{"which payment methods do you accept", "can i pay with paypal", "do you take credit cards", "pay by bank transfer", "可以用支付宝吗"}},
		{Name: "human", Action: ActionHandoff, Examples: []string{"talk to a person", "i want a human", "real agent please", "转人工"}},
	}
}

// TestLoadVersion3: a model stored before the sample questions (version 3)
// still loads and classifies the same; its choices are named by intent.
func TestLoadVersion3(t *testing.T) {
	m, err := Fit(didYouMeanIntents(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r4 := m.Classify("礼品卡")
	// Re-encode the loaded model's bytes as version 3: drop the questions.
	raw, _ := m.MarshalBinary()
	old, err := Load(withCRC(stripQuestions(t, raw, len(m.intents))))
	if err != nil {
		t.Fatalf("version 3: %v", err)
	}
	if old.Current() || !m.Current() {
		t.Errorf("Current: version 3 %v, version 4 %v", old.Current(), m.Current())
	}
	r3 := old.Classify("礼品卡")
	if r3.Matched != r4.Matched || len(r3.Choices) != len(r4.Choices) || r3.Score != r4.Score {
		t.Fatalf("version 3 classifies %+v, version 4 %+v", r3, r4)
	}
	for _, c := range r3.Choices {
		if c.Question != c.Intent {
			t.Errorf("version 3 choice %+v: want it named by the intent", c)
		}
	}
}

// stripQuestions rewrites a version 4 model as version 3: the two
// question strings after each intent's skill are cut out.
func stripQuestions(t *testing.T, raw []byte, nIntents int) []byte {
	t.Helper()
	r := &reader{b: raw[:len(raw)-4], off: len(modelMagic) + 1}
	for range 6 {
		r.f32()
	}
	r.count(MaxIntents, "intents")
	out := append([]byte(nil), raw[:r.off]...)
	out[len(modelMagic)] = 3
	for range nIntents {
		start := r.off
		r.str(MaxNameLen)
		r.byte()
		r.str(MaxAnswerLen)
		r.str(MaxSkillLen)
		out = append(out, raw[start:r.off]...)
		r.str(MaxExampleLen)
		r.str(MaxExampleLen)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return append(out, raw[r.off:]...)
}
