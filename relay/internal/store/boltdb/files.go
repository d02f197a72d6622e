package boltdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	bolt "go.etcd.io/bbolt"
)

// Uploads and attachments, beside their conversation (every key starts
// with the conversation id, so a conversation's are one range):
//
//	uploads       conversation ‖ upload id                 → store.Upload
//	upload_parts  conversation ‖ upload id ‖ 0 ‖ offset(8)  → the bytes sent at that offset
//	attachments   conversation ‖ attachment id             → store.Attachment
//	files         conversation ‖ attachment id ‖ kind ‖ n(4) → chunk n of the file (kind o) or its thumbnail (t)
//
// An attachment's record and every chunk of its bytes are written in one
// transaction: a file is whole or absent, whatever is killed when. Upload
// ids are printable ASCII, so the 0 after one cannot be part of another.

const (
	kindOriginal = 'o'
	kindThumb    = 't'
)

func convKey(convID, id string) []byte {
	k := make([]byte, 0, len(convID)+len(id))
	return append(append(k, convID...), id...)
}

func partKey(convID, uploadID string, offset int64) []byte {
	k := append(convKey(convID, uploadID), 0)
	return binary.BigEndian.AppendUint64(k, uint64(offset))
}

func fileKey(convID, attID string, kind byte, n uint32) []byte {
	k := append(convKey(convID, attID), kind)
	return binary.BigEndian.AppendUint32(k, n)
}

// CreateUpload stores a new upload, or returns the one already stored
// under the same conversation and id (existed true), whatever its size or
// name: a creation resent after a lost answer finds its upload. The
// conversation must exist.
func (s *Store) CreateUpload(ctx context.Context, u store.Upload) (store.Upload, bool, error) {
	var out store.Upload
	var existed bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		existed = false
		if _, err := s.conv(tx, u.ConversationID); err != nil {
			return err
		}
		b := tx.Bucket(bucketUploads)
		key := convKey(u.ConversationID, u.ID)
		if err := getJSON(b, key, &out); err == nil {
			existed = true
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		out = u
		out.Offset = 0
		return putJSON(b, key, out)
	}, nil)
	if err != nil {
		return store.Upload{}, false, fmt.Errorf("store: create upload: %w", err)
	}
	return out, existed, nil
}

// Upload reads an upload.
func (s *Store) Upload(convID, id string) (store.Upload, error) {
	var u store.Upload
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketUploads), convKey(convID, id), &u) })
	if err != nil {
		return store.Upload{}, fmt.Errorf("store: upload %s/%s: %w", convID, id, err)
	}
	return u, nil
}

// AppendUpload stores data as the upload's bytes from offset on, which
// must be where the upload stands (store.ErrOffset otherwise), and moves
// it forward, in one transaction.
func (s *Store) AppendUpload(ctx context.Context, convID, id string, offset int64, data []byte) (store.Upload, error) {
	if len(data) == 0 || len(data) > store.MaxUploadPart {
		return store.Upload{}, fmt.Errorf("store: append upload: a part is 1 to %d bytes", store.MaxUploadPart)
	}
	data = bytes.Clone(data)
	now := s.opts.Now()
	var u store.Upload
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUploads)
		key := convKey(convID, id)
		if err := getJSON(b, key, &u); err != nil {
			return err
		}
		switch {
		case offset != u.Offset:
			return store.ErrOffset
		case u.Offset+int64(len(data)) > u.Size:
			return store.ErrUploadFull
		}
		if err := tx.Bucket(bucketUploadParts).Put(partKey(convID, id, offset), data); err != nil {
			return err
		}
		u.Offset += int64(len(data))
		u.UpdatedAt = now
		return putJSON(b, key, u)
	}, nil)
	if err != nil {
		return store.Upload{}, fmt.Errorf("store: append upload %s/%s: %w", convID, id, err)
	}
	return u, nil
}

