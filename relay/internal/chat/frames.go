// Package chat turns stored conversation events into frames and fans them
// out through the hub: every stored message reaches every connection
// watching its conversation, in seq order.
package chat

import (
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/jsonx"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// MessageOf is the wire form of a stored message.
func MessageOf(m store.Message) protocol.Message {
	out := protocol.Message{
		Type: protocol.TypeMessage, ConversationID: m.ConversationID, Seq: m.Seq, ID: m.ClientID,
		From: m.From, Author: m.Author, Text: m.Text, TS: m.Time.UnixMilli(),
		Intent: m.Intent, Via: m.Via, Incomplete: m.Incomplete, StreamID: m.StreamID,
	}
	if a := m.Attachment; a != nil {
		out.Attachment = &protocol.Attachment{ID: a.ID, Name: a.Name, Type: a.Type, Size: a.Size, Width: a.Width, Height: a.Height, Thumb: a.ThumbType != ""}
	}
	if r := m.Rating; r != nil {
		out.Rating = &protocol.Rating{Score: r.Score, Comment: r.Comment}
	}
	if p := m.Page; p != nil {
		out.PageURL, out.PageTitle = p.URL, p.Title
	}
	return out
}

// MessageFrame is the frame for a stored message.
func MessageFrame(m store.Message) hub.Frame {
	var f hub.Frame
	if out := MessageOf(m); out.Attachment == nil && out.Rating == nil {
		f.Data = appendMessage(make([]byte, 0, 128+len(out.Text)+len(out.Author)), &out)
	} else {
		f = hub.NewFrame(out)
	}
	f.Conv, f.Seq = m.ConversationID, m.Seq
	return f
}

// appendMessage appends m (no attachment, no rating) as json.Marshal
// writes it, byte for byte (FuzzMessageFrame), without reflection: every
// stored message leaves as one of these.
func appendMessage(b []byte, m *protocol.Message) []byte {
	b = append(b, `{"type":`...)
	b = jsonx.AppendString(b, m.Type)
	b = append(b, `,"conversation_id":`...)
	b = jsonx.AppendString(b, m.ConversationID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, m.Seq, 10)
	b = optString(b, `,"id":`, m.ID)
	b = append(b, `,"from":`...)
	b = jsonx.AppendString(b, m.From)
	b = optString(b, `,"author":`, m.Author)
	b = append(b, `,"text":`...)
	b = jsonx.AppendString(b, m.Text)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, m.TS, 10)
	b = optString(b, `,"intent":`, m.Intent)
	b = optString(b, `,"via":`, m.Via)
	if m.Incomplete {
		b = append(b, `,"incomplete":true`...)
	}
	b = optString(b, `,"stream_id":`, m.StreamID)
	b = optString(b, `,"page_url":`, m.PageURL)
	b = optString(b, `,"page_title":`, m.PageTitle)
	return append(b, '}')
}

// optString appends key and s unless s is empty (omitempty).
func optString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return jsonx.AppendString(append(b, key...), s)
}

// ConversationFrame tells clients who handles a conversation.
func ConversationFrame(c store.Conversation, handlerName string) hub.Frame {
	return hub.NewFrame(protocol.Conversation{
		Type: protocol.TypeConversation, ConversationID: c.ID, Status: c.Status,
		Handler: c.Handler, HandlerName: handlerName,
	})
}

// Topic is the hub topic of a conversation.
func Topic(convID string) string { return "c:" + convID }

// VisitorTopic is where the visitor's own connections to a conversation
// also subscribe (nothing is published on it): whether they have it open
// now, which agents watching Topic would hide.
func VisitorTopic(convID string) string { return "v:" + convID }

// AvailabilityTopic is where every visitor connection subscribes for the
// team's availability (protocol.Availability), published on each node to
// its own visitors.
const AvailabilityTopic = "availability"
