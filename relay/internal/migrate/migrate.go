// Package migrate moves a single-node store (bbolt) into the cluster's
// store (JetStream) without losing a message: visitors with their tokens,
// conversations with every message at its seq, their attachments and
// internal notes, accounts, sessions, settings, and what the
// notifications keep (notify.go). Running it again finishes an
// interrupted run and changes nothing after a complete one.
package migrate

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/kefuhq/kefu/relay/internal/webhook"
)

// Counts says what a run moved (or found already there).
type Counts struct {
	Visitors, Conversations, Messages, Attachments, Notes, Accounts, Sessions, Settings int
	// Documents are outbox entries, keys, push subscriptions and webhook
	// delivery logs; Readers the event log readers started in the cluster.
	Documents, Readers int
}

// Options changes a run.
type Options struct {
	// DropPending moves even when the single node had not handled every
	// event yet (a webhook URL retrying, a reader behind): those events
	// are then never sent.
	DropPending bool
}

func (c Counts) String() string {
	return fmt.Sprintf("%d visitors, %d conversations, %d messages, %d attachments, %d notes, %d accounts, %d sessions, %d settings, %d documents, %d event readers",
		c.Visitors, c.Conversations, c.Messages, c.Attachments, c.Notes, c.Accounts, c.Sessions, c.Settings, c.Documents, c.Readers)
}

// pageSize bounds the messages held in memory at once.
const pageSize = 500

// BoltToJetStream copies everything in src into dst. src should not be
// written meanwhile (the relay using it stopped): what it gains after the
// run started may be missed, and a re-run picks it up. Events the single
// node had not handled yet stop it before anything is written
// (ErrPending), unless o.DropPending.
func BoltToJetStream(ctx context.Context, src *boltdb.Store, dst *jetstream.Store, log *slog.Logger, o Options) (Counts, error) {
	var n Counts
	rs, err := readers(src)
	if err != nil {
		return n, err
	}
	left, err := pending(ctx, src, rs)
	if err != nil {
		return n, err
	}
	if left != "" && !o.DropPending {
		return n, fmt.Errorf("migrate: %w: %s", ErrPending, left)
	}
	if left != "" {
		log.Warn("migrate: dropping events the single node had not handled", "readers", left)
	}
	accts, err := src.Accounts()
	if err != nil {
		return n, err
	}
	for _, a := range accts {
		if err := dst.ImportAccount(ctx, a); err != nil {
			return n, err
		}
		n.Accounts++
	}
	convs, err := src.Conversations(nil)
	if err != nil {
		return n, err
	}
	// Conversations before visitors: a visitor is reachable (by its token)
	// only once its conversation is complete.
	for i, c := range convs {
		next := func(after uint64) ([]store.Message, error) { return src.Messages(c.ID, after, pageSize) }
		if err := dst.ImportConversation(ctx, c, next); err != nil {
			return n, err
		}
		n.Conversations++
		n.Messages += int(c.LastSeq)
		files, notes, err := importFiles(ctx, src, dst, c.ID)
		if err != nil {
			return n, err
		}
		n.Attachments += files
		n.Notes += notes
		if (i+1)%1000 == 0 {
			log.Info("migrate: conversations", "done", i+1, "of", len(convs))
		}
	}
	err = src.Export(boltdb.Export{
		Visitor: func(tokenHash []byte, v store.Visitor) error {
			n.Visitors++
			return dst.ImportVisitor(ctx, tokenHash, v)
		},
		Session: func(hash []byte, s store.Session) error {
			n.Sessions++
			return dst.PutSession(ctx, hash, s)
		},
		Setting: func(name string, value []byte) error {
			n.Settings++
			if name == webhook.SettingName {
				var err error
				if value, err = webhook.EndpointsForNewLog(value); err != nil {
					return fmt.Errorf("migrate: %w", err)
				}
			}
			return dst.PutSettingBytes(ctx, name, value)
		},
	})
	if err != nil {
		return n, err
	}
	if n.Documents, err = carryDocs(ctx, src, dst); err != nil {
		return n, err
	}
	if err := startReaders(ctx, dst, rs); err != nil {
		return n, err
	}
	n.Readers = len(rs)
	return n, nil
}

// importFiles copies a conversation's finished files (unfinished uploads
// stay behind: their uploaders send them again) and its notes.
func importFiles(ctx context.Context, src *boltdb.Store, dst *jetstream.Store, convID string) (files, notes int, err error) {
	as, err := src.Attachments(convID)
	if err != nil {
		return 0, 0, err
	}
	for _, a := range as {
		_, data, err := src.Attachment(convID, a.ID, false)
		if err != nil {
			return files, 0, err
		}
		var thumb []byte
		if a.ThumbType != "" {
			if _, thumb, err = src.Attachment(convID, a.ID, true); err != nil {
				return files, 0, err
			}
		}
		if err := dst.PutAttachment(ctx, a, data, thumb); err != nil {
			return files, 0, err
		}
		files++
	}
	ns, err := src.Notes(convID)
	if err != nil {
		return files, 0, err
	}
	if err := dst.ImportNotes(ctx, convID, ns); err != nil {
		return files, 0, err
	}
	return files, len(ns), nil
}
