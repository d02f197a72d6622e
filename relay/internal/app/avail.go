package app

import (
	"context"
	"time"

	"github.com/kefuhq/kefu/relay/internal/assign"
	"github.com/kefuhq/kefu/relay/internal/avail"
	"github.com/kefuhq/kefu/relay/internal/bot"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/protocol"
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

// availabilityEvery is how often the availability is recomputed for what
// only time changes (hours opening, the away switch's end); presence and
// settings changes go out at once.
const availabilityEvery = 15 * time.Second

// availabilityToWidgets pushes a new availability to this node's open
// widgets (each node to its own; every node watches). When the away
// switch has just gone off, routing need not wait for the next tick.
// Watch calls it from one goroutine.
func (a *App) availabilityToWidgets(st avail.Status) {
	a.hub.PublishLocal(chat.AvailabilityTopic, hub.NewFrame(protocol.Availability{
		Type: protocol.TypeAvailability, State: st.State, Online: st.Online,
		ReplyMinutes: st.ReplyMinutes, Until: st.Until, TimeZone: st.TimeZone,
	}), nil)
	// Only on the switch's way off: a routing pass beside the ones presence
	// changes start could hand an agent more than their capacity.
	if held := a.avail.SwitchedAway(); a.held.Swap(held) && !held {
		go a.router.Route(context.Background())
	}
}

// presence is who is there now, as mail needs it.
type presence struct {
	router *assign.Router
	hub    *hub.Hub
	// elsewhere asks the other nodes of a cluster (App.visitorElsewhere).
	elsewhere func(convID string) bool
}

func (p presence) Online() int { return p.router.Online() }

func (p presence) AgentOnline(id string) bool {
	return p.router.Info(id).Status == protocol.StatusOnline
}

// VisitorHere: a visitor's socket or event stream, or a poll within the
// last minute, on this node or (asked) another of the cluster.
func (p presence) VisitorHere(convID string) bool {
	return p.hub.Listening(chat.VisitorTopic(convID), time.Minute) || p.elsewhere != nil && p.elsewhere(convID)
}

// VisitorHere reports whether the visitor of convID has it open on any
// node, as mail decides it; for tests.
func (a *App) VisitorHere(convID string) bool {
	return presence{router: a.router, hub: a.hub, elsewhere: a.visitorElsewhere}.VisitorHere(convID)
}
