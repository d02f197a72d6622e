package boltdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// convFacts is what the check keeps of a conversation record.
type convFacts struct {
	visitor string
	lastSeq uint64
}

// msgFacts is what the check learnt of a conversation's messages.
type msgFacts struct {
	max uint64 // the newest seq stored, damaged or not
	// The conversation's entries in the message log, which follow the
	// messages tree's: seq → log key.
	logged map[uint64][]byte
	logMax uint64
}

// ref is a record that names another: its key, and the id it names.
type ref struct {
	key []byte
	to  string
}

// recordSpec reads one bucket's records. Buckets are read in this order so
// that the keys a damaged bucket may resume from (hints) are known when
// it is read.
type recordSpec struct {
	name   []byte
	record func(c *checker, k, v []byte)
}

func specs() []recordSpec {
	return []recordSpec{
		{bucketMeta, (*checker).meta},
		{bucketTokens, (*checker).token},
		{bucketUsernames, (*checker).username},
		{bucketAccounts, (*checker).account},
		{bucketSessions, (*checker).session},
		{bucketVisitors, (*checker).visitor},
		{bucketConversations, (*checker).conversation},
		{bucketMessages, (*checker).message},
		{bucketLog, (*checker).logEntry},
		{bucketSettings, func(*checker, []byte, []byte) {}}, // documents are checked by their owners when loaded
		{bucketEvents, (*checker).event},
		{bucketDocs, (*checker).doc},
		{bucketUploads, (*checker).upload},
		{bucketUploadParts, func(*checker, []byte, []byte) {}}, // bytes; an upload's reader checks they add up
		{bucketAttachments, (*checker).attachment},
		{bucketFiles, func(*checker, []byte, []byte) {}}, // bytes; a file's reader checks they add up
		{bucketNotes, (*checker).notes},
		{bucketIdentities, (*checker).identity},
	}
}

func (c *checker) upload(k, v []byte) {
	var u store.Upload
	if err := decode(v, &u); err != nil {
		c.bad("uploads", k, "%v", err)
		return
	}
	if string(k) != u.ConversationID+u.ID {
		c.bad("uploads", k, "record is upload %q of conversation %q: not this key's upload", u.ID, u.ConversationID)
	}
}

func (c *checker) attachment(k, v []byte) {
	var a store.Attachment
	if err := decode(v, &a); err != nil {
		c.bad("attachments", k, "%v", err)
		return
	}
	if string(k) != a.ConversationID+a.ID || a.Type == "" {
		c.bad("attachments", k, "record is attachment %q of conversation %q: not this key's attachment", a.ID, a.ConversationID)
	}
}

func (c *checker) notes(k, v []byte) {
	var notes []store.Note
	if err := decode(v, &notes); err != nil {
		c.bad("notes", k, "%v", err)
	}
}

func (c *checker) meta(k, v []byte) {
	if bytes.Equal(k, keySchema) && len(v) != 8 {
		c.bad("meta", k, "schema version is %d bytes, want 8", len(v))
	}
}

func (c *checker) token(k, v []byte) {
	if len(v) != store.IDLen {
		c.bad("tokens", k, "not a token hash → visitor id record")
		return
	}
	c.tokens = append(c.tokens, ref{append([]byte(nil), k...), string(v)})
	c.hints["visitors"] = append(c.hints["visitors"], append([]byte(nil), v...))
}

// identity is an entry of the identity index: the key's 16 bytes and a
// visitor id, no value. One naming a visitor gone (repair quarantined it)
// is harmless: lookups read each visitor.
func (c *checker) identity(k, v []byte) {
	if len(k) != 16+store.IDLen || len(v) != 0 {
		c.bad("identities", k, "not an identity key ‖ visitor id entry")
	}
}

func (c *checker) username(k, v []byte) {
	if len(k) == 0 || !bytes.Equal(k, usernameKey(string(k))) || len(v) == 0 {
		c.bad("usernames", k, "not a username → account id record")
		return
	}
	c.usernames[string(k)] = string(v)
	c.hints["accounts"] = append(c.hints["accounts"], append([]byte(nil), v...))
}

func (c *checker) account(k, v []byte) {
	var a store.Account
	if err := decode(v, &a); err != nil {
		c.bad("accounts", k, "%v", err)
		return
	}
	if a.ID != string(k) || a.Username == "" || a.PasswordHash == "" {
		c.bad("accounts", k, "record names account %q, username %q: not this key's account", a.ID, a.Username)
		return
	}
	c.accounts[a.ID] = string(usernameKey(a.Username))
}

func (c *checker) session(k, v []byte) {
	// A session of an unknown account is harmless (it signs nobody in)
	// and expires: only its encoding is checked.
	var s store.Session
	if err := decode(v, &s); err != nil {
		c.bad("sessions", k, "%v", err)
	}
}

