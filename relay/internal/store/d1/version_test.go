//go:build !js

package d1

import (
	"context"
	"strings"
	"testing"
)

// Every change to a settings document moves the version, whoever makes it:
// this store, or SQL run beside it (wrangler d1 execute, another isolate).
// A write of anything else leaves it alone.
func TestSettingsVersionMovesWithEveryChange(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t)
	s := New(db, Options{})
	version := func() int64 {
		t.Helper()
		v, err := s.SettingsVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	last := version()
	step := func(what string, change func() error, moves bool) {
		t.Helper()
		if err := change(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		v := version()
		if moves && v <= last {
			t.Errorf("%s: version %d, want more than %d", what, v, last)
		}
		if !moves && v != last {
			t.Errorf("%s: version %d, want %d unchanged", what, v, last)
		}
		last = v
	}
	step("a new document", func() error { return s.PutSetting(ctx, "widget", map[string]string{"title": "Hi"}) }, true)
	step("the same document again", func() error { return s.PutSetting(ctx, "widget", map[string]string{"title": "Hello"}) }, true)
	step("raw bytes", func() error { return s.PutSettingBytes(ctx, "intents.model", []byte{1, 2, 3}) }, true)
	step("INSERT OR REPLACE beside the store", func() error {
		_, err := db.SQL.ExecContext(ctx, `INSERT OR REPLACE INTO settings (name, value) VALUES ('intents', '{}')`)
		return err
	}, true)
	step("DELETE beside the store", func() error {
		_, err := db.SQL.ExecContext(ctx, `DELETE FROM settings WHERE name = 'intents'`)
		return err
	}, true)
	step("a visitor and their conversation", func() error {
		_, _, err := s.CreateVisitor(ctx, []byte("0123456789abcdef0123456789abcdef"), "fp")
		return err
	}, false)
}

// Without the migration the version cannot be read, and the error says
// what to do.
func TestSettingsVersionWithoutMigration(t *testing.T) {
	db := openSQLite(t)
	if _, err := db.SQL.Exec(`DROP TABLE settings_version`); err != nil {
		t.Fatal(err)
	}
	_, err := New(db, Options{}).SettingsVersion(context.Background())
	if err == nil {
		t.Fatal("no error without the settings_version table")
	}
	if want := "wrangler d1 migrations apply"; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want a hint %q", err, want)
	}
}

// ForgetSettings makes the next read see what was written beside the
// store since the settings were loaded.
func TestForgetSettings(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t)
	s := New(db, Options{SettingsOnFirstRead: true})
	if err := s.PutSetting(ctx, "widget", "before"); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		var v string
		if _, err := s.Setting("widget", &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := read(); got != "before" {
		t.Fatalf("read %q", got)
	}
	if _, err := db.SQL.ExecContext(ctx, `UPDATE settings SET value = '"after"' WHERE name = 'widget'`); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "before" {
		t.Fatalf("read %q before ForgetSettings, want the loaded %q", got, "before")
	}
	s.ForgetSettings()
	if got := read(); got != "after" {
		t.Errorf("read %q after ForgetSettings, want %q", got, "after")
	}
}

// SettingsMoved tells another's write from the store's own: its own
// writes are what its caller holds already, anyone else's means build
// again.
func TestSettingsMovedByOthersOnly(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t)
	s := New(db, Options{SettingsOnFirstRead: true})
	since, _, err := s.SettingsMoved(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, want bool) {
		t.Helper()
		v, moved, err := s.SettingsMoved(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		if moved != want {
			t.Errorf("%s: moved = %v, want %v (version %d, since %d)", what, moved, want, v, since)
		}
		since = v
	}
	check("nothing written", false)
	for i := range 3 {
		if err := s.PutSetting(ctx, "ai.budget", i); err != nil {
			t.Fatal(err)
		}
	}
	check("three writes of its own", false)
	if err := s.PutSetting(ctx, "ai.budget", 9); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, `UPDATE settings SET value = '{}' WHERE name = 'ai.budget'`); err != nil {
		t.Fatal(err)
	}
	check("its own write and another's", true)
	if _, err := db.SQL.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('intents', '{}')`); err != nil {
		t.Fatal(err)
	}
	check("another's write", true)
	check("nothing since", false)

	// A write that failed may or may not have been applied.
	if _, err := db.SQL.ExecContext(ctx, `DROP TRIGGER settings_updated`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, `CREATE TRIGGER settings_refused BEFORE UPDATE ON settings BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, "ai.budget", 10); err == nil {
		t.Fatal("the refused write succeeded")
	}
	check("after a failed write", true)
	check("nothing since the failed write", false)
}

// A write running while the version is read may be on either side of the
// read: both that read and the next say moved.
func TestSettingsMovedUnsureOfOverlappingWrites(t *testing.T) {
	var o ownWrites
	gen := o.writeBegins()
	if n, unsure := o.readBegins(); n != 0 || !unsure {
		t.Errorf("read begun during a write: %d own, unsure %v; want unsure", n, unsure)
	}
	o.writeEnds(gen, true)
	o.readEnds()
	if n, unsure := o.readBegins(); n != 0 || !unsure {
		t.Errorf("the read after: %d own, unsure %v; want unsure", n, unsure)
	}
	o.readEnds()
	// Begun and ended within a read.
	n, unsure := o.readBegins()
	if n != 0 || unsure {
		t.Errorf("a quiet read: %d own, unsure %v", n, unsure)
	}
	o.writeEnds(o.writeBegins(), true)
	if !o.readEnds() {
		t.Error("a read a whole write ran within is sure")
	}
	if _, unsure := o.readBegins(); !unsure {
		t.Error("the read after one a whole write ran within is sure")
	}
	o.readEnds()
	o.writeEnds(o.writeBegins(), true)
	o.writeEnds(o.writeBegins(), true)
	if n, unsure := o.readBegins(); n != 2 || unsure {
		t.Errorf("two writes between reads: %d own, unsure %v; want 2, sure", n, unsure)
	}
}
