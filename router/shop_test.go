package router

import (
	"encoding/json"
	"os"
	"testing"
)

func loadShop(tb testing.TB) *Model {
	tb.Helper()
	b, err := os.ReadFile("testdata/shop_intents.json")
	if err != nil {
		tb.Fatalf("read shop intents: %v", err)
	}
	var intents []Intent
	if err := json.Unmarshal(b, &intents); err != nil {
		tb.Fatalf("parse shop intents: %v", err)
	}
	m, err := Fit(intents, Options{})
	if err != nil {
		tb.Fatalf("Fit: %v", err)
	}
	return m
}

func TestShopPhrasings(t *testing.T) {
	m := loadShop(t)
	tests := []struct {
		name string
		text string
		want string // "" means must not match
		miss string // known miss (see smallsets_test.go): no wrong answer, that is all
	}{
		{name: "plain english", text: "How long does delivery take?", want: "shipping"},
		{name: "typo shipping", text: "how much is shiping to canda", want: "shipping"},
		{name: "shouting and punctuation", text: "DO YOU SHIP TO GERMANY???", want: "shipping", miss: "one known content word and one unknown: 0.40, like \"an open question\""},
		{name: "full-width latin", text: "ｆｒｅｅ ｓｈｉｐｐｉｎｇ？", want: "shipping"},
		{name: "chinese shipping", text: "请问运费是多少？", want: "shipping"},
		{name: "returns typo", text: "how do i retrun this jacket", want: "returns", miss: "typo plus an unknown word: 0.31"},
		{name: "refund", text: "I'd like a refund please", want: "returns"},
		{name: "chinese return no spaces", text: "衣服不合适我想退货", want: "returns"},
		{name: "hours", text: "are you open saturday?", want: "opening_hours"},
		{name: "hours typo", text: "wat are ur openning hours", want: "opening_hours"},
		{name: "chinese hours", text: "你们周六几点开门", want: "opening_hours"},
		{name: "paypal", text: "Can I use PayPal?", want: "payment"},
		{name: "chinese alipay", text: "能不能用支付宝付款", want: "payment"},
		{name: "where is order", text: "where's my order??", want: "order_status"},
		{name: "tracking", text: "tracking number for order 5521", want: "order_status"},
		{name: "chinese order", text: "我的快递到哪里了", want: "order_status", miss: "快递 (courier) is a shipping example word"},
		{name: "human", text: "can i talk to a real human", want: "human"},
		{name: "chinese human", text: "转人工客服", want: "human"},
		{name: "oos weather", text: "what's the weather like in Paris", want: ""},
		{name: "oos joke", text: "tell me a joke", want: ""},
		{name: "oos recipe", text: "how do I cook rice", want: ""},
		{name: "oos chinese", text: "今天股票涨了吗", want: ""},
		{name: "empty", text: "", want: ""},
		{name: "only punctuation", text: "?!…", want: ""},
		{name: "greeting", text: "hello", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.Classify(tt.text)
			got := ""
			if r.Matched {
				got = r.Intent
			}
			if tt.miss != "" {
				if got != "" && got != tt.want {
					t.Errorf("Classify(%q): got %q, a wrong answer; want %q or none (known miss: %s)", tt.text, got, tt.want, tt.miss)
				}
				return
			}
			if got != tt.want {
				t.Errorf("Classify(%q): got %q, want %q (score %.3f, ranked %v)", tt.text, got, tt.want, r.Score, r.Ranked)
			}
		})
	}
}

func TestShopHandoffCarriesSkill(t *testing.T) {
	m := loadShop(t)
	r := m.Classify("I want to talk to a person")
	if !r.Matched || r.Action != ActionHandoff || r.Skill != "support" {
		t.Fatalf("got matched=%v action=%q skill=%q, want true handoff support", r.Matched, r.Action, r.Skill)
	}
}