func (c *checker) visitor(k, v []byte) {
	var vis store.Visitor
	if err := decode(v, &vis); err != nil {
		c.bad("visitors", k, "%v", err)
		return
	}
	if vis.ID != string(k) || len(vis.ConversationID) != store.IDLen {
		c.bad("visitors", k, "record names visitor %q with conversation %q: not this key's visitor", vis.ID, vis.ConversationID)
		return
	}
	c.visitors[vis.ID] = vis.ConversationID
	c.hints["conversations"] = append(c.hints["conversations"], []byte(vis.ConversationID))
	c.hints["messages"] = append(c.hints["messages"], []byte(vis.ConversationID))
}

func (c *checker) conversation(k, v []byte) {
	var conv store.Conversation
	if err := decode(v, &conv); err != nil {
		c.bad("conversations", k, "%v", err)
		return
	}
	if conv.ID != string(k) || conv.VisitorID == "" || conv.Status == "" || conv.Handler == "" {
		c.bad("conversations", k, "record names conversation %q of visitor %q: not this key's conversation", conv.ID, conv.VisitorID)
		return
	}
	c.convs[conv.ID] = convFacts{visitor: conv.VisitorID, lastSeq: conv.LastSeq}
	c.hints["messages"] = append(c.hints["messages"], []byte(conv.ID))
}

// message reads the messages bucket: conversation id ‖ seq → message, then
// conversation id ‖ 0xff ‖ client id → seq, in key order.
func (c *checker) message(k, v []byte) {
	if len(k) <= store.IDLen {
		c.bad("messages", k, "key is neither a message nor a client id")
		return
	}
	conv := string(k[:store.IDLen])
	if conv != c.curConv {
		c.curConv, c.curIDs, c.curBad, c.expectSeq = conv, map[string]uint64{}, map[uint64]bool{}, 1
	}
	if k[store.IDLen] == clientIDMarker {
		seq, ok := c.curIDs[string(k[store.IDLen+1:])]
		switch {
		case len(v) == 8 && c.curBad[binary.BigEndian.Uint64(v)]:
			// Its message is set aside, so must it be: a resend of this
			// id is then stored anew instead of failing on a lost message.
			c.bad("messages", k, "client id of a damaged message")
		case len(v) != 8 || !ok || binary.BigEndian.Uint64(v) != seq:
			c.bad("messages", k, "client id does not point at its message")
		}
		return
	}
	if len(k) != store.IDLen+8 {
		c.bad("messages", k, "key is neither a message nor a client id")
		return
	}
	seq := binary.BigEndian.Uint64(k[store.IDLen:])
	if seq == 0 || seq-c.expectSeq > maxGapFill && seq > c.expectSeq {
		c.bad("messages", k, "seq %d is far beyond the conversation's others", seq)
		return
	}
	for ; c.expectSeq < seq; c.expectSeq++ {
		c.gap(conv, c.expectSeq)
	}
	c.expectSeq = seq + 1
	f := c.msgs[conv]
	if f == nil {
		f = &msgFacts{}
		c.msgs[conv] = f
	}
	f.max = seq // used, even by a damaged record
	var m store.Message
	if err := decode(v, &m); err != nil {
		c.curBad[seq] = true
		c.bad("messages", k, "%v", err)
		return
	}
	if m.ConversationID != conv || m.Seq != seq || m.From == "" {
		c.curBad[seq] = true
		c.bad("messages", k, "record is message %d of conversation %q: not this key's message", m.Seq, m.ConversationID)
		return
	}
	if m.ClientID != "" {
		c.curIDs[m.ClientID] = seq
	}
}

// gap notes a message seq that is neither stored nor set aside.
func (c *checker) gap(conv string, seq uint64) {
	k := messageKey(conv, seq)
	if c.quar["messages"][string(k)] {
		return
	}
	c.add(finding{area: "messages", key: k, fix: fixGap, conv: conv, seq: seq, Problem: store.Problem{Err: "message missing: the conversation's seqs jump over it"}})
}

// maxGapFill bounds the lost seqs noted one by one at a conversation's
// end; a last seq further ahead than this is itself the damage.
const maxGapFill = 1000

