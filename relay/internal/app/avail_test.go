package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// The admin's away switch holds routing (an online agent gets nothing new
// until it is off), an agent's own away does too, and every change of
// availability reaches an open widget on its socket, without a reload.
func TestAwayHoldsRoutingAndAvailabilityIsLive(t *testing.T) {
	r := apptest.Start(t, func(c *config.Config) { c.AdminPassword = adminPassword })
	admin := signIn(t, r, "admin", adminPassword)
	v := newVisitor(t, r)
	availability := func(v *visitor, state string, online float64) {
		t.Helper()
		v.waitFrame(func(m map[string]any) bool {
			return m["type"] == protocol.TypeAvailability && m["state"] == state && m["online"] == online
		})
	}
	ann := newAgent(t, r, "ann", 5)
	con := ann.console()
	availability(v, "online", 1)

	if resp := admin.do("PUT", "/v1/admin/availability", `{"time_zone":"UTC","reply_minutes":60,"away":true}`); resp.StatusCode != 200 {
		t.Fatalf("away on: %s", resp.Status)
	}
	availability(v, "away", 1)
	held := func(v *visitor) {
		t.Helper()
		v.send("I need to speak to a person")
		eventually(t, "the conversation waits", func() bool { return r.App.Router().Waiting(v.conv) })
		// A routing pass now would take it out of the queue (and assign
		// it, were routing not held), as would one racing this one.
		r.App.Router().Tick(context.Background())
		if c, err := r.Store.Conversation(v.conv); err != nil || c.Handler != store.HandlerQueue || !r.App.Router().Waiting(v.conv) {
			t.Fatalf("conversation %s: handler %q (%v); want it held in the queue", v.conv, c.Handler, err)
		}
	}
	held(v)

	if resp := admin.do("PUT", "/v1/admin/availability", `{"time_zone":"UTC","reply_minutes":60,"away":false}`); resp.StatusCode != 200 {
		t.Fatalf("away off: %s", resp.Status)
	}
	availability(v, "online", 1)
	v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && strings.Contains(m.Text, "joined") })

	// The agent's own away: widgets hear nobody is online, and a new
	// conversation waits.
	con.send(`{"type":"presence","status":"away"}`)
	availability(v, "away", 0)
	v2 := newVisitor(t, r)
	held(v2)
	con.send(`{"type":"presence","status":"online"}`)
	availability(v2, "online", 1)
	v2.waitMsg(func(m protocol.Message) bool { return m.From == "system" && strings.Contains(m.Text, "joined") })
}
