package agent_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/protocol"
)

// The relay's own messages (hand-off, someone joined, closed) speak the
// language the visitor's widget said in hello, whatever language the
// visitor writes in; a visitor whose widget said nothing gets a guess from
// their words.
func TestSystemMessagesInTheVisitorsLanguage(t *testing.T) {
	r := relay(t, nil)
	mei := newAgent(t, r, "mei", "shipping delivery", 3)
	con := mei.console()
	set := i18n.Builtin()
	for _, tc := range []struct{ hello, say, want string }{
		{"de-AT", "I want to talk to a person please", "de"},
		{"ar", "I want to talk to a person please", "ar"},
		{"", "사람과 이야기하고 싶어요, talk to a person", "ko"},
		{"tlh", "I want to talk to a person please", "en"},
	} {
		t.Run(tc.hello+"/"+tc.want, func(t *testing.T) {
			v := newVisitorIn(t, r, tc.hello)
			v.send(tc.say)
			want := set.Relay(tc.want, "handoffOnline") // Mei is online
			v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && m.Text == want })
			joined := set.Relay(tc.want, "joined", "name", "Mei")
			v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && m.Text == joined })
			con.send(fmt.Sprintf(`{"type":"close","conversation_id":%q}`, v.conv))
			closed := set.Relay(tc.want, "closed")
			got := v.waitMsg(func(m protocol.Message) bool { return m.From == "system" && m.Text == closed })
			if tc.want != "en" && strings.Contains(got.Text, "conversation") {
				t.Errorf("closed message in English: %q", got.Text)
			}
		})
	}
}
