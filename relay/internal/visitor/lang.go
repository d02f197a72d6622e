package visitor

import (
	"context"

	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// keepLang stores the language a visitor's widget speaks (hello's lang,
// matched to a catalogue) when it changed, so the relay's own messages to
// them (assign, bot) use it. A widget that says nothing leaves it as it
// was. Failing to store it costs only the language of those messages: it
// is logged, and the hello goes on.
func (h *Handler) keepLang(ctx context.Context, v *store.Visitor, lang string) {
	if lang == "" {
		return
	}
	lang = i18n.Builtin().Match(lang)
	if v.Lang == lang {
		return
	}
	nv, err := h.store.UpdateVisitor(ctx, v.ID, func(v *store.Visitor) error { v.Lang = lang; return nil })
	if err != nil {
		h.log.Warn("visitor: store language", "visitor", v.ID, "err", err)
		return
	}
	*v = nv
}
