package assign

// The system messages a visitor reads when people come and go, so they
// always know who (or what) is answering.

func pick(lang string, en, zh, ja string) string {
	switch lang {
	case "zh":
		return zh
	case "ja":
		return ja
	}
	return en
}

func joinedText(name, lang string) string {
	if name == "" {
		name = pick(lang, "A team member", "客服", "担当者")
	}
	return pick(lang, name+" joined the chat.", name+" 已加入对话。", name+"がチャットに参加しました。")
}

func closedText(lang string) string {
	return pick(lang, "This conversation was closed. Write again any time.", "本次对话已结束，如需帮助请随时留言。", "この会話は終了しました。いつでもまたご連絡ください。")
}

func transferText(lang string) string {
	return pick(lang, "Connecting you with another team member…", "正在为您转接其他客服…", "別の担当者におつなぎしています…")
}

func awayText(name, lang string) string {
	if name == "" {
		return transferText(lang)
	}
	return pick(lang, name+" is no longer available. Connecting you with another team member…",
		name+" 暂时离开，正在为您转接其他客服…", name+"は対応できなくなりました。別の担当者におつなぎしています…")
}
