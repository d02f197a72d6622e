package webhook

import (
	"encoding/json"
	"fmt"
)

// Moving to another store (kefu migrate). The delivery logs go as they
// are. Positions in the event log are the old store's own (a bbolt
// counter, not a stream sequence): an endpoint's from_pos and a failing
// event's position mean nothing in the new store, and a from_pos kept
// would make its readers skip every new event up to that number.
const (
	// SettingName is the settings document holding the endpoints.
	SettingName = settingName
	// DocKindState is the kind of the endpoints' delivery states.
	DocKindState = kindState
	// DocKindLog is the kind of the delivery log entries.
	DocKindLog = kindLog
)

// EndpointsForNewLog returns the endpoints document without positions:
// in the new store each endpoint gets every event after the move (its
// reader's cursor is made at the end of the new log). Fields it does not
// know are kept.
func EndpointsForNewLog(value []byte) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(value, &doc); err != nil {
		return nil, fmt.Errorf("webhook: endpoints: %w", err)
	}
	raw, ok := doc["endpoints"]
	if !ok {
		return value, nil
	}
	var eps []map[string]json.RawMessage
	err := json.Unmarshal(raw, &eps)
	if err != nil {
		return nil, fmt.Errorf("webhook: endpoints: %w", err)
	}
	for _, e := range eps {
		delete(e, "from_pos")
	}
	if doc["endpoints"], err = json.Marshal(eps); err != nil {
		return nil, fmt.Errorf("webhook: endpoints: %w", err)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("webhook: endpoints: %w", err)
	}
	return out, nil
}

// StateForNewLog returns a delivery state for the new store: its count of
// deliveries (the log's numbering goes on), without the event it was
// retrying or paused at, which is a position in the old log (kefu migrate
// refuses to move while one is pending, unless told to drop it). It also
// returns that event's id, "" when there was none.
func StateForNewLog(data []byte) ([]byte, string, error) {
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, "", fmt.Errorf("webhook: delivery state: %w", err)
	}
	var was string
	if st.Failing != nil {
		was = st.Failing.EventID
	}
	out, err := json.Marshal(state{N: st.N})
	if err != nil {
		return nil, "", fmt.Errorf("webhook: delivery state: %w", err)
	}
	return out, was, nil
}
