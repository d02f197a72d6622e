package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/ops"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
)

// The operator's commands work on a data directory, as serve does; what
// they ask of the storage backend is in backend.go.

const toolsUsage = `
Operator commands (each takes --data DIR, default KEFU_DATA or ./data):
  kefu check [--file FILE] [--json]     verify every page and record; exit 1 on damage
  kefu repair                           set damaged records aside (the relay stopped)
  kefu backup FILE|-                    a consistent copy, also while the relay runs
  kefu admin reset-password [--password-stdin] USER
                                        a new password (the relay stopped); prints it,
                                        or reads it from stdin or KEFU_NEW_PASSWORD
`

// lockWait is how long a command waits for a relay holding the database:
// long enough to ride out one that is stopping, short enough to say
// "it runs" at once.
const lockWait = time.Second

// toolFlags is the flag set of an operator command, with --data read as
// serve reads it: the flag, else KEFU_DATA, else the default.
func toolFlags(name string, getenv func(string) string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("kefu "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := getenv("KEFU_DATA")
	if def == "" {
		def = config.Default("data")
	}
	return fs, fs.String("data", def, "the relay's data directory")
}

// parseTool parses flags placed before or after the positional arguments
// and wants exactly npos of them. It returns -1, or the exit code after
// printing why.
func parseTool(fs *flag.FlagSet, args []string, npos int, usage string, stdout, stderr io.Writer) ([]string, int) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(stdout, "Usage: "+usage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return nil, 0
			}
			fmt.Fprintf(stderr, "kefu: %v (usage: %s)\n", err, usage)
			return nil, 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != npos {
		fmt.Fprintf(stderr, "kefu: usage: %s\n", usage)
		return nil, 2
	}
	return pos, -1
}

func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs, data := toolFlags("check", getenv)
	file := fs.String("file", "", "check this database file (a backup) instead of the data directory's")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if _, code := parseTool(fs, args, 0, "kefu check [--data DIR | --file FILE] [--json]", stdout, stderr); code >= 0 {
		return code
	}
	tools, err := toolsFor(*data)
	if err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 1
	}
	path, what := *file, *file
	if path == "" {
		path, what = tools.File(*data), tools.File(*data)
	}
	rep, err := tools.Check(ctx, path)
	if errors.Is(err, boltdb.ErrLocked) && *file == "" {
		// The relay is running: check a copy of it, taken through its
		// control socket, beside the database (where there is room for it).
		what = "a backup of the running relay's " + path
		rep, err = checkLive(ctx, tools, *data)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu: check: %v\n", err)
		if errors.Is(err, store.ErrCorrupt) {
			fmt.Fprintf(stderr, "kefu: `kefu repair --data %s` salvages what can be read (the damaged file is kept).\n", filepath.Dir(path))
		}
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printReport(stdout, what, rep)
	}
	if !rep.OK() {
		if !*asJSON {
			fmt.Fprintf(stdout, "\nTo set the damage aside: stop the relay, then kefu repair --data %s\n", filepath.Dir(path))
		}
		return 1
	}
	return 0
}

func checkLive(ctx context.Context, tools storeTools, dataDir string) (store.CheckReport, error) {
	tmp, err := os.CreateTemp(dataDir, ".kefu-check-*.db")
	if err != nil {
		return store.CheckReport{}, err
	}
	defer os.Remove(tmp.Name())
	_, err = ops.FetchBackup(ctx, dataDir, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, ops.ErrNoRelay) {
		return store.CheckReport{}, fmt.Errorf("%s is in use by a relay that does not answer on %s; stop it, or check a backup (kefu check --file)", dataDir, ops.SocketPath(dataDir))
	}
	if err != nil {
		return store.CheckReport{}, err
	}
	return tools.Check(ctx, tmp.Name())
}

