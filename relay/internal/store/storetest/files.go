package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// FileStore is a store that keeps uploads, attachments and notes beside
// its conversations (the relay's backends; not the edge's).
type FileStore interface {
	EraseStore
	CreateUpload(ctx context.Context, u store.Upload) (store.Upload, bool, error)
	Upload(convID, id string) (store.Upload, error)
	AppendUpload(ctx context.Context, convID, id string, offset int64, data []byte) (store.Upload, error)
	UploadData(convID, id string) ([]byte, error)
	DeleteUpload(ctx context.Context, convID, id string) error
	Uploads(convID string) ([]store.Upload, error)
	StaleUploads(before time.Time, limit int) ([]store.Upload, error)
	PutAttachment(ctx context.Context, a store.Attachment, data, thumb []byte) error
	Attachment(convID, id string, thumb bool) (store.Attachment, []byte, error)
	Attachments(convID string) ([]store.Attachment, error)
	DeleteAttachments(ctx context.Context, convIDs []string) (int, error)
	AddNote(ctx context.Context, convID string, n store.NewNote) (store.Note, bool, error)
	Notes(convID string) ([]store.Note, error)
}

// Files runs the checks of uploads, attachments, notes and ratings.
func Files[S FileStore](t *testing.T, b Backend[S]) {
	g := b.group(t)
	defer g.wait()
	g.run("Uploads", func(t *testing.T) { testUploads(t, b) })
	g.run("UploadRace", func(t *testing.T) { testUploadRace(t, b) })
	g.run("Attachments", func(t *testing.T) { testAttachments(t, b) })
	g.run("Quota", func(t *testing.T) { testQuota(t, b) })
	g.run("EraseFiles", func(t *testing.T) { testEraseFiles(t, b) })
	g.run("Notes", func(t *testing.T) { testNotes(t, b) })
	g.run("RichMessages", func(t *testing.T) { testRichMessages(t, b) })
}

// pattern returns n bytes that differ at every offset a part could start.
func pattern(n int, seed byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(i*31) ^ byte(i>>8) ^ seed
	}
	return out
}

func newUpload(convID, id string, size int64) store.Upload {
	now := time.Now()
	return store.Upload{ConversationID: convID, ID: id, AttachmentID: store.NewID(), Name: "photo.png", Size: size,
		From: protocol.FromVisitor, CreatedAt: now, UpdatedAt: now}
}