// UploadData returns the bytes an upload received so far, in order.
func (s *Store) UploadData(convID, id string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		var u store.Upload
		if err := getJSON(tx.Bucket(bucketUploads), convKey(convID, id), &u); err != nil {
			return err
		}
		out = make([]byte, 0, u.Offset)
		prefix := append(convKey(convID, id), 0)
		c := tx.Bucket(bucketUploadParts).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if int64(binary.BigEndian.Uint64(k[len(prefix):])) != int64(len(out)) {
				return fmt.Errorf("upload part at %d where %d was expected: %w", binary.BigEndian.Uint64(k[len(prefix):]), len(out), store.ErrCorrupt)
			}
			out = append(out, v...)
		}
		if int64(len(out)) != u.Offset {
			return fmt.Errorf("upload holds %d bytes, its record says %d: %w", len(out), u.Offset, store.ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: upload data %s/%s: %w", convID, id, err)
	}
	return out, nil
}

// DeleteUpload removes an upload and its bytes; a missing one is no error.
func (s *Store) DeleteUpload(ctx context.Context, convID, id string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error { return deleteUpload(tx, convID, id) }, nil)
	if err != nil {
		return fmt.Errorf("store: delete upload %s/%s: %w", convID, id, err)
	}
	return nil
}

func deleteUpload(tx *bolt.Tx, convID, id string) error {
	if err := deletePrefix(tx.Bucket(bucketUploadParts), append(convKey(convID, id), 0)); err != nil {
		return err
	}
	return tx.Bucket(bucketUploads).Delete(convKey(convID, id))
}

// deletePrefix removes every key of b that starts with prefix.
func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Uploads lists a conversation's unfinished uploads.
func (s *Store) Uploads(convID string) ([]store.Upload, error) {
	var out []store.Upload
	err := s.view(func(tx *bolt.Tx) error {
		return scanJSON(tx.Bucket(bucketUploads), []byte(convID), func(v []byte) error {
			var u store.Upload
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("decode upload: %w: %w", store.ErrCorrupt, err)
			}
			out = append(out, u)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: uploads of %s: %w", convID, err)
	}
	return out, nil
}

// StaleUploads lists up to limit uploads no part reached since before.
func (s *Store) StaleUploads(before time.Time, limit int) ([]store.Upload, error) {
	var out []store.Upload
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUploads).ForEach(func(_, v []byte) error {
			var u store.Upload
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("decode upload: %w: %w", store.ErrCorrupt, err)
			}
			if u.UpdatedAt.Before(before) && len(out) < limit {
				out = append(out, u)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: stale uploads: %w", err)
	}
	return out, nil
}

// PutAttachment stores a finished file and its thumbnail (nil for none)
// with its record, all in one transaction. The same id again stores
// nothing (a finish repeated after a crash). The conversation must exist.
func (s *Store) PutAttachment(ctx context.Context, a store.Attachment, data, thumb []byte) error {
	a.Size, a.ThumbSize = int64(len(data)), int64(len(thumb))
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if _, err := s.conv(tx, a.ConversationID); err != nil {
			return err
		}
		b := tx.Bucket(bucketAttachments)
		key := convKey(a.ConversationID, a.ID)
		if b.Get(key) != nil {
			return nil
		}
		n := 0
		c := b.Cursor()
		for k, _ := c.Seek([]byte(a.ConversationID)); k != nil && bytes.HasPrefix(k, []byte(a.ConversationID)); k, _ = c.Next() {
			n++
		}
		if n >= store.MaxAttachments {
			return store.ErrTooMany
		}
		fb := tx.Bucket(bucketFiles)
		for _, part := range []struct {
			kind byte
			data []byte
		}{{kindOriginal, data}, {kindThumb, thumb}} {
			for i := 0; i*store.FileChunk < len(part.data); i++ {
				chunk := part.data[i*store.FileChunk : min(len(part.data), (i+1)*store.FileChunk)]
				if err := fb.Put(fileKey(a.ConversationID, a.ID, part.kind, uint32(i)), chunk); err != nil {
					return err
				}
			}
		}
		return putJSON(b, key, a)
	}, nil)
	if err != nil {
		return fmt.Errorf("store: put attachment %s/%s: %w", a.ConversationID, a.ID, err)
	}
	return nil
}