func printReport(w io.Writer, what string, rep store.CheckReport) {
	fmt.Fprintf(w, "kefu check: %s\n", what)
	for _, a := range rep.Areas() {
		fmt.Fprintf(w, "  %-14s %8d records\n", a, rep.Records[a])
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(w, "\nProblems (%d):\n", len(rep.Problems))
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	fmt.Fprintf(w, "\n%s\n", rep.Summary())
}

func repair(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs, data := toolFlags("repair", getenv)
	if _, code := parseTool(fs, args, 0, "kefu repair [--data DIR]", stdout, stderr); code >= 0 {
		return code
	}
	tools, err := toolsFor(*data)
	if err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 1
	}
	rep, err := tools.Repair(ctx, *data)
	if errors.Is(err, boltdb.ErrLocked) {
		fmt.Fprintf(stderr, "kefu: %s is in use by a running relay; stop it first (repair rewrites the file)\n", *data)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu: repair: %v\n", err)
		return 1
	}
	if !rep.Changed() {
		fmt.Fprintf(stdout, "kefu repair: %s is sound (%s); nothing changed\n", *data, rep.Check.Summary())
		return 0
	}
	list := func(title string, ps []store.Problem) {
		if len(ps) == 0 {
			return
		}
		fmt.Fprintf(stdout, "%s (%d):\n", title, len(ps))
		for _, p := range ps {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
	}
	fmt.Fprintf(stdout, "kefu repair: %s repaired\n", *data)
	list("Set aside in the quarantine bucket", rep.Quarantined)
	list("Rebuilt from the other records", rep.Fixed)
	list("Lost (their seqs stay used)", rep.Lost)
	list("Unreadable", rep.Unreadable)
	fmt.Fprintf(stdout, "The damaged file is kept as %s; delete it once the relay runs well.\n", rep.Kept)
	return 0
}

func backup(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs, data := toolFlags("backup", getenv)
	pos, code := parseTool(fs, args, 1, "kefu backup [--data DIR] FILE|-", stderr, stderr)
	if code >= 0 {
		return code
	}
	dest := pos[0]
	tools, err := toolsFor(*data)
	if err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 1
	}
	var out io.Writer = os.Stdout
	var tmp *os.File
	if dest != "-" {
		var err error
		// Beside the destination, renamed over it when complete: an
		// interrupted backup never replaces a good one.
		if tmp, err = os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*"); err != nil {
			fmt.Fprintf(stderr, "kefu: backup: %v\n", err)
			return 1
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		out = tmp
	}
	start := time.Now()
	source := "the running relay"
	n, err := ops.FetchBackup(ctx, *data, out)
	if errors.Is(err, ops.ErrNoRelay) {
		source = "the data directory (no relay running)"
		n, err = tools.Backup(ctx, *data, out)
		if errors.Is(err, boltdb.ErrLocked) {
			err = fmt.Errorf("%s is in use by a relay that does not answer on %s; use GET /v1/admin/backup, or stop it", *data, ops.SocketPath(*data))
		}
	}
	if err == nil && tmp != nil {
		if err = tmp.Sync(); err == nil {
			if err = tmp.Close(); err == nil {
				err = os.Rename(tmp.Name(), dest)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "kefu: backup: %v\n", err)
		return 1
	}
	took := time.Since(start).Round(time.Millisecond)
	if dest == "-" {
		fmt.Fprintf(stderr, "kefu backup: %d bytes from %s in %s\n", n, source, took)
		return 0
	}
	// A backup is only as good as its restore: check the copy.
	rep, err := tools.Check(ctx, dest)
	if err != nil || !rep.OK() {
		fmt.Fprintf(stderr, "kefu: backup: the copy in %s does not check clean: %v %s\n", dest, err, problems(rep))
		return 1
	}
	fmt.Fprintf(stderr, "kefu backup: %s (%d bytes) from %s in %s; checked: %s\n", dest, n, source, took, rep.Summary())
	return 0
}

func problems(rep store.CheckReport) string {
	if rep.OK() {
		return ""
	}
	var b strings.Builder
	for _, p := range rep.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}
