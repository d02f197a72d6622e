package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Tags on conversations (issue 15): the labels agents put on a
// conversation ("refund", "vip"). They live in the documents every
// backend with people keeps (Doc, PutDoc, DeleteDoc, Docs), one document
// per tagged conversation under DocTags, changed by compare-and-set so two
// agents tagging at once both keep their tag. storetest.Tags is the
// conformance suite; the edge's D1 store has no documents and no tags.

// DocTags is the document kind of conversations' tags, keyed by
// conversation id.
const DocTags = "tags"

// Limits of tags.
const (
	// MaxTags bounds one conversation's tags.
	MaxTags = 20
	// MaxTagRunes bounds one tag.
	MaxTagRunes = 32
)

// ErrBadTag means a tag is empty, too long or has characters a tag may
// not have.
var ErrBadTag = errors.New("a tag is 1 to 32 letters, digits, '-' or '_' (spaces become '-')")

// TagDocs is what tags need of a store.
type TagDocs interface {
	Doc(kind, key string) (Doc, error)
	PutDoc(ctx context.Context, kind, key string, data []byte, rev uint64) (uint64, error)
	DeleteDoc(ctx context.Context, kind, key string, rev uint64) error
	Docs(kind string) ([]Doc, error)
}

// ConversationTags is the stored document of one conversation's tags.
type ConversationTags struct {
	Tags []string  `json:"tags"`
	By   string    `json:"by,omitempty"` // the account that changed them last
	At   time.Time `json:"at"`
}

// NormaliseTag is the stored form of a tag as typed: trimmed, lower case
// (so "VIP" and "vip" are one tag), inner spaces as '-'; letters (any
// script), digits, '-' and '_' only.
func NormaliseTag(s string) (string, error) {
	s = strings.Join(strings.Fields(strings.ToLower(s)), "-")
	if s == "" || utf8.RuneCountInString(s) > MaxTagRunes {
		return "", fmt.Errorf("tag %q: %w", s, ErrBadTag)
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' {
			return "", fmt.Errorf("tag %q: %w", s, ErrBadTag)
		}
	}
	return s, nil
}

// ReadTags returns a conversation's tags, sorted (none: nil).
func ReadTags(st TagDocs, convID string) ([]string, error) {
	t, _, err := readTags(st, convID)
	return t.Tags, err
}

func readTags(st TagDocs, convID string) (ConversationTags, uint64, error) {
	d, err := st.Doc(DocTags, convID)
	if errors.Is(err, ErrNotFound) {
		return ConversationTags{}, 0, nil
	}
	if err != nil {
		return ConversationTags{}, 0, err
	}
	var t ConversationTags
	if err := json.Unmarshal(d.Data, &t); err != nil {
		return ConversationTags{}, 0, fmt.Errorf("store: tags of %s: %w", convID, err)
	}
	return t, d.Rev, nil
}

// ChangeTags adds and removes tags (already normalised) on a
// conversation by compare-and-set, and returns its tags before and after.
// A conversation left without tags has no document. More than MaxTags is
// ErrTooMany. The caller checks that the conversation exists.
func ChangeTags(ctx context.Context, st TagDocs, convID string, add, remove []string, by string, now time.Time) (before, after []string, err error) {
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		cur, rev, err := readTags(st, convID)
		if err != nil {
			return nil, nil, err
		}
		next := slices.Clone(cur.Tags)
		for _, t := range add {
			if !slices.Contains(next, t) {
				next = append(next, t)
			}
		}
		next = slices.DeleteFunc(next, func(t string) bool { return slices.Contains(remove, t) })
		slices.Sort(next)
		if slices.Equal(next, cur.Tags) {
			return cur.Tags, cur.Tags, nil
		}
		if len(next) > MaxTags {
			return nil, nil, fmt.Errorf("store: tags of %s: at most %d: %w", convID, MaxTags, ErrTooMany)
		}
		switch {
		case len(next) == 0:
			err = st.DeleteDoc(ctx, DocTags, convID, rev)
		default:
			data, _ := json.Marshal(ConversationTags{Tags: next, By: by, At: now})
			_, err = st.PutDoc(ctx, DocTags, convID, data, rev)
		}
		// Another writer came first (changed, created or deleted the
		// document): read again and apply this change on top of theirs.
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) {
			if try < 50 {
				continue
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("store: change tags of %s: %w", convID, err)
		}
		return cur.Tags, next, nil
	}
}

// AllTags returns every tagged conversation's tags, by conversation id.
func AllTags(st TagDocs) (map[string][]string, error) {
	docs, err := st.Docs(DocTags)
	if err != nil {
		return nil, fmt.Errorf("store: all tags: %w", err)
	}
	out := make(map[string][]string, len(docs))
	for _, d := range docs {
		var t ConversationTags
		if err := json.Unmarshal(d.Data, &t); err != nil {
			return nil, fmt.Errorf("store: tags of %s: %w", d.Key, err)
		}
		out[d.Key] = t.Tags
	}
	return out, nil
}

// EraseTags deletes the tags of conversations (an erasure, the retention
// sweep). Conversations without tags are no error.
func EraseTags(ctx context.Context, st TagDocs, convIDs []string) error {
	for _, id := range convIDs {
		if err := st.DeleteDoc(ctx, DocTags, id, 0); err != nil {
			return fmt.Errorf("store: erase tags of %s: %w", id, err)
		}
	}
	return nil
}
