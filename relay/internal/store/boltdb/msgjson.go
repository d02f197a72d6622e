package boltdb

import (
	"encoding/json"
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/jsonx"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// encodeMessage is json.Marshal(m), byte for byte (FuzzEncodeMessage),
// written by hand for the plain message (no attachment, no rating): the
// writer encodes every message it appends, and reflection was ~40 % of
// that.
func encodeMessage(m *store.Message) ([]byte, error) {
	if m.Attachment != nil || m.Rating != nil {
		return marshalMessage(*m)
	}
	b := make([]byte, 0, 160+len(m.Text)+len(m.Author))
	b = append(b, `{"conversation_id":`...)
	b = jsonx.AppendString(b, m.ConversationID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, m.Seq, 10)
	b = optString(b, `,"client_id":`, m.ClientID)
	b = append(b, `,"from":`...)
	b = jsonx.AppendString(b, m.From)
	b = optString(b, `,"author_id":`, m.AuthorID)
	b = optString(b, `,"author":`, m.Author)
	b = append(b, `,"text":`...)
	b = jsonx.AppendString(b, m.Text)
	b = append(b, `,"time":`...)
	b, ok := jsonx.AppendTime(b, m.Time)
	if !ok {
		return marshalMessage(*m)
	}
	b = optString(b, `,"intent":`, m.Intent)
	b = optString(b, `,"via":`, m.Via)
	if m.Incomplete {
		b = append(b, `,"incomplete":true`...)
	}
	b = optString(b, `,"stream_id":`, m.StreamID)
	if p := m.Page; p != nil {
		b = append(b, `,"page":{"url":`...)
		b = jsonx.AppendString(b, p.URL)
		b = optString(b, `,"title":`, p.Title)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// marshalMessage is encodeMessage's way out to json.Marshal, given a copy:
// handing it m itself would move every caller's message to the heap.
func marshalMessage(m store.Message) ([]byte, error) { return json.Marshal(&m) }

// optString appends key and s unless s is empty (omitempty).
func optString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return jsonx.AppendString(append(b, key...), s)
}
