package jetstream

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

// TestEraseFilesLeaveNoBytes: a visitor's files (a finished one over
// several chunks, its thumbnail, an unfinished upload, an object no record
// names after a crash) and the notes about them leave every file of the
// JetStream store directory when the visitor is erased.
func TestEraseFilesLeaveNoBytes(t *testing.T) {
	c := natstest.Run(t, natstest.Options{})
	s := openOn(t, c, 0, "kefu", nil)
	ctx := context.Background()
	const phrase, notePhrase = "file-bytes-quokka-8812", "note-about-quokka-8812"
	body := bytes.Repeat([]byte(phrase+" "), store.FileChunk/len(phrase)*3)
	v, conv, err := s.CreateVisitor(ctx, storetest.TokenHash("ann"), "")
	if err != nil {
		t.Fatal(err)
	}
	a := store.Attachment{ID: store.NewID(), ConversationID: conv.ID, Name: "a.txt", Type: "text/plain; charset=utf-8", ThumbType: "image/png", From: "visitor", CreatedAt: time.Now()}
	if err := s.PutAttachment(ctx, a, body, []byte("thumb "+phrase)); err != nil {
		t.Fatal(err)
	}
	up := store.Upload{ConversationID: conv.ID, ID: "u1", AttachmentID: store.NewID(), Size: 1000, From: "visitor", UpdatedAt: time.Now()}
	if _, _, err := s.CreateUpload(ctx, up); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, conv.ID, "u1", 0, []byte("upload "+phrase)); err != nil {
		t.Fatal(err)
	}
	// The object of a file whose record a crash never wrote.
	if _, err := s.files.PutBytes(ctx, objectName(conv.ID, store.NewID(), false), []byte("orphan "+phrase)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddNote(ctx, conv.ID, store.NewNote{Text: notePhrase}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddNote(ctx, conv.ID, store.NewNote{Text: "second " + notePhrase}); err != nil {
		t.Fatal(err)
	}
	dir := c.Servers[0].JetStreamConfig().StoreDir
	deadline := time.Now().Add(30 * time.Second)
	for got := storetest.FilesHolding(t, dir, phrase, notePhrase); len(got) != 2; got = storetest.FilesHolding(t, dir, phrase, notePhrase) {
		if time.Now().After(deadline) {
			t.Fatalf("the store directory never held the data: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	svc := privacy.New(s, privacy.Options{Erasers: []privacy.Eraser{privacy.EraserFunc{ID: "attachments", Fn: func(ctx context.Context, sub privacy.Subject) error {
		_, err := s.DeleteAttachments(ctx, sub.ConversationIDs)
		return err
	}}}})
	if _, err := svc.Erase(ctx, []string{v.ID}, "admin"); err != nil {
		t.Fatal(err)
	}
	waitTrimmed(t, s)
	if got := storetest.FilesHolding(t, dir, phrase, notePhrase); len(got) != 0 {
		t.Fatalf("after erasure the JetStream store directory still holds %v", got)
	}
}
