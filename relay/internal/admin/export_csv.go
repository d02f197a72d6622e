package admin

import (
	"cmp"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// csvHeader is the first row of a CSV export: one row per message or
// internal note, in conversation order (docs/admin.md).
var csvHeader = []string{"conversation_id", "visitor_id", "status", "handler", "agent_id", "seq", "time", "from", "author", "text", "intent", "attachment", "rating", "tags"}

// writeCSV writes the conversations as CSV, each as it is read; it
// reports the first conversation it could not read (the rows so far are
// sent, and a last row names the failure, as the JSON export does).
func (a *Admin) writeCSV(w http.ResponseWriter, convs []store.Conversation) (int, error) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="kefu-conversations.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range convs {
		ce, err := a.d.Privacy.ExportConversation(c)
		if err != nil {
			_ = cw.Write([]string{"error: export stopped at conversation " + c.ID + ": " + err.Error()})
			cw.Flush()
			return n, err
		}
		for _, row := range csvRows(ce) {
			if err := cw.Write(row); err != nil {
				return n, err // the client went away
			}
		}
		n++
		cw.Flush()
	}
	cw.Flush()
	return n, cw.Error()
}

// csvRows are a conversation's messages and notes, notes placed after the
// message they were written after (from "note").
func csvRows(ce privacy.ConversationExport) [][]string {
	c := ce.Conversation
	row := func(ts time.Time, from, author, text, intent, file, rating string, n uint64) []string {
		return []string{c.ID, c.VisitorID, c.Status, c.Handler, c.AgentID, strconv.FormatUint(n, 10), ts.UTC().Format(time.RFC3339Nano),
			from, cell(author), cell(text), intent, cell(file), rating, strings.Join(ce.Tags, " ")}
	}
	notes := slices.Clone(ce.Notes)
	slices.SortStableFunc(notes, func(a, b store.Note) int { return cmp.Compare(a.AfterSeq, b.AfterSeq) })
	var out [][]string
	flushNotes := func(upTo uint64) {
		for len(notes) > 0 && notes[0].AfterSeq <= upTo {
			nt := notes[0]
			notes = notes[1:]
			out = append(out, row(nt.Time, "note", nt.Author, nt.Text, "", "", "", nt.AfterSeq))
		}
	}
	for _, m := range ce.Messages {
		flushNotes(m.Seq - 1)
		file, rating := "", ""
		if m.Attachment != nil {
			file = m.Attachment.Name
		}
		if m.Rating != nil {
			rating = strconv.Itoa(m.Rating.Score)
		}
		out = append(out, row(m.Time, m.From, m.Author, m.Text, m.Intent, file, rating, m.Seq))
	}
	flushNotes(^uint64(0))
	return out
}

// cell keeps a spreadsheet from running what a visitor typed: a cell that
// starts with = + - @ (or a tab or carriage return before one) is a
// formula to Excel, LibreOffice and Google Sheets, so it gets a leading
// apostrophe, which they show as text (OWASP's advice for CSV injection).
func cell(s string) string {
	t := strings.TrimLeft(s, "\t\r ")
	if t != "" && strings.ContainsRune("=+-@", rune(t[0])) {
		return "'" + s
	}
	return s
}
