package store

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrCorrupt marks an error caused by damaged data: a record that does not
// decode, or a database file that is cut short or overwritten. The
// operator's tools (kefu check, kefu repair) find and set such data aside.
var ErrCorrupt = errors.New("damaged data")

// Problem is one piece of damage a check found: a record that does not
// decode or contradicts the records it points to, or a damaged part of the
// file itself.
type Problem struct {
	// Area is where it lies: a bbolt bucket, or "file" for the database's
	// own structure. Another backend names its streams or key-value buckets.
	Area string `json:"area"`
	// Key names the record within Area in printable form; empty for damage
	// to the structure.
	Key string `json:"key,omitempty"`
	// Err says what is wrong.
	Err string `json:"error"`
}

func (p Problem) String() string {
	if p.Key == "" {
		return p.Area + ": " + p.Err
	}
	return p.Area + " " + p.Key + ": " + p.Err
}

// CheckReport is the outcome of checking a whole database.
type CheckReport struct {
	// Records counts the records read, by area.
	Records map[string]int `json:"records"`
	// Problems lists the damage found; empty means the database is sound.
	Problems []Problem `json:"problems"`
	// Notes are things worth knowing that are not damage: records set
	// aside by an earlier repair, areas this version does not know.
	Notes []string `json:"notes,omitempty"`
}

// OK reports whether the check found no damage.
func (r CheckReport) OK() bool { return len(r.Problems) == 0 }

// Summary is one line: how many records in how many areas, how many problems.
func (r CheckReport) Summary() string {
	total := 0
	for _, n := range r.Records {
		total += n
	}
	if r.OK() {
		return fmt.Sprintf("%d records in %d areas, no problems", total, len(r.Records))
	}
	return fmt.Sprintf("%d records in %d areas, %d problems", total, len(r.Records), len(r.Problems))
}

// Err is nil for a sound database, else an error (wrapping ErrCorrupt)
// that names the first few problems.
func (r CheckReport) Err() error {
	if r.OK() {
		return nil
	}
	var b strings.Builder
	for i, p := range r.Problems {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(r.Problems)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return fmt.Errorf("%w: %s", ErrCorrupt, b.String())
}

// Areas returns the areas of Records in order, for printing.
func (r CheckReport) Areas() []string {
	out := make([]string, 0, len(r.Records))
	for a := range r.Records {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// RepairReport is the outcome of a repair.
type RepairReport struct {
	// Check is what the check before the repair found.
	Check CheckReport `json:"check"`
	// Quarantined lists the records set aside, with why; they are kept in
	// the repaired database, out of the relay's way.
	Quarantined []Problem `json:"quarantined,omitempty"`
	// Unreadable lists damaged parts nothing could be read from.
	Unreadable []Problem `json:"unreadable,omitempty"`
	// Lost lists the records known to be gone (message seqs a conversation
	// had): they are noted in the quarantine so a seq is never reused.
	Lost []Problem `json:"lost,omitempty"`
	// Fixed lists records rebuilt or corrected from the others.
	Fixed []Problem `json:"fixed,omitempty"`
	// Kept is the damaged original file, left untouched beside the
	// repaired one; empty when nothing needed repair.
	Kept string `json:"kept,omitempty"`
}

// Changed reports whether the repair changed anything.
func (r RepairReport) Changed() bool { return r.Kept != "" }
