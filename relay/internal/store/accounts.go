package store

import (
	"errors"
	"time"
)

// Roles of an account.
const (
	RoleAdmin = "admin"
	RoleAgent = "agent"
)

// ErrExists means a unique value (a username) is taken.
var ErrExists = errors.New("already exists")

// Account is a person who signs in: an admin or an agent.
type Account struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	PasswordHash string    `json:"password_hash"`
	Disabled     bool      `json:"disabled,omitempty"`
	Skills       string    `json:"skills,omitempty"`
	Capacity     int       `json:"capacity"`
	CreatedAt    time.Time `json:"created_at"`
}

// Session is a signed-in browser. Stored under the hash of its id.
type Session struct {
	AccountID string    `json:"account_id"`
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
}
