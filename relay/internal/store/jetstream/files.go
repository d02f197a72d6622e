package jetstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// Uploads and attachments in JetStream (docs/cluster.md):
//
//	bucket kefu_uploads      <conversation>.<b64 upload id>          → uploadRecord (parts listed in order)
//	bucket kefu_uploadparts  <conversation>.<b64 upload id>.<part>   → the part's bytes
//	bucket kefu_attachments  <conversation>.<attachment id>          → store.Attachment
//	object store kefu_files  <conversation>/<attachment id>[/thumb]  → the file's bytes
//
// A file's objects are put first and its record last: JetStream makes an
// object visible only once its last chunk and its metadata are stored, and
// the relay serves only what a record names, so a file is whole or absent
// on every node, whoever dies when. Each part of an upload is stored under
// a fresh key before the record lists it by compare-and-set, so two nodes
// sending the same part cannot mix their bytes: the loser's key is erased.
// Every bucket here holds personal data and is erasable (erase.go); so is
// the object store, whose chunks erasure overwrites one by one.

// uploadRecord is an upload as stored: the upload and its parts' keys.
type uploadRecord struct {
	store.Upload
	Parts []uploadPart `json:"parts,omitempty"`
}

type uploadPart struct {
	Key string `json:"key"`
	Len int64  `json:"len"`
}

func uploadKey(convID, id string) string {
	return convID + "." + base64.RawURLEncoding.EncodeToString([]byte(id))
}

func objectName(convID, attID string, thumb bool) string {
	if thumb {
		return convID + "/" + attID + "/thumb"
	}
	return convID + "/" + attID
}

// CreateUpload stores a new upload, or returns the one already stored
// under the same conversation and id (existed true). The conversation
// must exist.
func (s *Store) CreateUpload(ctx context.Context, u store.Upload) (store.Upload, bool, error) {
	end, err := s.begin()
	if err != nil {
		return store.Upload{}, false, fmt.Errorf("store: create upload: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if _, _, err := s.getRecord(ctx, u.ConversationID); err != nil {
		return store.Upload{}, false, fmt.Errorf("store: create upload: %w", err)
	}
	key := uploadKey(u.ConversationID, u.ID)
	for range 3 {
		if r, _, err := s.getUpload(ctx, key); err == nil {
			return r.Upload, true, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.Upload{}, false, fmt.Errorf("store: create upload: %w", err)
		}
		u.Offset = 0
		data, err := json.Marshal(uploadRecord{Upload: u})
		if err != nil {
			return store.Upload{}, false, err
		}
		if _, err := s.uploads.Create(ctx, key, data); errors.Is(err, jetstream.ErrKeyExists) {
			continue // another node made it meanwhile: read theirs
		} else if err != nil {
			return store.Upload{}, false, fmt.Errorf("store: create upload: %w", err)
		}
		return u, false, nil
	}
	return store.Upload{}, false, fmt.Errorf("store: create upload: kept changing while made")
}

func (s *Store) getUpload(ctx context.Context, key string) (uploadRecord, uint64, error) {
	e, err := s.uploads.Get(ctx, key)
	if err != nil {
		return uploadRecord{}, 0, notFound(err)
	}
	var r uploadRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return uploadRecord{}, 0, fmt.Errorf("decode upload %s: %w", key, err)
	}
	return r, e.Revision(), nil
}

