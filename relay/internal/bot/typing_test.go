package bot_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/client"
	"github.com/kefuhq/kefu/relay/internal/ai/openaitest"
	"github.com/kefuhq/kefu/relay/internal/app/apptest"
	"github.com/kefuhq/kefu/relay/protocol"
)

// The bot shows it is typing from the answer's start and takes that down
// once, right after the first piece: never before it (the piece must not
// wait for the indicator), never later than it.
func TestBotTypingUntilTheFirstPiece(t *testing.T) {
	up := openaitest.New(t, openaitest.Options{Text: "Orders ship within one business day.", Words: true})
	r := apptest.Start(t, withAI(up))
	v := dial(t, r, client.Options{})
	v.send("tell me about your company")
	v.waitMessage(fromBot("ai"))
	var seen []string
	add := func(s string) {
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
	}
	for _, e := range v.events() {
		switch e.typ {
		case protocol.TypeTyping:
			var f protocol.TypingOut
			if err := json.Unmarshal(e.raw, &f); err != nil {
				t.Fatalf("%s: %v", e.raw, err)
			}
			if f.From != protocol.FromBot {
				continue
			}
			if f.On {
				add("typing")
			} else {
				add("typing off")
			}
		case protocol.TypeDelta:
			add("piece")
		}
	}
	if got, want := strings.Join(seen, ", "), "typing, piece, typing off, piece"; got != want {
		t.Errorf("the bot's frames: %s; want %s", got, want)
	}
}
