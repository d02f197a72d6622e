package httpx

import (
	"net/http"
	"sync"
)

// Mux is where a package registers its routes: an *http.ServeMux, or a
// Routes table that also remembers them.
type Mux interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Routes is a ServeMux that remembers every pattern registered on it, so
// tests can walk every route the relay serves (the security headers test)
// without a list kept by hand.
type Routes struct {
	*http.ServeMux
	mu       sync.Mutex
	patterns []string
}

// NewRoutes returns an empty route table.
func NewRoutes() *Routes { return &Routes{ServeMux: http.NewServeMux()} }

// Handle registers handler for pattern.
func (m *Routes) Handle(pattern string, handler http.Handler) {
	m.ServeMux.Handle(pattern, handler)
	m.remember(pattern)
}

// HandleFunc registers handler for pattern.
func (m *Routes) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.ServeMux.HandleFunc(pattern, handler)
	m.remember(pattern)
}

func (m *Routes) remember(pattern string) {
	m.mu.Lock()
	m.patterns = append(m.patterns, pattern)
	m.mu.Unlock()
}

// Patterns returns the registered patterns in registration order.
func (m *Routes) Patterns() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.patterns...)
}
