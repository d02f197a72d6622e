package router

// DefaultIntents returns the starter intents the relay offers before a
// business writes its own (and uses on /demo): shipping, returns, opening
// hours and talking to a person, each with English and Chinese examples.
// Answers are placeholders meant to be edited.
func DefaultIntents() []Intent {
	return []Intent{
		{
			Name: "shipping",
			Examples: []string{
				"how long does shipping take", "when will my package arrive",
				"do you ship internationally", "how much is delivery",
				"what are the shipping costs", "do you offer free shipping",
				"which courier do you use", "can you deliver to my country",
				"运费多少", "多久能发货", "几天能到", "可以寄到国外吗", "包邮吗",
			},
			Answer: "We ship within 1 business day; delivery takes 2–5 days. 我们1个工作日内发货，2–5天送达。",
			Action: ActionAnswer,
		},
		{
			Name: "returns",
			Examples: []string{
				"how do I return an item", "can I get a refund", "what is your return policy",
				"I want to send this back", "I would like my money back",
				"can I exchange it for another size", "how many days do I have to return",
				"怎么退货", "可以退款吗", "退换货政策是什么", "尺码不合适能换吗", "东西坏了我要退钱",
			},
			Answer: "Unused items can be returned within 30 days for a full refund. 30天内未使用的商品可全额退款。",
			Action: ActionAnswer,
		},
		{
			Name: "opening_hours",
			Examples: []string{
				"what are your opening hours", "when are you open", "are you open on sunday",
				"what time do you close today", "is the store open on holidays", "business hours",
				"几点开门", "营业时间是什么", "周末营业吗", "今天几点关门", "节假日开门吗",
			},
			Answer: "We are open Monday to Saturday, 9:00–18:00. 周一至周六 9:00–18:00 营业。",
			Action: ActionAnswer,
		},
		{
			Name: "human",
			Examples: []string{
				"I want to talk to a person", "can I speak to a human", "connect me to an agent",
				"real person please", "talk to customer service", "let me speak with someone",
				"转人工", "我要人工客服", "找客服", "有真人吗", "我要跟人说话",
			},
			Answer: "Connecting you to a person. 正在为您转接人工客服。",
			Action: ActionHandoff,
			Skill:  "support",
		},
	}
}
