package boltdb

import (
	"encoding/json"
	"strconv"

	"github.com/kefuhq/kefu/relay/internal/jsonx"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// encodeVisitor is json.Marshal(*v), byte for byte (FuzzEncodeVisitor),
// without reflection for the visitors most records are: no traits and no
// contact (those go to json.Marshal). Every new visitor is one, and so is
// every visit's context update: reflection was a third of what encoding
// a new visitor's records left for the GC (issue 16).
func encodeVisitor(v *store.Visitor) ([]byte, error) {
	if len(v.Traits) > 0 || v.Contact != nil {
		return json.Marshal(v)
	}
	n := 120 + len(v.ID) + len(v.ConversationID) + len(v.Fingerprint) + len(v.Lang)
	if c := v.Context; c != nil {
		n += 160 + len(c.Browser) + len(c.OS) + len(c.Locale) + len(c.TimeZone) + len(c.Referrer)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"id":`...)
	b = jsonx.AppendString(b, v.ID)
	b = append(b, `,"conversation_id":`...)
	b = jsonx.AppendString(b, v.ConversationID)
	b = optString(b, `,"fingerprint":`, v.Fingerprint)
	b = optString(b, `,"lang":`, v.Lang)
	ok := true
	if c := v.Context; c != nil {
		b = append(b, `,"context":{`...)
		mark := len(b)
		field := func(key string) {
			if len(b) > mark {
				b = append(b, ',')
			}
			b = append(b, key...)
		}
		for _, f := range [...]struct{ key, val string }{
			{`"browser":`, c.Browser}, {`"os":`, c.OS}, {`"locale":`, c.Locale},
			{`"time_zone":`, c.TimeZone}, {`"referrer":`, c.Referrer},
		} {
			if f.val != "" {
				field(f.key)
				b = jsonx.AppendString(b, f.val)
			}
		}
		if c.Visits != 0 {
			field(`"visits":`)
			b = strconv.AppendInt(b, int64(c.Visits), 10)
		}
		if !c.VisitStart.IsZero() && ok {
			field(`"visit_start":`)
			b, ok = jsonx.AppendTime(b, c.VisitStart)
		}
		if !c.LastSeen.IsZero() && ok {
			field(`"last_seen":`)
			b, ok = jsonx.AppendTime(b, c.LastSeen)
		}
		b = append(b, '}')
	}
	b = append(b, `,"created_at":`...)
	b, created := jsonx.AppendTime(b, v.CreatedAt)
	if !ok || !created {
		return json.Marshal(v) // a time MarshalJSON refuses: its error
	}
	return append(b, '}'), nil
}
