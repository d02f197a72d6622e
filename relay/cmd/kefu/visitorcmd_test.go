package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

func TestVisitorCommands(t *testing.T) {
	data := t.TempDir()
	st, err := boltdb.Open(data, boltdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, email := range []string{"ann@example.com", "ann@example.com", "bob@example.com"} {
		v, c, err := st.CreateVisitor(context.Background(), storetest.TokenHash(store.NewID()), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateVisitor(context.Background(), v.ID, func(v *store.Visitor) error { v.Traits = map[string]string{"email": email}; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(context.Background(), c.ID, store.NewMessage{From: "visitor", Text: "phrase-of-" + email}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	st.Close()
	kefu := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"visitor"}, args...), func(string) string { return "" }, &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, stderr := kefu("find", "--data", data, "--email", "ANN@example.com")
	var found []privacy.Found
	if code != 0 || json.Unmarshal([]byte(out), &found) != nil || len(found) != 2 {
		t.Fatalf("find = %d %s %s", code, out, stderr)
	}
	code, out, _ = kefu("export", "--data", data, ids[0], ids[1])
	if code != 0 || !strings.Contains(out, "phrase-of-ann@example.com") {
		t.Fatalf("export = %d %s", code, out)
	}
	// The audit's hashes find them too (after a restore, say).
	code, out, _ = kefu("find", "--data", data, "--hash", privacy.HashID(ids[0])+", "+privacy.HashID(ids[1]))
	if code != 0 || json.Unmarshal([]byte(out), &found) != nil || len(found) != 2 {
		t.Fatalf("find by hash = %d %s", code, out)
	}
	code, out, stderr = kefu("erase", "--data", data, ids[0], ids[1])
	if code != 0 || !strings.Contains(stderr, "2 visitors") {
		t.Fatalf("erase = %d %s %s", code, out, stderr)
	}
	if got := storetest.FilesHolding(t, data, "ann@example.com", "phrase-of-ann"); len(got) != 0 {
		t.Fatalf("after kefu visitor erase the data directory holds %v", got)
	}
	if code, _, _ := kefu("find", "--data", data, "--email", "ann@example.com"); code != 1 {
		t.Errorf("find after erasure exits %d, want 1 (nobody)", code)
	}
	if code, out, _ := kefu("find", "--data", data, "--trait", "email=bob@example.com"); code != 0 || !strings.Contains(out, ids[2]) {
		t.Errorf("bob by trait: %d %s", code, out)
	}

	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "Usage"},
		{[]string{"purge"}, 2, "unknown command"},
		{[]string{"find", "--data", data}, 2, "--id, --email, --trait or --hash"},
		{[]string{"find", "--data", data, "--trait", "novalue"}, 2, "KEY=VALUE"},
		{[]string{"erase", "--data", data}, 2, "at least one visitor id"},
		{[]string{"erase", "--data", data, "nosuchvisitor00"}, 1, "no such visitor"},
		{[]string{"find", "--data", t.TempDir(), "--id", "x"}, 2, "no store"},
	} {
		code, _, stderr := kefu(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.says) {
			t.Errorf("kefu visitor %v = %d %q; want %d saying %q", tc.args, code, stderr, tc.code, tc.says)
		}
	}
}
