package boltdb

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

// TestEraseFilesLeaveNoBytes: a visitor's files (a finished one over
// several chunks, its thumbnail, an unfinished upload) and the notes about
// them leave the database file when the visitor is erased.
func TestEraseFilesLeaveNoBytes(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	const phrase, notePhrase = "file-bytes-quokka-8812", "note-about-quokka-8812"
	body := bytes.Repeat([]byte(phrase+" "), store.FileChunk/len(phrase)*3)
	v := fill(t, s, map[string]string{"name": "Ann"}, "here it is")
	bob := fill(t, s, nil, "bob stays")
	a := store.Attachment{ID: store.NewID(), ConversationID: v.ConversationID, Name: "a.txt", Type: "text/plain; charset=utf-8", ThumbType: "image/png", From: "visitor", CreatedAt: time.Now()}
	if err := s.PutAttachment(ctx, a, body, []byte("thumb "+phrase)); err != nil {
		t.Fatal(err)
	}
	up := store.Upload{ConversationID: v.ConversationID, ID: "u1", AttachmentID: store.NewID(), Size: 1000, From: "visitor", UpdatedAt: time.Now()}
	if _, _, err := s.CreateUpload(ctx, up); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, v.ConversationID, "u1", 0, []byte("upload "+phrase)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddNote(ctx, v.ConversationID, store.NewNote{Text: notePhrase}); err != nil {
		t.Fatal(err)
	}
	if got := storetest.FilesHolding(t, s.Path(), phrase, notePhrase); len(got) != 2 {
		t.Fatalf("before erasure the file holds %v; the scan cannot see stored data", got)
	}
	svc := privacy.New(s, privacy.Options{Erasers: []privacy.Eraser{privacy.EraserFunc{ID: "attachments", Fn: func(ctx context.Context, sub privacy.Subject) error {
		_, err := s.DeleteAttachments(ctx, sub.ConversationIDs)
		return err
	}}}})
	if _, err := svc.Erase(ctx, []string{v.ID}, "admin"); err != nil {
		t.Fatal(err)
	}
	if got := storetest.FilesHolding(t, s.Path(), phrase, notePhrase); len(got) != 0 {
		t.Fatalf("after erasure the database file still holds %v", got)
	}
	if msgs, err := s.Messages(bob.ConversationID, 0, 0); err != nil || len(msgs) != 2 {
		t.Errorf("someone else's messages after the erasure: %d, %v", len(msgs), err)
	}
}
