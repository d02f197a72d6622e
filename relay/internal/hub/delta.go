package hub

import (
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/jsonx"
	"github.com/kefuhq/kefu/relay/protocol"
)

// appendDelta appends d as json.Marshal encodes it, byte for byte
// (FuzzDeltaFrame holds it to that), without reflection: a streamed
// answer sends one delta frame per word, and encoding/json was the
// largest cost of a delta after the socket write.
func appendDelta(b []byte, d *protocol.Delta) []byte {
	b = append(b, `{"type":`...)
	b = jsonx.AppendString(b, d.Type)
	b = append(b, `,"conversation_id":`...)
	b = jsonx.AppendString(b, d.ConversationID)
	b = append(b, `,"stream_id":`...)
	b = jsonx.AppendString(b, d.StreamID)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(d.Index), 10)
	b = append(b, `,"text":`...)
	b = jsonx.AppendString(b, d.Text)
	if d.Done {
		b = append(b, `,"done":true`...)
	}
	return append(b, '}')
}
