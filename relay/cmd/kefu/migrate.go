package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kefuhq/kefu/relay/internal/datadir"
	"github.com/kefuhq/kefu/relay/internal/migrate"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream"
	"github.com/nats-io/nats.go"
)

// migrateCmd copies a stopped single node's data directory into a JetStream
// cluster: kefu migrate --from DIR --nats-url URL.
func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kefu migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the single node's data directory (its relay stopped)")
	url := fs.String("nats-url", "", "the cluster's NATS URL(s), comma-separated")
	creds := fs.String("nats-creds", "", "NATS credentials file, if the cluster needs one")
	prefix := fs.String("prefix", "kefu", "the names of the cluster's stream and buckets (as the cluster's nodes use)")
	replicas := fs.Int("replicas", 0, "replicas of the stream and buckets; 0: 3 on a cluster of three or more servers, else 1")
	dropPending := fs.Bool("drop-pending", false, "move even if the single node had not sent every webhook, mail or push notification yet (those are then never sent)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: kefu migrate --from DIR --nats-url URL [--nats-creds FILE] [--prefix kefu] [--replicas N] [--drop-pending]")
		fmt.Fprintln(stderr, "Copies a single-node store into JetStream. Safe to run again: it finishes an interrupted run and stores nothing twice.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *from == "" || *url == "" {
		fmt.Fprintln(stderr, "kefu migrate: --from and --nats-url are required")
		fs.Usage()
		return 2
	}
	if err := datadir.Check(*from, datadir.Single); err != nil {
		fmt.Fprintf(stderr, "kefu migrate: %v\n", err)
		return 2
	}
	if _, err := os.Stat(filepath.Join(*from, boltdb.FileName)); err != nil {
		fmt.Fprintf(stderr, "kefu migrate: no single-node store in %s (%s not found)\n", *from, boltdb.FileName)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	src, err := boltdb.Open(*from, boltdb.Options{Logger: log})
	if errors.Is(err, boltdb.ErrLocked) {
		fmt.Fprintf(stderr, "kefu migrate: %s is in use by a running kefu; stop it first, so nothing it stores is left behind\n", *from)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu migrate: %v\n", err)
		return 1
	}
	defer src.Close()
	opts := []nats.Option{nats.Name("kefu migrate"), nats.Timeout(10 * time.Second)}
	if *creds != "" {
		opts = append(opts, nats.UserCredentials(*creds))
	}
	nc, err := nats.Connect(*url, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "kefu migrate: connect to %s: %v\n", *url, err)
		return 1
	}
	defer nc.Close()
	dst, err := jetstream.Open(ctx, nc, jetstream.Options{Prefix: *prefix, Replicas: *replicas, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "kefu migrate: %v\n", err)
		return 1
	}
	defer dst.Close()
	start := time.Now()
	n, err := migrate.BoltToJetStream(ctx, src, dst, log, migrate.Options{DropPending: *dropPending})
	if errors.Is(err, migrate.ErrPending) {
		fmt.Fprintf(stderr, "kefu migrate: %v\nNothing was moved. Start the single node until they are sent (a failing webhook URL shows in the admin page), stop it, and run this again; or pass --drop-pending to move without them.\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu migrate: stopped after %v: %v\nNothing is lost: run the same command again to finish.\n", n, err)
		return 1
	}
	fmt.Fprintf(stdout, "kefu migrate: %v into %s (%d replicas) in %v\n", n, jetstream.StreamName(*prefix), dst.Replicas(), time.Since(start).Round(time.Millisecond))
	return 0
}
