package main

// A FROM scratch image has neither CA certificates nor a time zone
// database; both are compiled in so HTTPS to the AI upstream and local
// times work there. The CA bundle is only used when the system has none.
import (
	_ "time/tzdata"

	_ "golang.org/x/crypto/x509roots/fallback"
)
