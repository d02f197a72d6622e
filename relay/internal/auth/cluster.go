package auth

import "encoding/json"

// Peers are a cluster's other nodes.
type Peers interface {
	// Publish tells every other node, at most once.
	Publish(kind string, v any)
}

// kindEnded is the bus event of ended sessions.
const kindEnded = "auth.ended"

type endedMsg struct {
	Hashes  [][]byte `json:"hashes"`
	Account string   `json:"account,omitempty"`
}

// PeerHandlers are the bus handlers of the service's events, by kind.
func (s *Service) PeerHandlers() map[string]func(data []byte, reply func(any)) {
	return map[string]func([]byte, func(any)){
		kindEnded: func(data []byte, _ func(any)) {
			var m endedMsg
			if err := json.Unmarshal(data, &m); err != nil {
				s.log.Warn("auth: bad ended-sessions event", "err", err)
				return
			}
			s.runEnded(m.Hashes, m.Account)
		},
	}
}
