package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Store is what attachments need of the store.
type Store interface {
	VisitorByToken(tokenHash []byte) (store.Visitor, error)
	Conversation(id string) (store.Conversation, error)
	Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error)
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
}

// Defaults of Options.
const (
	// DefaultMaxBytes is the largest file: a phone photo or a long PDF.
	DefaultMaxBytes = 10 << 20
	// DefaultVisitorQuota is what one visitor may store in all: five
	// files at the default limit.
	DefaultVisitorQuota = 50 << 20
	// DefaultUploadTTL is how long an upload nobody continues is kept:
	// a visitor whose train went into a tunnel resumes within it.
	DefaultUploadTTL = 24 * time.Hour
	// MaxOpenUploads bounds the unfinished uploads of one conversation.
	MaxOpenUploads = 5
)

// Options configure the service.
type Options struct {
	// MaxBytes is the largest file accepted (--max-file-bytes). 0 turns
	// attachments off: every endpoint answers 404 not_supported.
	MaxBytes int64
	// VisitorQuota bounds what one visitor stores (--visitor-file-quota).
	VisitorQuota int64
	// UploadTTL is how long an abandoned upload is kept. Default
	// DefaultUploadTTL.
	UploadTTL time.Duration
	// BehindProxy trusts X-Forwarded-For for rate limits.
	BehindProxy bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Service checks, stores and serves attachments.
type Service struct {
	opts Options
	st   Store
	log  *slog.Logger
	// work admits one image decode at a time: a big one takes hundreds
	// of megabytes while it is made again.
	work chan struct{}
}

// New returns the service; it does no I/O.
func New(opts Options, st Store, log *slog.Logger) *Service {
	if opts.UploadTTL <= 0 {
		opts.UploadTTL = DefaultUploadTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts, st: st, log: log, work: make(chan struct{}, 1)}
}

// Enabled reports whether attachments are on.
func (s *Service) Enabled() bool { return s.opts.MaxBytes > 0 }

// MaxBytes is the largest file accepted.
func (s *Service) MaxBytes() int64 { return s.opts.MaxBytes }

// Sender is who uploads: a visitor, or an agent with their account.
type Sender struct {
	From     string // protocol.FromVisitor or protocol.FromAgent
	AuthorID string
	Author   string
}

// CreateRequest is the body of a new upload.
type CreateRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Status is where an upload stands; Message is the stored message once
// the file is in.
type Status struct {
	ID      string            `json:"id"`
	Offset  int64             `json:"offset"`
	Size    int64             `json:"size"`
	Done    bool              `json:"done"`
	Part    int               `json:"part,omitempty"` // the most bytes one part may carry
	Message *protocol.Message `json:"message,omitempty"`
}

// ErrQuota means the visitor's files would go over their quota.
var ErrQuota = errors.New("quota exceeded")

// Create starts an upload in a conversation (or finds the one with the
// same id). It refuses a file over the size limit, a visitor over their
// quota, and too many unfinished uploads.
func (s *Service) Create(ctx context.Context, convID string, by Sender, req CreateRequest) (Status, error) {
	if err := validUploadID(req.ID); err != nil {
		return Status{}, err
	}
	if u, err := s.st.Upload(convID, req.ID); err == nil {
		return s.status(u), nil
	}
	switch {
	case req.Size <= 0:
		return Status{}, protocol.Errorf(protocol.CodeBadField, `field "size" must be the file's size in bytes (at least 1)`)
	case req.Size > s.opts.MaxBytes:
		return Status{}, &Refusal{Code: CodeTooBig, Message: fmt.Sprintf("this file is %s; the limit is %s", Bytes(req.Size), Bytes(s.opts.MaxBytes))}
	case len(req.Name) > 1024:
		return Status{}, protocol.Errorf(protocol.CodeBadField, `field "name" is longer than 1024 bytes`)
	}
	open, err := s.st.Uploads(convID)
	if err != nil {
		return Status{}, err
	}
	mine := 0
	for _, u := range open {
		if u.From == by.From && u.AuthorID == by.AuthorID {
			mine++
		}
	}
	if mine >= MaxOpenUploads {
		return Status{}, protocol.Errorf(protocol.CodeRateLimited, fmt.Sprintf("%d files are still on their way; finish or cancel one first", mine))
	}
	if by.From == protocol.FromVisitor {
		as, err := s.st.Attachments(convID)
		if err != nil {
			return Status{}, err
		}
		if used := store.VisitorUsage(as, open); used+req.Size > s.opts.VisitorQuota {
			return Status{}, fmt.Errorf("%w: %s of files were sent here already; the limit is %s", ErrQuota, Bytes(used), Bytes(s.opts.VisitorQuota))
		}
	}
	now := s.opts.Now()
	u, _, err := s.st.CreateUpload(ctx, store.Upload{
		ConversationID: convID, ID: req.ID, AttachmentID: store.NewID(), Name: req.Name, Size: req.Size,
		From: by.From, AuthorID: by.AuthorID, Author: by.Author, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		return Status{}, err
	}
	return s.status(u), nil
}

func (s *Service) status(u store.Upload) Status {
	return Status{ID: u.ID, Offset: u.Offset, Size: u.Size, Part: store.MaxUploadPart}
}

// Status says where an upload stands. An upload that has every byte but
// was not finished (its finisher died) is finished now.
func (s *Service) Status(ctx context.Context, convID, id string) (Status, error) {
	u, err := s.st.Upload(convID, id)
	if err != nil {
		return Status{}, err
	}
	if u.Offset == u.Size {
		return s.finish(ctx, u)
	}
	return s.status(u), nil
}

// Put stores a part of an upload at offset; the last part finishes the
// upload: the file is checked, stored and sent as a message.
func (s *Service) Put(ctx context.Context, convID, id string, offset int64, data []byte) (Status, error) {
	var u store.Upload
	var err error
	if len(data) == 0 {
		// An empty part asks to finish an upload that has every byte.
		u, err = s.st.Upload(convID, id)
		if err == nil && u.Offset != u.Size {
			err = fmt.Errorf("an empty part: %w", store.ErrOffset)
		}
	} else {
		u, err = s.st.AppendUpload(ctx, convID, id, offset, data)
	}
	if err != nil {
		return Status{}, err
	}
	if u.Offset < u.Size {
		return s.status(u), nil
	}
	return s.finish(ctx, u)
}

// Cancel drops an unfinished upload.
func (s *Service) Cancel(ctx context.Context, convID, id string) error {
	return s.st.DeleteUpload(ctx, convID, id)
}

// finish makes an upload with every byte into an attachment and its
// message. Each step is idempotent (the attachment's id and the message's
// client id come from the upload), so a finish repeated after a crash, or
// run twice at once, stores one file and one message.
func (s *Service) finish(ctx context.Context, u store.Upload) (Status, error) {
	data, err := s.st.UploadData(u.ConversationID, u.ID)
	if err != nil {
		return Status{}, err
	}
	select {
	case s.work <- struct{}{}:
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
	p, err := Process(u.Name, data)
	<-s.work
	if err != nil {
		// Refused for good: the upload goes, the sender is told why.
		if derr := s.st.DeleteUpload(context.WithoutCancel(ctx), u.ConversationID, u.ID); derr != nil {
			s.log.Warn("files: drop a refused upload", "conversation", u.ConversationID, "err", derr)
		}
		return Status{}, err
	}
	a := store.Attachment{
		ID: u.AttachmentID, ConversationID: u.ConversationID, Name: p.Name, Type: p.Type,
		Width: p.Width, Height: p.Height, ThumbType: p.ThumbType, SHA256: p.SHA256,
		From: u.From, AuthorID: u.AuthorID, CreatedAt: s.opts.Now(),
	}
	if err := s.st.PutAttachment(ctx, a, p.Data, p.Thumb); err != nil {
		return Status{}, err
	}
	a.Size, a.ThumbSize = int64(len(p.Data)), int64(len(p.Thumb))
	ap, err := s.st.Append(ctx, u.ConversationID, store.NewMessage{
		ClientID: "upload:" + u.ID, From: u.From, AuthorID: u.AuthorID, Author: u.Author, Text: p.Name, Attachment: &a,
	})
	if err != nil {
		return Status{}, err
	}
	if err := s.st.DeleteUpload(ctx, u.ConversationID, u.ID); err != nil {
		s.log.Warn("files: drop a finished upload", "conversation", u.ConversationID, "err", err)
	}
	s.log.Info("files: stored", "conversation", u.ConversationID, "type", p.Type, "bytes", len(p.Data), "from", u.From)
	st := Status{ID: u.ID, Offset: u.Size, Size: u.Size, Done: true}
	m := messageOf(ap.Messages[0])
	st.Message = &m
	return st, nil
}

// Sweep removes uploads nobody continued within the TTL, finishing those
// that have every byte (their finisher died): nothing sent whole is lost.
func (s *Service) Sweep(ctx context.Context) (finished, dropped int, err error) {
	stale, err := s.st.StaleUploads(s.opts.Now().Add(-s.opts.UploadTTL), 200)
	if err != nil {
		return 0, 0, err
	}
	for _, u := range stale {
		if u.Offset == u.Size {
			if _, err := s.finish(ctx, u); err == nil {
				finished++
				continue
			} else if !isRefusal(err) {
				return finished, dropped, err
			}
		}
		if err := s.st.DeleteUpload(ctx, u.ConversationID, u.ID); err != nil {
			return finished, dropped, err
		}
		dropped++
	}
	return finished, dropped, nil
}

// Run sweeps every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f, d, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("files: sweep of abandoned uploads", "err", err)
		} else if f+d > 0 {
			s.log.Info("files: swept abandoned uploads", "finished", f, "dropped", d)
		}
	}
}

func isRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// Eraser is the privacy hook (docs/privacy.md): the erased
// conversations' files and unfinished uploads go before their records.
func (s *Service) Eraser() privacy.Eraser {
	return privacy.EraserFunc{ID: "attachments", Fn: func(ctx context.Context, sub privacy.Subject) error {
		_, err := s.st.DeleteAttachments(ctx, sub.ConversationIDs)
		return err
	}}
}

// validUploadID keeps ids usable in URLs and keys.
func validUploadID(id string) error {
	if id == "" || len(id) > protocol.MaxIDLen {
		return protocol.Errorf(protocol.CodeBadField, `field "id" must be 1 to 64 of A-Z, a-z, 0-9, - and _`)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return protocol.Errorf(protocol.CodeBadField, `field "id" must be 1 to 64 of A-Z, a-z, 0-9, - and _`)
		}
	}
	return nil
}

// Bytes says a size for people: "10 MB", "512 KB", "300 bytes".
func Bytes(n int64) string {
	switch {
	case n >= 1<<20:
		v := float64(n) / (1 << 20)
		if v == float64(int64(v)) {
			return fmt.Sprintf("%d MB", int64(v))
		}
		return fmt.Sprintf("%.1f MB", v)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
