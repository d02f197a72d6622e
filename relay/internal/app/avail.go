package app

import (
	"github.com/kefuhq/kefu/relay/internal/avail"
	"github.com/kefuhq/kefu/relay/internal/bot"
)

// botAvailability is the team's availability as the bot's hand-off needs
// it.
func botAvailability(av *avail.Service) bot.Availability {
	st := av.Status()
	out := bot.Availability{Online: st.Online, Away: st.State == avail.Away, Zone: av.Location(), Text: av.Text}
	if st.Until != nil {
		out.Back = *st.Until
	}
	if st.State == avail.Soon {
		out.ReplyMinutes = st.ReplyMinutes
	}
	return out
}
