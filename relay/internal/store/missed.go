package store

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/protocol"
)

// MissedReader is what RecentMissed reads: every backend is one.
type MissedReader interface {
	Conversations(keep func(*Conversation) bool) ([]Conversation, error)
	Messages(convID string, after uint64, limit int) ([]Message, error)
}

// Missed returns the visitor messages of one transcript that no FAQ
// intent answered: not marked by the browser's instant answer, and no bot
// message with an intent before the visitor's next message (the relay's
// own classification). They went to the AI or a person (issue 14).
func Missed(msgs []Message) []Message {
	var out []Message
	for i, m := range msgs {
		if m.From != protocol.FromVisitor || m.Intent != "" || strings.TrimSpace(m.Text) == "" {
			continue
		}
		answered := false
		for _, n := range msgs[i+1:] {
			if n.From == protocol.FromVisitor {
				break
			}
			if n.From == protocol.FromBot && n.Intent != "" {
				answered = true
				break
			}
		}
		if !answered {
			out = append(out, m)
		}
	}
	return out
}

// RecentMissed returns the missed questions (Missed) of the at most
// maxConversations conversations most recently active since since,
// newest question first, and how many conversations it read. Derived
// from the stored messages, they need no record of their own, and an
// erased visitor's questions are gone with their messages.
func RecentMissed(st MissedReader, since time.Time, maxConversations int) ([]Message, int, error) {
	convs, err := st.Conversations(func(c *Conversation) bool { return c.UpdatedAt.After(since) && c.LastSeq > 0 })
	if err != nil {
		return nil, 0, err
	}
	// A scan may list a conversation twice (a JetStream KV scan on a
	// cluster can, before the fix on the cluster branch): read each once.
	seen := map[string]bool{}
	convs = slices.DeleteFunc(convs, func(c Conversation) bool {
		dup := seen[c.ID]
		seen[c.ID] = true
		return dup
	})
	sort.Slice(convs, func(i, j int) bool { return convs[i].UpdatedAt.After(convs[j].UpdatedAt) })
	convs = convs[:min(len(convs), maxConversations)]
	var out []Message
	for _, c := range convs {
		msgs, err := st.Messages(c.ID, 0, 0)
		if err != nil {
			return nil, 0, err
		}
		for _, m := range Missed(msgs) {
			if m.Time.After(since) {
				out = append(out, m)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, len(convs), nil
}
