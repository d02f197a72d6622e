package auth

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// The login throttle slows guessing with a progressive delay instead of a
// lock, and counts an attempt before its password is hashed: a request
// reserves its place atomically, so any number of parallel requests get no
// more attempts through than the limits allow.
//
// Three counts, each of attempts that failed or are still being checked:
//   - per name and address: the first pairFree attempts are free, then each
//     must wait firstDelay, doubling, up to maxDelay. It slows an attacker on
//     one address without touching the owner on another.
//   - per address, over all names: addrFree free attempts, then the same
//     delays. It slows one address spraying many names.
//   - per name, over all addresses: at alarmFailures the name is on alert
//     and every address gets only alarmFree free attempt at it before the
//     delays start. It slows a guessing spread over many addresses, and
//     still never refuses the first attempt from an address new to the
//     name: the first account is always "admin", so a per-name lock would
//     let anyone lock the owner out.
//
// A success clears its name-and-address count and takes its own attempt
// back from the other two; it does not clear them, or signing in to one's
// own account would reset the count of guesses at another.
const (
	pairFree      = 5
	addrFree      = 20
	alarmFailures = 50
	alarmFree     = 1
	firstDelay    = 15 * time.Second
	maxDelay      = 15 * time.Minute
	// forgetAfter: a count untouched this long starts over. It exceeds
	// maxDelay, so an attacker at the slowest pace is never forgotten.
	forgetAfter = time.Hour
	// maxKeys bounds each table (about 100 bytes an entry): an attacker
	// with many addresses (an IPv6 prefix is cheap) cannot grow it
	// without end. A full table first drops the entries that delay nobody.
	maxKeys = 100_000
)

// count is one key's attempts.
type count struct {
	n    int       // attempts counted: failures and those in flight
	last time.Time // when the last one was counted
}

// nextAt is when the next attempt is allowed, given free attempts.
func (c count) nextAt(free int) time.Time {
	if c.n < free {
		return time.Time{}
	}
	d := firstDelay << min(c.n-free, 16)
	return c.last.Add(min(d, maxDelay))
}

type table map[string]*count

// get returns key's count, zero when unknown or forgotten.
func (t table) get(key string, now time.Time) count {
	c := t[key]
	if c == nil || now.Sub(c.last) >= forgetAfter {
		return count{}
	}
	return *c
}

// throttle holds the three tables.
type throttle struct {
	mu    sync.Mutex
	pair  table // name + "\x00" + address
	addr  table
	name  table
	swept time.Time
}

func newThrottle() *throttle {
	return &throttle{pair: table{}, addr: table{}, name: table{}}
}

// reservation is one counted attempt, to be settled once its password is
// checked (or not).
type reservation struct {
	t                *throttle
	pair, addr, name string
	at               time.Time
	prev             [3]time.Time // each count's last before this attempt
}

// addrKey is the address an attempt is counted under: an IPv6 address by
// its /64, which one subscriber usually holds whole.
func addrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return clip(addr)
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// nameKey is the name an attempt is counted under: lower case, as accounts
// are found. Names too long to exist share one key, so a table entry stays
// small whatever the request says.
func nameKey(name string) string {
	if len(name) > maxNameKey {
		return "\x00too long"
	}
	return strings.ToLower(name)
}

// maxNameKey exceeds the longest user name (64 bytes).
const maxNameKey = 80

func clip(s string) string {
	if len(s) > maxNameKey {
		return s[:maxNameKey]
	}
	return s
}

// reserve counts an attempt by name from addr, or returns how long to wait.
func (t *throttle) reserve(name, addr string, now time.Time) (*reservation, time.Duration) {
	name, addr = nameKey(name), addrKey(addr)
	pair := name + "\x00" + addr
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	free := pairFree
	if t.name.get(name, now).n >= alarmFailures {
		free = alarmFree
	}
	next := t.pair.get(pair, now).nextAt(free)
	if a := t.addr.get(addr, now).nextAt(addrFree); a.After(next) {
		next = a
	}
	if wait := next.Sub(now); wait > 0 {
		return nil, wait
	}
	r := &reservation{t: t, pair: pair, addr: addr, name: name, at: now}
	for i, tk := range r.keys() {
		c := tk.t.get(tk.key, now)
		r.prev[i] = c.last
		c.n++
		c.last = now
		t.put(tk.t, tk.key, c, now)
	}
	return r, 0
}

type tableKey struct {
	t   table
	key string
}

func (r *reservation) keys() [3]tableKey {
	return [3]tableKey{{r.t.pair, r.pair}, {r.t.addr, r.addr}, {r.t.name, r.name}}
}

// succeeded settles a right password: the name-and-address count starts
// over; the other two forget this attempt only.
func (r *reservation) succeeded() {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	delete(r.t.pair, r.pair)
	ks := r.keys()
	for i := 1; i < len(ks); i++ {
		r.undo(ks[i], r.prev[i])
	}
}

// cancel settles an attempt whose password was never checked (the relay
// was too busy, or the store failed): it counts for nothing.
func (r *reservation) cancel() {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	for i, tk := range r.keys() {
		r.undo(tk, r.prev[i])
	}
}

// undo takes this attempt back from one count; its time goes back too
// unless a later attempt has moved it since.
func (r *reservation) undo(tk tableKey, prev time.Time) {
	c := tk.t[tk.key]
	if c == nil {
		return
	}
	if c.n > 0 {
		c.n--
	}
	if c.last.Equal(r.at) {
		c.last = prev
	}
	if c.n == 0 {
		delete(tk.t, tk.key)
	}
}

// put stores c under key, making room in a full table first.
func (t *throttle) put(tb table, key string, c count, now time.Time) {
	if e := tb[key]; e != nil {
		*e = c
		return
	}
	if len(tb) >= maxKeys {
		t.evict(tb, now)
	}
	tb[key] = &c
}

// evict makes room in a full table: first every entry that would delay
// nobody even with a single free attempt, then, if an attacker holds that
// many delayed keys, an arbitrary half.
func (t *throttle) evict(tb table, now time.Time) {
	for k, c := range tb {
		if !c.nextAt(alarmFree).After(now) {
			delete(tb, k)
		}
	}
	for k := range tb {
		if len(tb) < maxKeys/2 {
			return
		}
		delete(tb, k)
	}
}

// sweep drops forgotten entries, once a minute.
func (t *throttle) sweep(now time.Time) {
	if now.Sub(t.swept) < time.Minute {
		return
	}
	t.swept = now
	for _, tb := range []table{t.pair, t.addr, t.name} {
		for k, c := range tb {
			if now.Sub(c.last) >= forgetAfter {
				delete(tb, k)
			}
		}
	}
}
