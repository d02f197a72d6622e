package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/datadir"
	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

const visitorUsage = `Usage:
  kefu visitor find   [--data DIR] --id ID | --email ADDRESS | --trait KEY=VALUE | --hash H[,H…]
  kefu visitor export [--data DIR] VISITOR_ID...      (JSON on standard output)
  kefu visitor erase  [--data DIR] VISITOR_ID...
A single node's data directory, its relay stopped (the admin page does the
same while it runs; on a cluster, use the admin page or its API). --hash
finds visitors by the hashes the audit and the log name erased visitors
with: after restoring a backup, erase them again.
docs/privacy.md says what each finds, exports and erases.
`

// visitorCmd is kefu visitor find|export|erase on an offline data dir.
func visitorCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, visitorUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("kefu visitor "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, visitorUsage) }
	def := getenv("KEFU_DATA")
	if def == "" {
		def = "./data"
	}
	data := fs.String("data", def, "the data directory (KEFU_DATA)")
	var q privacy.Query
	var trait string
	if sub == "find" {
		fs.StringVar(&q.ID, "id", "", "a visitor or conversation id")
		fs.StringVar(&q.Email, "email", "", "the email the page told (identify)")
		fs.StringVar(&trait, "trait", "", "KEY=VALUE of a trait the page told")
		fs.StringVar(&q.Hash, "hash", "", "comma-separated visitor hashes from the audit or the log")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch sub {
	case "find":
		if trait != "" {
			k, v, ok := strings.Cut(trait, "=")
			if !ok || k == "" {
				fmt.Fprintln(stderr, "kefu visitor find: --trait takes KEY=VALUE")
				return 2
			}
			q.Trait, q.Value = k, v
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "kefu visitor find: unexpected %q\n", fs.Arg(0))
			return 2
		}
	case "export", "erase":
		if fs.NArg() == 0 {
			fmt.Fprintf(stderr, "kefu visitor %s: name at least one visitor id (kefu visitor find shows them)\n", sub)
			return 2
		}
	default:
		fmt.Fprintf(stderr, "kefu visitor: unknown command %q (find, export, erase)\n", sub)
		return 2
	}

	if err := datadir.Check(*data, datadir.Single); err != nil {
		fmt.Fprintf(stderr, "kefu visitor: %v\n", err)
		return 2
	}
	if _, err := os.Stat(filepath.Join(*data, boltdb.FileName)); err != nil {
		fmt.Fprintf(stderr, "kefu visitor: no store in %s (%s not found)\n", *data, boltdb.FileName)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := boltdb.Open(*data, boltdb.Options{Logger: log})
	if errors.Is(err, boltdb.ErrLocked) {
		fmt.Fprintf(stderr, "kefu visitor: %s is in use by a running kefu; use the admin page, or stop it first\n", *data)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu visitor: %v\n", err)
		return 1
	}
	defer st.Close()
	// The running relay's search eraser also drops its index; offline,
	// there is only the stored tags to delete.
	svc := privacy.New(st, privacy.Options{Log: log, Erasers: []privacy.Eraser{privacy.EraserFunc{ID: "tags",
		Fn: func(ctx context.Context, sub privacy.Subject) error {
			return store.EraseTags(ctx, st, sub.ConversationIDs)
		}}}})
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")

	var out any
	switch sub {
	case "find":
		found, err := svc.Find(q)
		if errors.Is(err, privacy.ErrBadQuery) {
			fmt.Fprintf(stderr, "kefu visitor find: %v (--id, --email, --trait or --hash)\n", err)
			return 2
		}
		if err != nil {
			fmt.Fprintf(stderr, "kefu visitor find: %v\n", err)
			return 1
		}
		if len(found) == 0 {
			fmt.Fprintln(stderr, "kefu visitor find: nobody matches")
			return 1
		}
		out = found
	case "export":
		exp, err := svc.Export(fs.Args())
		if err != nil {
			fmt.Fprintf(stderr, "kefu visitor export: %v\n", err)
			return 1
		}
		out = exp
	case "erase":
		r, err := svc.Erase(ctx, fs.Args(), "kefu visitor erase")
		if err != nil {
			fmt.Fprintf(stderr, "kefu visitor erase: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "kefu visitor erase: %d visitors, %d conversations, %d messages erased; the file compacted\n", r.Visitors, r.Conversations, r.Messages)
		out = r
	}
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "kefu visitor %s: %v\n", sub, err)
		return 1
	}
	return 0
}
