package router

// DefaultIntents returns the starter intents the relay offers before a
// business writes its own (and uses on /demo): shipping, returns, opening
// hours and talking to a person, each with English and Chinese examples.
// Answers are placeholders meant to be edited: English, with the same
// answer in every language the widget speaks (a visitor gets their own).
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
			Answer: "We ship within 1 business day; delivery takes 2–5 days.",
			Answers: map[string]string{
				"zh": "我们1个工作日内发货，2–5天送达。",
				"de": "Wir versenden innerhalb von 1 Werktag; die Lieferung dauert 2–5 Tage.",
				"fr": "Nous expédions sous 1 jour ouvré ; la livraison prend 2 à 5 jours.",
				"es": "Enviamos en 1 día hábil; la entrega tarda de 2 a 5 días.",
				"pt": "Enviamos em 1 dia útil; a entrega leva de 2 a 5 dias.",
				"ja": "1営業日以内に発送し、2〜5日でお届けします。",
				"ko": "영업일 기준 1일 이내에 발송하며, 배송은 2~5일 걸립니다.",
				"ar": "نشحن خلال يوم عمل واحد؛ ويستغرق التوصيل من 2 إلى 5 أيام.",
			},
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
			Answer: "Unused items can be returned within 30 days for a full refund.",
			Answers: map[string]string{
				"zh": "30天内未使用的商品可全额退款。",
				"de": "Unbenutzte Artikel können innerhalb von 30 Tagen gegen volle Erstattung zurückgegeben werden.",
				"fr": "Les articles non utilisés peuvent être retournés sous 30 jours pour un remboursement intégral.",
				"es": "Los artículos sin usar se pueden devolver en un plazo de 30 días con reembolso completo.",
				"pt": "Itens não usados podem ser devolvidos em até 30 dias com reembolso total.",
				"ja": "未使用の商品は30日以内であれば全額返金で返品できます。",
				"ko": "사용하지 않은 상품은 30일 이내에 반품하시면 전액 환불해 드립니다.",
				"ar": "يمكن إرجاع المنتجات غير المستخدمة خلال 30 يومًا مع استرداد المبلغ كاملًا.",
			},
			Action: ActionAnswer,
		},
		{
			Name: "opening_hours",
			Examples: []string{
				"what are your opening hours", "when are you open", "are you open on sunday",
				"what time do you close today", "is the store open on holidays", "business hours",
				"几点开门", "营业时间是什么", "周末营业吗", "今天几点关门", "节假日开门吗",
			},
			Answer: "We are open Monday to Saturday, 9:00–18:00.",
			Answers: map[string]string{
				"zh": "周一至周六 9:00–18:00 营业。",
				"de": "Wir haben montags bis samstags von 9:00 bis 18:00 Uhr geöffnet.",
				"fr": "Nous sommes ouverts du lundi au samedi, de 9:00 à 18:00.",
				"es": "Abrimos de lunes a sábado, de 9:00 a 18:00.",
				"pt": "Estamos abertos de segunda a sábado, das 9:00 às 18:00.",
				"ja": "営業時間は月曜日から土曜日の9:00〜18:00です。",
				"ko": "월요일부터 토요일까지 9:00~18:00에 영업합니다.",
				"ar": "نفتح من الاثنين إلى السبت، من 9:00 إلى 18:00.",
			},
			Action: ActionAnswer,
		},
		{
			Name: "human",
			Examples: []string{
				"I want to talk to a person", "can I speak to a human", "connect me to an agent",
				"real person please", "talk to customer service", "let me speak with someone",
				"转人工", "我要人工客服", "找客服", "有真人吗", "我要跟人说话",
			},
			Answer: "Connecting you to a person.",
			Answers: map[string]string{
				"zh": "正在为您转接人工客服。",
				"de": "Ich verbinde Sie mit einem Menschen.",
				"fr": "Je vous mets en relation avec une personne.",
				"es": "Le pongo en contacto con una persona.",
				"pt": "Vou conectar você a uma pessoa.",
				"ja": "担当者におつなぎします。",
				"ko": "상담원에게 연결해 드리겠습니다.",
				"ar": "جارٍ تحويلك إلى أحد الموظفين.",
			},
			Action: ActionHandoff,
			Skill:  "support",
		},
	}
}
