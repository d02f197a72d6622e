package bot

import (
	"errors"
	"regexp"

	"github.com/kefuhq/kefu/relay/internal/ai"
)

// asksForPerson catches "words to that effect" even when the business
// deleted its hand-off intent: a visitor must always be able to reach a
// person.
var asksForPerson = regexp.MustCompile(`(?i)\b((talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+|some\s*one|somebody|your\s+)?(real\s+|live\s+)?(human|person|people|agent|representative|someone|somebody|staff|operator)|(need|want|get|reach)\s+(a|an|some)\s+(real\s+|live\s+)?(human|person|agent|representative)|real\s+person|live\s+agent|human\s+agent|customer\s+service\s+(agent|representative)|representative|operator)\b|人工|真人|转接客服|客服人员|找客服|オペレーター|担当者`)

// WantsPerson reports whether text asks for a person.
func WantsPerson(text string) bool { return asksForPerson.MatchString(text) }

// Reasons for a hand-off; each has its own plain-words message.
type reason int

const (
	reasonAsked    reason = iota // the visitor asked, or a handoff intent matched
	reasonAIOff                  // no AI configured or it is switched off
	reasonAIFailed               // the upstream failed or timed out
	reasonBudget                 // the daily token budget is spent
	reasonBusy                   // too many answers streaming
)

func reasonFor(err error) reason {
	switch {
	case errors.Is(err, ai.ErrDisabled):
		return reasonAIOff
	case errors.Is(err, ai.ErrBudget):
		return reasonBudget
	case errors.Is(err, ai.ErrBusy):
		return reasonBusy
	default:
		return reasonAIFailed
	}
}

func (r reason) String() string {
	return [...]string{"asked", "ai_off", "ai_failed", "budget", "busy"}[r]
}

// handoffText is what the visitor reads, in their language (Chinese when
// their question has Han characters, Japanese for kana, else English).
func handoffText(r reason, lang string) string {
	texts := map[string][5]string{
		"en": {
			"Connecting you with a person. Someone from our team will reply here shortly.",
			"Connecting you with a person. Someone from our team will reply here shortly.",
			"Sorry, I couldn't answer that just now. I'm passing you to a person; someone from our team will reply here shortly.",
			"Our assistant has answered all it can for today. I'm passing you to a person; someone from our team will reply here shortly.",
			"Our assistant is very busy right now. I'm passing you to a person; someone from our team will reply here shortly.",
		},
		"zh": {
			"正在为您转接人工客服，请稍候，我们的同事会在这里回复您。",
			"正在为您转接人工客服，请稍候，我们的同事会在这里回复您。",
			"抱歉，暂时无法回答这个问题。正在为您转接人工客服，请稍候。",
			"智能助手今日的回答次数已用完。正在为您转接人工客服，请稍候。",
			"智能助手当前繁忙。正在为您转接人工客服，请稍候。",
		},
		"ja": {
			"担当者におつなぎします。まもなくこちらでご返信します。",
			"担当者におつなぎします。まもなくこちらでご返信します。",
			"申し訳ありません、今はお答えできません。担当者におつなぎします。",
			"本日のアシスタントの回答上限に達しました。担当者におつなぎします。",
			"アシスタントが混み合っています。担当者におつなぎします。",
		},
	}
	t, ok := texts[lang]
	if !ok {
		t = texts["en"]
	}
	return t[r]
}

// noPeopleText is what the visitor reads instead of handoffText where no
// person can take over (NoPeople): the truth, and what they can do.
func noPeopleText(r reason, lang string) string {
	texts := map[string][5]string{
		"en": {
			"No one from our team is available in this chat, sorry. I can keep answering your questions here; for anything else, please contact us another way (see this website).",
			"Sorry, I can't answer that here, and no one from our team is available in this chat. Please contact us another way (see this website).",
			"Sorry, I couldn't answer that just now, and no one from our team is available in this chat. Please try again in a moment, or contact us another way (see this website).",
			"Our assistant has answered all it can for today, and no one from our team is available in this chat. Please contact us another way (see this website).",
			"Our assistant is very busy right now. Please try again in a moment, or contact us another way (see this website).",
		},
		"zh": {
			"抱歉，此聊天窗口暂无人工客服。我可以继续在这里回答您的问题；其他事宜请通过本网站上的其他方式联系我们。",
			"抱歉，这个问题我无法在这里回答，此聊天窗口也暂无人工客服。请通过本网站上的其他方式联系我们。",
			"抱歉，暂时无法回答这个问题，此聊天窗口也暂无人工客服。请稍后再试，或通过本网站上的其他方式联系我们。",
			"智能助手今日的回答次数已用完，此聊天窗口暂无人工客服。请通过本网站上的其他方式联系我们。",
			"智能助手当前繁忙。请稍后再试，或通过本网站上的其他方式联系我们。",
		},
		"ja": {
			"申し訳ありません、このチャットには担当者がおりません。ご質問には引き続きこちらでお答えします。その他のご用件は、このサイトに記載の別の方法でお問い合わせください。",
			"申し訳ありません、こちらではお答えできません。このチャットには担当者もおりません。このサイトに記載の別の方法でお問い合わせください。",
			"申し訳ありません、今はお答えできません。このチャットには担当者もおりません。しばらくしてからもう一度お試しいただくか、このサイトに記載の別の方法でお問い合わせください。",
			"本日のアシスタントの回答上限に達しました。このチャットには担当者もおりません。このサイトに記載の別の方法でお問い合わせください。",
			"アシスタントが混み合っています。しばらくしてからもう一度お試しいただくか、このサイトに記載の別の方法でお問い合わせください。",
		},
	}
	t, ok := texts[lang]
	if !ok {
		t = texts["en"]
	}
	return t[r]
}