func testUploads[S FileStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	const size = store.MaxUploadPart*2 + 1000
	data := pattern(size, 7)
	u, existed, err := s.CreateUpload(bg, newUpload(c.ID, "up-1", size))
	if err != nil || existed || u.Offset != 0 || u.Size != size {
		t.Fatalf("CreateUpload = %+v, %v, %v", u, existed, err)
	}
	// The same id again (a lost answer) finds the same upload.
	again, existed, err := s.CreateUpload(bg, newUpload(c.ID, "up-1", 5))
	if err != nil || !existed || again.AttachmentID != u.AttachmentID || again.Size != size {
		t.Fatalf("CreateUpload again = %+v, %v, %v; want the first, existed", again, existed, err)
	}
	if _, _, err := s.CreateUpload(bg, newUpload("nosuchconversat", "up-1", 5)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateUpload in an unknown conversation: %v, want ErrNotFound", err)
	}
	// Parts in order; a wrong offset or an overflow changes nothing.
	off := int64(0)
	for off < size {
		n := min(int64(store.MaxUploadPart), size-off)
		if off > 0 {
			if _, err := s.AppendUpload(bg, c.ID, "up-1", off-1, data[off-1:off]); !errors.Is(err, store.ErrOffset) {
				t.Fatalf("a part at a stale offset: %v, want ErrOffset", err)
			}
		}
		got, err := s.AppendUpload(bg, c.ID, "up-1", off, data[off:off+n])
		if err != nil || got.Offset != off+n {
			t.Fatalf("AppendUpload at %d = %+v, %v", off, got, err)
		}
		off += n
	}
	if _, err := s.AppendUpload(bg, c.ID, "up-1", size, []byte("x")); !errors.Is(err, store.ErrUploadFull) {
		t.Errorf("a byte past the announced size: %v, want ErrUploadFull", err)
	}
	if _, err := s.AppendUpload(bg, c.ID, "up-1", 0, make([]byte, store.MaxUploadPart+1)); err == nil {
		t.Error("a part over MaxUploadPart was taken")
	}
	if _, err := s.AppendUpload(bg, c.ID, "nosuch", 0, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AppendUpload to an unknown upload: %v, want ErrNotFound", err)
	}
	read, err := s.Upload(c.ID, "up-1")
	if err != nil || read.Offset != size {
		t.Errorf("Upload = %+v, %v", read, err)
	}
	got, err := s.UploadData(c.ID, "up-1")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("UploadData = %d bytes (equal: %v), %v; want the %d sent", len(got), bytes.Equal(got, data), err, len(data))
	}
	// Another upload of the same conversation, and listings.
	if _, _, err := s.CreateUpload(bg, newUpload(c.ID, "up-2", 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(bg, c.ID, "up-2", 0, []byte("half")); err != nil {
		t.Fatal(err)
	}
	ups, err := s.Uploads(c.ID)
	if err != nil || len(ups) != 2 {
		t.Fatalf("Uploads = %+v, %v; want 2", ups, err)
	}
	stale, err := s.StaleUploads(time.Now().Add(time.Minute), 10)
	if err != nil || len(stale) != 2 {
		t.Errorf("StaleUploads(a minute ahead) = %d, %v; want 2", len(stale), err)
	}
	if stale, err := s.StaleUploads(time.Now().Add(-time.Hour), 10); err != nil || len(stale) != 0 {
		t.Errorf("StaleUploads(an hour ago) = %d, %v; want none", len(stale), err)
	}
	if err := s.DeleteUpload(bg, c.ID, "up-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUpload(bg, c.ID, "up-1"); err != nil {
		t.Errorf("deleting a deleted upload: %v", err)
	}
	if _, err := s.UploadData(c.ID, "up-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UploadData after delete: %v, want ErrNotFound", err)
	}
	if got, err := s.UploadData(c.ID, "up-2"); err != nil || string(got) != "half" {
		t.Errorf("the other upload after a delete: %q, %v", got, err)
	}
	// Reusing a deleted id starts afresh.
	u3, existed, err := s.CreateUpload(bg, newUpload(c.ID, "up-1", 3))
	if err != nil || existed || u3.Offset != 0 {
		t.Errorf("CreateUpload after delete = %+v, %v, %v", u3, existed, err)
	}
	if got, err := s.UploadData(c.ID, "up-1"); err != nil || len(got) != 0 {
		t.Errorf("a re-created upload holds %d bytes, %v; want none", len(got), err)
	}
}

// testUploadRace sends the same part from several writers (peers when
// the backend has them) at once: exactly one moves the upload, and the
// bytes are the part once.
func testUploadRace[S FileStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	if _, _, err := s.CreateUpload(bg, newUpload(c.ID, "race", 3000)); err != nil {
		t.Fatal(err)
	}
	stores := []S{s, peer(t, b, s), peer(t, b, s)}
	for round := range 3 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i, st := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each writer's part differs: a lost one must not leave its bytes.
				_, err := st.AppendUpload(bg, c.ID, "race", int64(round*1000), pattern(1000, byte(10*round+i)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrOffset):
					t.Errorf("round %d writer %d: %v", round, i, err)
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("round %d: %d writers moved the upload, want 1", round, won)
		}
	}
	got, err := s.UploadData(c.ID, "race")
	if err != nil || len(got) != 3000 {
		t.Fatalf("UploadData = %d bytes, %v", len(got), err)
	}
	for round := range 3 {
		part := got[round*1000 : (round+1)*1000]
		ok := false
		for i := range stores {
			ok = ok || bytes.Equal(part, pattern(1000, byte(10*round+i)))
		}
		if !ok {
			t.Errorf("bytes %d–%d are no writer's whole part", round*1000, (round+1)*1000)
		}
	}
}

func newAttachment(convID string) store.Attachment {
	return store.Attachment{ID: store.NewID(), ConversationID: convID, Name: "broken cup.png", Type: "image/png",
		Width: 640, Height: 480, ThumbType: "image/png", SHA256: "00", From: protocol.FromVisitor, CreatedAt: time.Now()}
}