// cross follows the links between records once every bucket was read.
func (c *checker) cross() {
	claimants := map[string][]string{} // conversation id → visitors naming it
	for id, conv := range sortedMap(c.visitors) {
		claimants[conv] = append(claimants[conv], id)
	}
	for id, conv := range sortedMap(c.visitors) {
		cf, ok := c.convs[conv]
		switch {
		case !ok:
			// Rebuilt even when the damaged record was set aside: the
			// visitor must be able to carry on.
			c.add(finding{area: "visitors", key: []byte(id), fix: fixConv, conv: conv, id: id, Problem: store.Problem{Err: "its conversation " + conv + " is missing"}})
		case cf.visitor != id:
			if _, other := c.visitors[cf.visitor]; other {
				c.bad("visitors", []byte(id), "claims conversation %s, which belongs to visitor %s", conv, cf.visitor)
			}
		}
	}
	for id, cf := range sortedMap(c.convs) {
		if _, ok := c.visitors[cf.visitor]; !ok {
			if cl := claimants[id]; len(cl) == 1 {
				c.add(finding{area: "conversations", key: []byte(id), fix: fixConvOwner, conv: id, id: cl[0], Problem: store.Problem{Err: "names visitor " + cf.visitor + ", which is missing; visitor " + cl[0] + " has this conversation"}})
			} else {
				c.add(finding{area: "conversations", key: []byte(id), fix: fixVisitor, conv: id, id: cf.visitor, Problem: store.Problem{Err: "its visitor " + cf.visitor + " is missing"}})
			}
		}
		var tree, newest uint64
		var logged map[uint64][]byte
		if f := c.msgs[id]; f != nil {
			tree, newest, logged = f.max, max(f.max, f.logMax), f.logged
		}
		switch {
		case newest > cf.lastSeq, cf.lastSeq-newest > maxGapFill:
			c.add(finding{area: "conversations", key: []byte(id), fix: fixLastSeq, conv: id, seq: newest, Problem: store.Problem{Err: fmt.Sprintf("last seq %d does not match its newest message %d", cf.lastSeq, newest)}})
		default:
			for seq := tree + 1; seq <= cf.lastSeq; seq++ {
				if logged[seq] == nil {
					c.gap(id, seq) // the newest messages are missing
				}
			}
		}
	}
	for conv, f := range sortedMap(c.msgs) {
		if _, ok := c.convs[conv]; !ok && len(claimants[conv]) == 0 {
			if f.max > 0 {
				c.add(finding{area: "messages", key: []byte(conv), fix: fixOrphans, conv: conv, Problem: store.Problem{Err: fmt.Sprintf("messages up to seq %d of a conversation with neither a record nor a visitor", f.max)}})
			}
			for _, k := range sortedLog(f.logged) {
				c.bad("log", k, "a message of conversation %s, which has neither a record nor a visitor", conv)
			}
		}
	}
	for _, t := range c.tokens {
		// A token of a visitor set aside stays: the visitor is rebuilt when
		// its conversation remains, and an unknown visitor is a new one.
		if _, ok := c.visitors[t.to]; !ok && !c.quar["visitors"][t.to] {
			c.bad("tokens", t.key, "points at visitor %s, which is missing", t.to)
		}
	}
	for name, id := range sortedMap(c.usernames) {
		if c.accounts[id] != name {
			c.bad("usernames", []byte(name), "points at account %s, which is missing or has another username", id)
		}
	}
	for id, name := range sortedMap(c.accounts) {
		if _, ok := c.usernames[name]; !ok {
			c.add(finding{area: "accounts", key: []byte(id), fix: fixUsername, id: id, Problem: store.Problem{Err: "username " + name + " is missing from the index"}})
		}
	}
}

// sortedMap iterates a map in key order, so reports are stable.
func sortedMap[V any](m map[string]V) func(yield func(string, V) bool) {
	return func(yield func(string, V) bool) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}

func (c *checker) event(k, v []byte) {
	var r eventRecord
	if len(k) != 8 {
		c.bad("events", k, "key is %d bytes, want 8", len(k))
		return
	}
	if err := decode(v, &r); err != nil {
		c.bad("events", k, "%v", err)
		return
	}
	if r.Type == "" || r.Conv == "" {
		c.bad("events", k, "an event without a type or conversation")
	}
}

func (c *checker) doc(k, v []byte) {
	// The data is the notifiers' (they skip what they cannot decode); the
	// frame is the store's.
	if i := bytes.IndexByte(k, 0); i <= 0 || i == len(k)-1 || len(v) < 8 {
		c.bad("docs", k, "not a kind ‖ 0 ‖ key → revision ‖ document record")
	}
}

// logEntry reads the message log: position → message, each following its
// conversation's messages in the messages tree (read before it), or one of
// those already moved there.
func (c *checker) logEntry(k, v []byte) {
	if len(k) != 8 {
		c.bad("log", k, "key is %d bytes, want 8", len(k))
		return
	}
	var m store.Message
	if err := decode(v, &m); err != nil {
		c.bad("log", k, "%v", err)
		return
	}
	if len(m.ConversationID) != store.IDLen || m.Seq == 0 || m.From == "" {
		c.bad("log", k, "record is message %d of conversation %q: not a message", m.Seq, m.ConversationID)
		return
	}
	f := c.msgs[m.ConversationID]
	if f == nil {
		f = &msgFacts{}
		c.msgs[m.ConversationID] = f
	}
	switch {
	case m.Seq <= f.max:
		// Moved: it stays until the log's prefix before it is moved too
		// (log.go), and is read from the tree.
	case f.logged[m.Seq] != nil:
		c.bad("log", k, "message %d of conversation %s is in the log twice", m.Seq, m.ConversationID)
	default:
		if f.logged == nil {
			f.logged = map[uint64][]byte{}
		}
		f.logged[m.Seq] = bytes.Clone(k)
		f.logMax = max(f.logMax, m.Seq)
	}
}

// sortedLog lists a conversation's log keys in seq order.
func sortedLog(logged map[uint64][]byte) [][]byte {
	seqs := make([]uint64, 0, len(logged))
	for seq := range logged {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	keys := make([][]byte, len(seqs))
	for i, seq := range seqs {
		keys[i] = logged[seq]
	}
	return keys
}
