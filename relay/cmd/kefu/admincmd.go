package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// adminCmd runs `kefu admin SUBCOMMAND`.
func adminCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "reset-password" {
		fmt.Fprintln(stderr, "kefu: usage: kefu admin reset-password [--data DIR] [--password-stdin] USER")
		return 2
	}
	return resetPassword(ctx, args[1:], getenv, stdin, stdout, stderr)
}

// resetPassword sets a new password on the data directory, with the relay
// stopped: the way back in for someone who lost theirs. It works offline
// so that it needs no password, only access to the files.
func resetPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, data := toolFlags("admin reset-password", getenv)
	fromStdin := fs.Bool("password-stdin", false, "read the new password from the first line of stdin (else KEFU_NEW_PASSWORD, else a random one is printed)")
	pos, code := parseTool(fs, args, 1, "kefu admin reset-password [--data DIR] [--password-stdin] USER", stdout, stderr)
	if code >= 0 {
		return code
	}
	username := pos[0]
	password, generated := getenv("KEFU_NEW_PASSWORD"), false
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "kefu: read the password from stdin: %v\n", err)
			return 1
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		password, generated = auth.RandomPassword(), true
	}
	if err := auth.CheckPassword(password); err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 2
	}
	if _, err := os.Stat(filepath.Join(*data, boltdb.FileName)); err != nil {
		fmt.Fprintf(stderr, "kefu: no database in %s (%v); is --data (or KEFU_DATA) the relay's?\n", *data, err)
		return 1
	}
	st, err := boltdb.Open(*data, boltdb.Options{LockTimeout: lockWait})
	if errors.Is(err, boltdb.ErrLocked) {
		fmt.Fprintf(stderr, "kefu: %s is in use by a running relay. Stop it first (systemctl stop kefu, podman stop …):\n"+
			"      reset-password changes the database directly, so it works without any password.\n", *data)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 1
	}
	defer st.Close()
	acct, err := st.AccountByUsername(username)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(stderr, "kefu: no account %q in %s%s\n", username, *data, knownUsernames(st))
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 1
	}
	svc := auth.New(st, slog.New(slog.DiscardHandler), auth.Options{})
	if err := svc.SetPassword(ctx, acct.ID, password, nil); err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "kefu: the password of %q is reset; its sessions in other browsers are ended.\n", acct.Username)
	if acct.Disabled {
		if _, err := st.UpdateAccount(ctx, acct.ID, func(a *store.Account) error { a.Disabled = false; return nil }); err != nil {
			fmt.Fprintf(stderr, "kefu: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "kefu: %q was disabled; it is enabled again.\n", acct.Username)
	}
	if generated {
		fmt.Fprintf(stdout, "New password: %s\n", password)
	}
	fmt.Fprintln(stdout, "Start kefu again and sign in.")
	return 0
}

func knownUsernames(st *boltdb.Store) string {
	accts, err := st.Accounts()
	if err != nil || len(accts) == 0 {
		return " (there are no accounts yet: the relay creates admin at its first start)"
	}
	names := make([]string, len(accts))
	for i, a := range accts {
		names[i] = a.Username
	}
	return "; accounts: " + strings.Join(names, ", ")
}