func testAttachments[S FileStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	_, other := NewVisitor(t, s)
	data, thumb := pattern(store.FileChunk*2+17, 3), pattern(2000, 4)
	a := newAttachment(c.ID)
	if err := s.PutAttachment(bg, a, data, thumb); err != nil {
		t.Fatal(err)
	}
	got, bytesGot, err := s.Attachment(c.ID, a.ID, false)
	if err != nil || !bytes.Equal(bytesGot, data) || got.Size != int64(len(data)) || got.ThumbSize != int64(len(thumb)) || got.Name != a.Name || got.Width != 640 {
		t.Fatalf("Attachment = %+v, %d bytes (equal %v), %v", got, len(bytesGot), bytes.Equal(bytesGot, data), err)
	}
	if _, tb, err := s.Attachment(c.ID, a.ID, true); err != nil || !bytes.Equal(tb, thumb) {
		t.Errorf("thumbnail = %d bytes, %v", len(tb), err)
	}
	// Whole or absent: the same id again keeps the first bytes.
	if err := s.PutAttachment(bg, a, []byte("other bytes"), nil); err != nil {
		t.Errorf("PutAttachment repeated: %v", err)
	}
	if _, again, _ := s.Attachment(c.ID, a.ID, false); !bytes.Equal(again, data) {
		t.Error("a repeated PutAttachment replaced the file")
	}
	// No thumbnail; another conversation; unknown ids.
	plain := newAttachment(c.ID)
	plain.Type, plain.ThumbType, plain.Name = "application/pdf", "", "invoice.pdf"
	if err := s.PutAttachment(bg, plain, []byte("%PDF-1.4 tiny"), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Attachment(c.ID, plain.ID, true); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the thumbnail of a file without one: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Attachment(other.ID, a.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a file asked for under another conversation: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Attachment(c.ID, "nosuchattachmen", false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown file: %v, want ErrNotFound", err)
	}
	if err := s.PutAttachment(bg, newAttachment("nosuchconversat"), []byte("x"), nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutAttachment in an unknown conversation: %v, want ErrNotFound", err)
	}
	list, err := s.Attachments(c.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("Attachments = %+v, %v; want 2", list, err)
	}
	if list, err := s.Attachments(other.ID); err != nil || len(list) != 0 {
		t.Errorf("another conversation's attachments = %+v, %v", list, err)
	}
	// An empty file is a file.
	empty := newAttachment(c.ID)
	empty.Type, empty.ThumbType = "text/plain; charset=utf-8", ""
	if err := s.PutAttachment(bg, empty, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, eb, err := s.Attachment(c.ID, empty.ID, false); err != nil || len(eb) != 0 {
		t.Errorf("an empty file = %d bytes, %v", len(eb), err)
	}
}

// testQuota checks what a visitor's quota is counted from: the files they
// sent and the uploads they started, not the agents'.
func testQuota[S FileStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	usage := func() int64 {
		t.Helper()
		as, err := s.Attachments(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		us, err := s.Uploads(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return store.VisitorUsage(as, us)
	}
	if got := usage(); got != 0 {
		t.Fatalf("usage of a new conversation = %d", got)
	}
	if err := s.PutAttachment(bg, newAttachment(c.ID), pattern(3000, 1), pattern(100, 2)); err != nil {
		t.Fatal(err)
	}
	agentFile := newAttachment(c.ID)
	agentFile.From = protocol.FromAgent
	if err := s.PutAttachment(bg, agentFile, pattern(5000, 1), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateUpload(bg, newUpload(c.ID, "pending", 700)); err != nil {
		t.Fatal(err)
	}
	// A started upload counts whole: that is what it may still bring.
	if got, want := usage(), int64(3000+100+700); got != want {
		t.Errorf("usage = %d, want %d (the visitor's file with its thumbnail, and the upload's announced size)", got, want)
	}
	if err := s.DeleteUpload(bg, c.ID, "pending"); err != nil {
		t.Fatal(err)
	}
	if got, want := usage(), int64(3100); got != want {
		t.Errorf("usage after the upload went = %d, want %d", got, want)
	}
}

func testEraseFiles[S FileStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	// The relay's wiring: attachments go with the erasure's conversations.
	svc := privacy.New(s, privacy.Options{Erasers: []privacy.Eraser{privacy.EraserFunc{ID: "attachments", Fn: func(ctx context.Context, sub privacy.Subject) error {
		_, err := s.DeleteAttachments(ctx, sub.ConversationIDs)
		return err
	}}}})
	ann := newPerson(t, s, map[string]string{"email": "ann@example.com"}, "here is the photo")
	bob := newPerson(t, s, nil, "bob's")
	files := map[string]store.Attachment{}
	for _, p := range []person{ann, bob} {
		a := newAttachment(p.v.ConversationID)
		if err := s.PutAttachment(bg, a, pattern(store.FileChunk+5, 9), []byte("thumb")); err != nil {
			t.Fatal(err)
		}
		files[p.v.ID] = a
		if _, _, err := s.CreateUpload(bg, newUpload(p.v.ConversationID, "half", 100)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendUpload(bg, p.v.ConversationID, "half", 0, []byte("half an upload")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AddNote(bg, p.v.ConversationID, store.NewNote{Text: "note on " + p.v.ID}); err != nil {
			t.Fatal(err)
		}
	}
	// The export lists the agents' notes with the transcript.
	exp, err := svc.Export([]string{ann.v.ID})
	if err != nil || len(exp.Visitors) != 1 || len(exp.Visitors[0].Conversations[0].Notes) != 1 {
		t.Fatalf("export = %+v, %v; want the one note", exp, err)
	}
	r, err := svc.Erase(bg, []string{ann.v.ID}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r.Erasers) != "[attachments]" {
		t.Errorf("erasers run: %v", r.Erasers)
	}
	conv := ann.v.ConversationID
	if _, _, err := s.Attachment(conv, files[ann.v.ID].ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an erased visitor's file: %v, want ErrNotFound", err)
	}
	if _, err := s.UploadData(conv, "half"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an erased visitor's unfinished upload: %v, want ErrNotFound", err)
	}
	if as, err := s.Attachments(conv); err != nil || len(as) != 0 {
		t.Errorf("an erased visitor's attachments: %+v, %v", as, err)
	}
	if ns, err := s.Notes(conv); err != nil || len(ns) != 0 {
		t.Errorf("notes on an erased visitor: %+v, %v", ns, err)
	}
	// Bob keeps everything.
	if _, data, err := s.Attachment(bob.v.ConversationID, files[bob.v.ID].ID, false); err != nil || len(data) != store.FileChunk+5 {
		t.Errorf("bob's file after ann's erasure: %d bytes, %v", len(data), err)
	}
	if data, err := s.UploadData(bob.v.ConversationID, "half"); err != nil || string(data) != "half an upload" {
		t.Errorf("bob's upload after ann's erasure: %q, %v", data, err)
	}
	if ns, err := s.Notes(bob.v.ConversationID); err != nil || len(ns) != 1 {
		t.Errorf("bob's notes after ann's erasure: %+v, %v", ns, err)
	}
	// Deleting a conversation takes its files and notes with it, eraser or not.
	if _, err := s.DeleteConversations(bg, []string{bob.v.ConversationID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteVisitors(bg, []string{bob.v.ID}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Attachment(bob.v.ConversationID, files[bob.v.ID].ID, true); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted conversation's thumbnail: %v, want ErrNotFound", err)
	}
	if ns, err := s.Notes(bob.v.ConversationID); err != nil || len(ns) != 0 {
		t.Errorf("a deleted conversation's notes: %+v, %v", ns, err)
	}
	if us, err := s.Uploads(bob.v.ConversationID); err != nil || len(us) != 0 {
		t.Errorf("a deleted conversation's uploads: %+v, %v", us, err)
	}
	if n, err := s.DeleteAttachments(bg, []string{bob.v.ConversationID, "nosuchconversat"}); err != nil || n != 0 {
		t.Errorf("deleting gone attachments = %d, %v; want 0", n, err)
	}
}

func testNotes[S FileStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	for i := range 3 {
		if _, err := s.Append(bg, c.ID, store.NewMessage{From: "visitor", Text: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	n1, dup, err := s.AddNote(bg, c.ID, store.NewNote{ClientID: "n1", AuthorID: "a1", Author: "Mei", Text: "refund approved"})
	if err != nil || dup || n1.AfterSeq != 3 || n1.ID == "" || n1.Author != "Mei" || n1.ConversationID != c.ID {
		t.Fatalf("AddNote = %+v, %v, %v", n1, dup, err)
	}
	again, dup, err := s.AddNote(bg, c.ID, store.NewNote{ClientID: "n1", Text: "a resend"})
	if err != nil || !dup || again.ID != n1.ID || again.Text != "refund approved" {
		t.Errorf("AddNote resent = %+v, %v, %v; want the first, dup", again, dup, err)
	}
	if _, err := s.Append(bg, c.ID, store.NewMessage{From: "agent", Text: "done"}); err != nil {
		t.Fatal(err)
	}
	n2, _, err := s.AddNote(bg, c.ID, store.NewNote{Text: "no client id"})
	if err != nil || n2.AfterSeq != 4 {
		t.Fatalf("second note = %+v, %v", n2, err)
	}
	notes, err := s.Notes(c.ID)
	if err != nil || len(notes) != 2 || notes[0].ID != n1.ID || notes[1].ID != n2.ID {
		t.Fatalf("Notes = %+v, %v", notes, err)
	}
	// A note is no message: the visitor's reads never see it.
	msgs, err := s.Messages(c.ID, 0, 0)
	if err != nil || len(msgs) != 4 {
		t.Fatalf("Messages = %d, %v", len(msgs), err)
	}
	for _, m := range msgs {
		if m.Text == "refund approved" || m.Text == "no client id" {
			t.Errorf("a note is among the messages: %+v", m)
		}
	}
	if conv, _ := s.Conversation(c.ID); conv.LastSeq != 4 || conv.Preview == "no client id" {
		t.Errorf("a note moved the conversation: %+v", conv)
	}
	if _, _, err := s.AddNote(bg, "nosuchconversat", store.NewNote{Text: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a note on an unknown conversation: %v, want ErrNotFound", err)
	}
	if ns, err := s.Notes("nosuchconversat"); err != nil || len(ns) != 0 {
		t.Errorf("notes of an unknown conversation = %+v, %v", ns, err)
	}
}

// testRichMessages checks a message's file and rating survive storage,
// and that a rating leaves a closed conversation closed.
func testRichMessages[S FileStore](t *testing.T, b Backend[S]) {
	s := b.Open(t, nil)
	_, c := NewVisitor(t, s)
	a := newAttachment(c.ID)
	if _, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "up:1", From: "visitor", Text: a.Name, Attachment: &a}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateConversation(bg, c.ID, func(c *store.Conversation) error { return store.Assign(c, "agent-1", "") }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateConversation(bg, c.ID, store.Close); err != nil {
		t.Fatal(err)
	}
	r, err := s.Append(bg, c.ID, store.NewMessage{ClientID: "r1", From: protocol.FromRating, Text: "quick and kind",
		Rating: &store.Rating{Score: 5, Comment: "quick and kind", AgentID: "agent-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Reopened || r.Conversation.Status != store.StatusClosed || r.Conversation.Preview != a.Name {
		t.Errorf("after a rating the conversation is %+v (reopened %v); want closed, preview unchanged", r.Conversation, r.Reopened)
	}
	msgs, err := s.Messages(c.ID, 0, 0)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("Messages = %+v, %v", msgs, err)
	}
	if got := msgs[0].Attachment; got == nil || got.ID != a.ID || got.Name != a.Name || got.Type != a.Type || got.Width != a.Width || got.ThumbType != a.ThumbType {
		t.Errorf("stored attachment = %+v, want %+v", got, a)
	}
	if got := msgs[1].Rating; got == nil || *got != (store.Rating{Score: 5, Comment: "quick and kind", AgentID: "agent-1"}) || msgs[1].From != protocol.FromRating {
		t.Errorf("stored rating = %+v from %q", got, msgs[1].From)
	}
}