// Attachment reads a file's record and its bytes (the thumbnail's when
// thumb is set; store.ErrNotFound when it has none).
func (s *Store) Attachment(convID, id string, thumb bool) (store.Attachment, []byte, error) {
	var a store.Attachment
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketAttachments), convKey(convID, id), &a); err != nil {
			return err
		}
		kind, size := byte(kindOriginal), a.Size
		if thumb {
			if a.ThumbType == "" {
				return store.ErrNotFound
			}
			kind, size = kindThumb, a.ThumbSize
		}
		out = make([]byte, 0, size)
		prefix := append(convKey(convID, id), kind)
		c := tx.Bucket(bucketFiles).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			out = append(out, v...)
		}
		if int64(len(out)) != size {
			return fmt.Errorf("file holds %d bytes, its record says %d: %w", len(out), size, store.ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		return store.Attachment{}, nil, fmt.Errorf("store: attachment %s/%s: %w", convID, id, err)
	}
	return a, out, nil
}

// Attachments lists a conversation's files.
func (s *Store) Attachments(convID string) ([]store.Attachment, error) {
	var out []store.Attachment
	err := s.view(func(tx *bolt.Tx) error {
		return scanJSON(tx.Bucket(bucketAttachments), []byte(convID), func(v []byte) error {
			var a store.Attachment
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode attachment: %w: %w", store.ErrCorrupt, err)
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: attachments of %s: %w", convID, err)
	}
	return out, nil
}

// DeleteAttachments removes the uploads and files of these conversations,
// in one transaction, and returns how many files there were. The freed
// pages keep the bytes until Compact (privacy erasure compacts).
func (s *Store) DeleteAttachments(ctx context.Context, convIDs []string) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		for _, id := range convIDs {
			k, err := deleteFiles(tx, id)
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	}, nil)
	if err != nil {
		return 0, fmt.Errorf("store: delete attachments: %w", err)
	}
	return n, nil
}

// deleteFiles removes one conversation's files and uploads, and returns
// how many files there were.
func deleteFiles(tx *bolt.Tx, convID string) (int, error) {
	if len(convID) != store.IDLen {
		return 0, nil // every key here starts with a full id: no prefix of another
	}
	prefix := []byte(convID)
	n := 0
	c := tx.Bucket(bucketAttachments).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	for _, b := range [][]byte{bucketAttachments, bucketFiles, bucketUploads, bucketUploadParts} {
		if err := deletePrefix(tx.Bucket(b), prefix); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// scanJSON calls fn with the value of every key of b starting with prefix.
func scanJSON(b *bolt.Bucket, prefix []byte, fn func(v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// AddNote adds an internal note to a conversation. A note whose ClientID
// is already stored is not stored again: the stored one is returned with
// dup set.
func (s *Store) AddNote(ctx context.Context, convID string, nn store.NewNote) (store.Note, bool, error) {
	now := s.opts.Now()
	var out store.Note
	var dup bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		dup = false
		conv, err := s.conv(tx, convID)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketNotes)
		var notes []store.Note
		if v := b.Get([]byte(convID)); v != nil {
			if err := json.Unmarshal(v, &notes); err != nil {
				return fmt.Errorf("decode notes of %s: %w: %w", convID, store.ErrCorrupt, err)
			}
		}
		if nn.ClientID != "" {
			for _, n := range notes {
				if n.ClientID == nn.ClientID {
					out, dup = n, true
					return nil
				}
			}
		}
		if len(notes) >= store.MaxNotes {
			return store.ErrTooMany
		}
		out = store.Note{ID: store.NewID(), ConversationID: convID, ClientID: nn.ClientID, AuthorID: nn.AuthorID,
			Author: nn.Author, Text: nn.Text, Time: now, AfterSeq: conv.LastSeq}
		return putJSON(b, []byte(convID), append(notes, out))
	}, nil)
	if err != nil {
		return store.Note{}, false, fmt.Errorf("store: add note to %s: %w", convID, err)
	}
	return out, dup, nil
}

// Notes lists a conversation's notes, oldest first.
func (s *Store) Notes(convID string) ([]store.Note, error) {
	var out []store.Note
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketNotes).Get([]byte(convID))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &out); err != nil {
			return fmt.Errorf("decode: %w: %w", store.ErrCorrupt, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: notes of %s: %w", convID, err)
	}
	return out, nil
}
