package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Internal notes travel on a topic of their own, which only agent sockets
// ever subscribe to: the visitor's socket, event streams and replays read
// the conversation's topic and messages, where a note never is (notes are
// not messages in the store either). That is the whole guarantee that a
// note cannot reach a visitor, and TestNoteNeverReachesTheVisitor checks
// it on the wire.

// NotesTopic is the hub topic of a conversation's notes.
func NotesTopic(convID string) string { return "n:" + convID }

// NoteFrame is the frame of a stored note.
func NoteFrame(n store.Note) hub.Frame {
	return hub.NewFrame(protocol.Note{
		Type: protocol.TypeNote, ConversationID: n.ConversationID, ID: n.ID, ClientID: n.ClientID,
		AuthorID: n.AuthorID, Author: n.Author, Text: n.Text, TS: n.Time.UnixMilli(), AfterSeq: n.AfterSeq,
	})
}

// watchNotes subscribes c to a conversation's notes and sends those
// stored. Subscribing first means a note added meanwhile may come twice,
// never not at all; consoles keep notes by id.
func (h *Handler) watchNotes(c *hub.Conn, convID string) error {
	h.hub.Subscribe(NotesTopic(convID), c)
	notes, err := h.store.Notes(convID)
	if err != nil {
		return fmt.Errorf("agent: notes of %s: %w", convID, err)
	}
	for _, n := range notes {
		c.Send(NoteFrame(n))
	}
	return nil
}

// note stores an agent's internal note and shows it to every console
// watching the conversation.
func (s *session) note(ctx context.Context, f *protocol.AgentNote) error {
	if len(f.Text) > s.h.opts.MaxMessageBytes {
		return protocol.Errorf(protocol.CodeMessageTooLong, fmt.Sprintf("note is %d bytes; the limit is %d", len(f.Text), s.h.opts.MaxMessageBytes))
	}
	n, dup, err := s.h.store.AddNote(ctx, f.ConversationID, store.NewNote{ClientID: f.ID, AuthorID: s.acct.ID, Author: s.acct.Name, Text: f.Text})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "no such conversation")
	case errors.Is(err, store.ErrTooMany):
		return protocol.Errorf(protocol.CodeConflict, fmt.Sprintf("a conversation holds at most %d notes", store.MaxNotes))
	case err != nil:
		s.h.log.Error("agent: store note", "conversation", f.ConversationID, "err", err)
		return protocol.Errorf(protocol.CodeStorage, "")
	}
	if !s.watched[f.ConversationID] {
		// The author sees the conversation they wrote in, note included.
		if err := s.h.watch(s.c, f.ConversationID, 0); err == nil {
			s.watched[f.ConversationID] = true
		}
	}
	if !dup {
		s.h.hub.Publish(NotesTopic(f.ConversationID), NoteFrame(n))
	}
	s.c.Send(hub.NewFrame(protocol.Ack{Type: protocol.TypeAck, ID: f.ID, ConversationID: f.ConversationID, Duplicate: dup, Note: true}))
	return nil
}