// Upload reads an upload.
func (s *Store) Upload(convID, id string) (store.Upload, error) {
	if !validID(convID) {
		return store.Upload{}, fmt.Errorf("store: upload: %w", store.ErrNotFound)
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	r, _, err := s.getUpload(ctx, uploadKey(convID, id))
	if err != nil {
		return store.Upload{}, fmt.Errorf("store: upload %s: %w", convID, err)
	}
	return r.Upload, nil
}

// AppendUpload stores data as the upload's bytes from offset on, which
// must be where the upload stands (store.ErrOffset otherwise).
func (s *Store) AppendUpload(ctx context.Context, convID, id string, offset int64, data []byte) (store.Upload, error) {
	if len(data) == 0 || len(data) > store.MaxUploadPart {
		return store.Upload{}, fmt.Errorf("store: append upload: a part is 1 to %d bytes", store.MaxUploadPart)
	}
	if !validID(convID) {
		return store.Upload{}, fmt.Errorf("store: append upload: %w", store.ErrNotFound)
	}
	end, err := s.begin()
	if err != nil {
		return store.Upload{}, fmt.Errorf("store: append upload: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	key := uploadKey(convID, id)
	r, rev, err := s.getUpload(ctx, key)
	if err != nil {
		return store.Upload{}, fmt.Errorf("store: append upload %s: %w", convID, err)
	}
	if err := checkPart(r.Upload, offset, len(data)); err != nil {
		return store.Upload{}, fmt.Errorf("store: append upload %s: %w", convID, err)
	}
	part := uploadPart{Key: key + "." + store.NewID(), Len: int64(len(data))}
	if _, err := s.uploadParts.Put(ctx, part.Key, data); err != nil {
		return store.Upload{}, fmt.Errorf("store: append upload %s: %w", convID, err)
	}
	for range maxUpdateRounds {
		r.Parts = append(r.Parts, part)
		r.Offset += part.Len
		r.UpdatedAt = s.opts.Now()
		enc, err := json.Marshal(r)
		if err != nil {
			return store.Upload{}, err
		}
		_, err = s.uploads.Update(ctx, key, enc, rev)
		if err == nil {
			s.superseded(s.uploads, rev)
			return r.Upload, nil
		}
		if !conflict(err) {
			s.dropPart(ctx, part.Key)
			return store.Upload{}, fmt.Errorf("store: append upload %s: %w", convID, err)
		}
		// Another writer moved it: only a change that left the offset
		// where this part starts (none does today) lets it go on.
		if r, rev, err = s.getUpload(ctx, key); err != nil || checkPart(r.Upload, offset, len(data)) != nil {
			s.dropPart(ctx, part.Key)
			if err == nil {
				err = checkPart(r.Upload, offset, len(data))
			}
			return store.Upload{}, fmt.Errorf("store: append upload %s: %w", convID, err)
		}
	}
	s.dropPart(ctx, part.Key)
	return store.Upload{}, fmt.Errorf("store: append upload %s: gave up after %d concurrent changes", convID, maxUpdateRounds)
}

func checkPart(u store.Upload, offset int64, n int) error {
	switch {
	case offset != u.Offset:
		return store.ErrOffset
	case u.Offset+int64(n) > u.Size:
		return store.ErrUploadFull
	}
	return nil
}

// dropPart erases a part no record lists (its writer lost a race).
func (s *Store) dropPart(ctx context.Context, key string) {
	if _, err := s.eraseKey(context.WithoutCancel(ctx), s.uploadParts, key); err != nil {
		s.opts.Logger.Warn("jetstream: erase an upload part no record lists", "key", key, "err", err)
	}
}

// UploadData returns the bytes an upload received so far, in order.
func (s *Store) UploadData(convID, id string) ([]byte, error) {
	if !validID(convID) {
		return nil, fmt.Errorf("store: upload data: %w", store.ErrNotFound)
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	r, _, err := s.getUpload(ctx, uploadKey(convID, id))
	if err != nil {
		return nil, fmt.Errorf("store: upload data %s: %w", convID, err)
	}
	out := make([]byte, 0, r.Offset)
	for _, p := range r.Parts {
		e, err := s.uploadParts.Get(ctx, p.Key)
		if err != nil {
			return nil, fmt.Errorf("store: upload data %s: part %s: %w", convID, p.Key, err)
		}
		if int64(len(e.Value())) != p.Len {
			return nil, fmt.Errorf("store: upload data %s: part %s holds %d bytes, not %d: %w", convID, p.Key, len(e.Value()), p.Len, store.ErrCorrupt)
		}
		out = append(out, e.Value()...)
	}
	return out, nil
}

// DeleteUpload erases an upload and its bytes; a missing one is no error.
func (s *Store) DeleteUpload(ctx context.Context, convID, id string) error {
	if !validID(convID) {
		return nil
	}
	end, err := s.begin()
	if err != nil {
		return fmt.Errorf("store: delete upload: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	key := uploadKey(convID, id)
	// Parts first: the record, kept to the end, still names the upload if
	// this is cut short.
	if _, err := s.eraseKey(ctx, s.uploadParts, key+".*"); err != nil {
		return fmt.Errorf("store: delete upload %s: %w", convID, err)
	}
	if _, err := s.eraseKey(ctx, s.uploads, key); err != nil {
		return fmt.Errorf("store: delete upload %s: %w", convID, err)
	}
	return nil
}

// Uploads lists a conversation's unfinished uploads.
func (s *Store) Uploads(convID string) ([]store.Upload, error) {
	if !validID(convID) {
		return nil, nil
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	var out []store.Upload
	err := s.scanFiltered(ctx, s.uploads, convID+".*", func(_ string, v []byte) error {
		var r uploadRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode upload: %w", err)
		}
		out = append(out, r.Upload)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: uploads of %s: %w", convID, err)
	}
	return out, nil
}

// StaleUploads lists up to limit uploads no part reached since before.
func (s *Store) StaleUploads(before time.Time, limit int) ([]store.Upload, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	var out []store.Upload
	err := s.scan(ctx, s.uploads, func(_ string, v []byte) error {
		var r uploadRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode upload: %w", err)
		}
		if r.UpdatedAt.Before(before) && len(out) < limit {
			out = append(out, r.Upload)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: stale uploads: %w", err)
	}
	return out, nil
}

// PutAttachment stores a finished file and its thumbnail (nil for none),
// then its record, which makes it visible. The same id again stores
// nothing. The conversation must exist.
func (s *Store) PutAttachment(ctx context.Context, a store.Attachment, data, thumb []byte) error {
	if !validID(a.ID) {
		return fmt.Errorf("store: put attachment: id %q: not an id", a.ID)
	}
	end, err := s.begin()
	if err != nil {
		return fmt.Errorf("store: put attachment: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if _, _, err := s.getRecord(ctx, a.ConversationID); err != nil {
		return fmt.Errorf("store: put attachment: %w", err)
	}
	key := a.ConversationID + "." + a.ID
	if _, err := s.attachments.Get(ctx, key); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("store: put attachment: %w", err)
	}
	n := 0
	if err := s.scanFiltered(ctx, s.attachments, a.ConversationID+".*", func(string, []byte) error { n++; return nil }); err != nil {
		return fmt.Errorf("store: put attachment: %w", err)
	}
	if n >= store.MaxAttachments {
		return fmt.Errorf("store: put attachment: %w", store.ErrTooMany)
	}
	a.Size, a.ThumbSize = int64(len(data)), int64(len(thumb))
	if _, err := s.files.PutBytes(ctx, objectName(a.ConversationID, a.ID, false), data); err != nil {
		return fmt.Errorf("store: put attachment %s: %w", key, err)
	}
	if thumb != nil {
		if _, err := s.files.PutBytes(ctx, objectName(a.ConversationID, a.ID, true), thumb); err != nil {
			return fmt.Errorf("store: put attachment %s: thumbnail: %w", key, err)
		}
	}
	if err := createJSON(ctx, s.attachments, key, a); err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("store: put attachment %s: %w", key, err)
	}
	return nil
}

// Attachment reads a file's record and its bytes (the thumbnail's when
// thumb is set; store.ErrNotFound when it has none).
func (s *Store) Attachment(convID, id string, thumb bool) (store.Attachment, []byte, error) {
	if !validID(convID) || !validID(id) {
		return store.Attachment{}, nil, fmt.Errorf("store: attachment: %w", store.ErrNotFound)
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	e, err := s.attachments.Get(ctx, convID+"."+id)
	if err != nil {
		return store.Attachment{}, nil, fmt.Errorf("store: attachment %s/%s: %w", convID, id, notFound(err))
	}
	var a store.Attachment
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return store.Attachment{}, nil, fmt.Errorf("store: attachment %s/%s: decode: %w", convID, id, err)
	}
	size := a.Size
	if thumb {
		if a.ThumbType == "" {
			return store.Attachment{}, nil, fmt.Errorf("store: attachment %s/%s: no thumbnail: %w", convID, id, store.ErrNotFound)
		}
		size = a.ThumbSize
	}
	data, err := getObject(ctx, s.files, objectName(convID, id, thumb)) // retried while a follower is behind (objects.go)
	if err != nil {
		return store.Attachment{}, nil, fmt.Errorf("store: attachment %s/%s: %w", convID, id, err)
	}
	if int64(len(data)) != size {
		return store.Attachment{}, nil, fmt.Errorf("store: attachment %s/%s: holds %d bytes, its record says %d: %w", convID, id, len(data), size, store.ErrCorrupt)
	}
	return a, data, nil
}

// Attachments lists a conversation's files.
func (s *Store) Attachments(convID string) ([]store.Attachment, error) {
	if !validID(convID) {
		return nil, nil
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	var out []store.Attachment
	err := s.scanFiltered(ctx, s.attachments, convID+".*", func(_ string, v []byte) error {
		var a store.Attachment
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("decode attachment: %w", err)
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: attachments of %s: %w", convID, err)
	}
	return out, nil
}

// DeleteAttachments erases the uploads and files of these conversations
// and returns how many files there were.
func (s *Store) DeleteAttachments(ctx context.Context, convIDs []string) (int, error) {
	end, err := s.begin()
	if err != nil {
		return 0, fmt.Errorf("store: delete attachments: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	n, err := s.deleteFiles(ctx, convIDs)
	if err != nil {
		return n, fmt.Errorf("store: delete attachments: %w", err)
	}
	return n, nil
}

// deleteFiles erases the conversations' upload parts, uploads, files'
// objects and records, in that order: what names the rest goes last, so a
// repeat after a crash finds what is left. Objects no record names (a
// crash between an object and its record) are found by their names.
func (s *Store) deleteFiles(ctx context.Context, convIDs []string) (int, error) {
	want := map[string]bool{}
	for _, id := range convIDs {
		if validID(id) {
			want[id] = true
		}
	}
	if len(want) == 0 {
		return 0, nil
	}
	n := 0
	for id := range want {
		if _, err := s.eraseKey(ctx, s.uploadParts, id+".>"); err != nil {
			return n, err
		}
		if _, err := s.eraseKey(ctx, s.uploads, id+".*"); err != nil {
			return n, err
		}
		var names []string
		err := s.scanFiltered(ctx, s.attachments, id+".*", func(key string, _ []byte) error {
			att := strings.TrimPrefix(key, id+".")
			names = append(names, objectName(id, att, false), objectName(id, att, true))
			return nil
		})
		if err != nil {
			return n, err
		}
		for _, name := range names {
			if err := s.eraseObject(ctx, name); err != nil {
				return n, err
			}
		}
		n += len(names) / 2
	}
	names, err := s.objectNames(ctx)
	if err != nil {
		return n, err
	}
	for _, name := range names {
		if conv, _, ok := strings.Cut(name, "/"); ok && want[conv] {
			if err := s.eraseObject(ctx, name); err != nil {
				return n, err
			}
		}
	}
	for id := range want {
		if _, err := s.eraseKey(ctx, s.attachments, id+".*"); err != nil {
			return n, err
		}
	}
	return n, nil
}

// objectNames lists the names of the files bucket's objects from its
// stream's subjects: one request. The object store's own List watches
// the bucket with an ordered consumer until one says nothing is pending;
// right after other objects' metadata was erased, on a three-server
// cluster at load, CI saw that never happen and the erasure fail at its
// 45 s timeout ("list files: context deadline exceeded").
func (s *Store) objectNames(ctx context.Context) ([]string, error) {
	meta := s.filesSubject("M")
	info, err := s.filesStream.Info(ctx, jetstream.WithSubjectFilter(meta+">"))
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	names := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		name, err := base64.URLEncoding.DecodeString(strings.TrimPrefix(subj, meta))
		if err != nil {
			continue // not a name the object store wrote, so none of ours
		}
		names = append(names, string(name))
	}
	return names, nil
}

// filesSubject is the prefix of the files bucket's subjects of a kind
// (ADR-20): "C" for an object's chunks, $O.<bucket>.C.<object nuid>, and
// "M" for its metadata, $O.<bucket>.M.<base64url(name)>.
func (s *Store) filesSubject(kind string) string {
	return "$O." + s.opts.Prefix + "_files." + kind + "."
}

// eraseObject overwrites an object's chunks and its metadata on every
// replica (SecureDeleteMsg), leaving no trace of it in the store.
func (s *Store) eraseObject(ctx context.Context, name string) error {
	info, err := s.files.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("file %s: %w", name, err)
	}
	if _, err := s.eraseAll(ctx, s.filesStream, s.filesSubject("C")+info.NUID); err != nil {
		return fmt.Errorf("file %s: %w", name, err)
	}
	meta := s.filesSubject("M") + base64.URLEncoding.EncodeToString([]byte(name))
	if _, err := s.eraseAll(ctx, s.filesStream, meta); err != nil {
		return fmt.Errorf("file %s: %w", name, err)
	}
	return nil
}

// AddNote adds an internal note to a conversation. A note whose ClientID
// is already stored is not stored again: the stored one is returned with
// dup set.
func (s *Store) AddNote(ctx context.Context, convID string, nn store.NewNote) (store.Note, bool, error) {
	var n store.Note
	var dup bool
	err := s.changeNotes(ctx, convID, func(notes []store.Note) ([]store.Note, error) {
		if nn.ClientID != "" {
			for _, have := range notes {
				if have.ClientID == nn.ClientID {
					n, dup = have, true
					return nil, nil
				}
			}
		}
		if len(notes) >= store.MaxNotes {
			return nil, store.ErrTooMany
		}
		conv, _, err := s.getRecord(ctx, convID)
		if err != nil {
			return nil, err
		}
		n = store.Note{ID: store.NewID(), ConversationID: convID, ClientID: nn.ClientID, AuthorID: nn.AuthorID,
			Author: nn.Author, Text: nn.Text, Time: s.opts.Now(), AfterSeq: conv.LastSeq}
		return append(notes, n), nil
	})
	if err != nil {
		return store.Note{}, false, fmt.Errorf("store: add note to %s: %w", convID, err)
	}
	return n, dup, nil
}

// changeNotes reads a conversation's notes, lets change compute the new
// list (nil: nothing to write), and writes it if nobody wrote the key
// since; otherwise it tries again (update in kv.go, for a key that may
// not exist yet).
func (s *Store) changeNotes(ctx context.Context, convID string, change func([]store.Note) ([]store.Note, error)) error {
	end, err := s.begin()
	if err != nil {
		return err
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	for range maxUpdateRounds {
		var notes []store.Note
		var rev uint64
		e, err := s.notes.Get(ctx, convID)
		switch {
		case err == nil:
			rev = e.Revision()
			if err := json.Unmarshal(e.Value(), &notes); err != nil {
				return fmt.Errorf("decode notes: %w", err)
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return err
		}
		next, err := change(notes)
		if err != nil || next == nil {
			return err
		}
		data, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = s.notes.Create(ctx, convID, data)
		} else {
			_, err = s.notes.Update(ctx, convID, data, rev)
		}
		if conflict(err) {
			continue
		}
		if err != nil {
			return err
		}
		if rev != 0 {
			s.superseded(s.notes, rev)
		}
		return nil
	}
	return fmt.Errorf("gave up after %d concurrent changes", maxUpdateRounds)
}

// Notes lists a conversation's notes, oldest first.
func (s *Store) Notes(convID string) ([]store.Note, error) {
	if !validID(convID) {
		return nil, nil
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	e, err := s.notes.Get(ctx, convID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: notes of %s: %w", convID, err)
	}
	var out []store.Note
	if err := json.Unmarshal(e.Value(), &out); err != nil {
		return nil, fmt.Errorf("store: notes of %s: decode: %w", convID, err)
	}
	return out, nil
}

// ImportNotes adds notes as they were stored elsewhere (kefu migrate):
// ids, times and positions kept, a note already here by id skipped.
func (s *Store) ImportNotes(ctx context.Context, convID string, notes []store.Note) error {
	if len(notes) == 0 {
		return nil
	}
	err := s.changeNotes(ctx, convID, func(have []store.Note) ([]store.Note, error) {
		ids := map[string]bool{}
		for _, n := range have {
			ids[n.ID] = true
		}
		merged := have
		for _, n := range notes {
			if !ids[n.ID] {
				merged = append(merged, n)
			}
		}
		if len(merged) == len(have) {
			return nil, nil
		}
		return merged, nil
	})
	if err != nil {
		return fmt.Errorf("store: import notes of %s: %w", convID, err)
	}
	return nil
}
