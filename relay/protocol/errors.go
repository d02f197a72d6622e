package protocol

import "github.com/coder/websocket"

// Code is a stable error code, the same in WebSocket error frames and in JSON
// error bodies of the HTTP API.
type Code string

// The error catalogue. docs/protocol.md lists the same codes.
const (
	CodeBadFrame           Code = "bad_frame"
	CodeBadUTF8            Code = "bad_utf8"
	CodeUnknownType        Code = "unknown_type"
	CodeUnknownField       Code = "unknown_field"
	CodeDuplicateKey       Code = "duplicate_key"
	CodeBadField           Code = "bad_field"
	CodeFrameTooBig        Code = "frame_too_big"
	CodeMessageTooLong     Code = "message_too_long"
	CodeRateLimited        Code = "rate_limited"
	CodeHelloFirst         Code = "hello_first"
	CodeHelloTimeout       Code = "hello_timeout"
	CodeUnauthorized       Code = "unauthorized"
	CodeForbidden          Code = "forbidden"
	CodeOriginNotAllowed   Code = "origin_not_allowed"
	CodeTooManyConnections Code = "too_many_connections"
	CodeStorage            Code = "storage_unavailable"
	CodeShuttingDown       Code = "shutting_down"
	CodeSlowConsumer       Code = "slow_consumer"
	CodeNotFound           Code = "not_found"
	CodeConflict           Code = "conflict"
	CodeNotSupported       Code = "not_supported"
	CodeInternal           Code = "internal"
	// Attachments (docs/protocol.md, "Attachments").
	CodeFileType       Code = "file_type"
	CodeFileUnreadable Code = "file_unreadable"
	CodeFileTooBig     Code = "file_too_big"
	CodeQuotaExceeded  Code = "quota_exceeded"
	// Mail (docs/notifications.md): the SMTP server did not take a mail.
	CodeSMTP Code = "smtp_failed"
	// Signed identity (docs/widget.md): an identify frame without a valid
	// user_hash where the relay requires one.
	CodeIdentityRefused Code = "identity_refused"
)

var defaultMessages = map[Code]string{
	CodeBadFrame:           "frame is not a JSON object",
	CodeBadUTF8:            "frame is not valid UTF-8",
	CodeUnknownType:        "unknown frame type",
	CodeUnknownField:       "unknown field",
	CodeDuplicateKey:       "duplicate key",
	CodeBadField:           "invalid field",
	CodeFrameTooBig:        "frame too big",
	CodeMessageTooLong:     "message too long",
	CodeRateLimited:        "too many messages; wait a moment and send again",
	CodeHelloFirst:         "send hello first",
	CodeHelloTimeout:       "no hello received in time",
	CodeUnauthorized:       "not signed in",
	CodeForbidden:          "not allowed",
	CodeOriginNotAllowed:   "this site may not open a chat here",
	CodeTooManyConnections: "too many connections from your address",
	CodeStorage:            "could not store the message; send it again",
	CodeShuttingDown:       "server restarting; reconnect",
	CodeSlowConsumer:       "connection too slow; reconnect",
	CodeNotFound:           "not found",
	CodeConflict:           "conflict",
	CodeNotSupported:       "not available on this deployment",
	CodeInternal:           "internal error",
	CodeFileType:           "only images (PNG, JPEG, GIF, WebP), PDF and plain text can be sent",
	CodeFileUnreadable:     "the file is damaged or not what it claims to be",
	CodeFileTooBig:         "the file is too big",
	CodeQuotaExceeded:      "no room for more files here",
	CodeIdentityRefused:    "identity not signed",
	CodeSMTP:               "the mail server did not take the mail",
}

// Error is a protocol error with a stable code and a plain message.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf makes an Error; an empty message takes the code's default.
func Errorf(code Code, msg string) *Error {
	if msg == "" {
		msg = defaultMessages[code]
	}
	return &Error{Code: code, Message: msg}
}

// DefaultMessage is the plain-words message for a code.
func DefaultMessage(code Code) string { return defaultMessages[code] }

// WebSocket close codes. 1000-1015 are RFC 6455's; 4000-4999 are Kefu's own.
const (
	CloseNormal          = websocket.StatusNormalClosure           // 1000: the client ended the session
	CloseGoingAway       = websocket.StatusGoingAway               // 1001: relay stopping; reconnect elsewhere or later
	CloseUnsupportedData = websocket.StatusUnsupportedData         // 1003: binary frame
	CloseInvalidUTF8     = websocket.StatusInvalidFramePayloadData // 1007: text frame not UTF-8
	ClosePolicy          = websocket.StatusPolicyViolation         // 1008: protocol broken repeatedly
	CloseTooBig          = websocket.StatusMessageTooBig           // 1009: frame over --max-frame-bytes
	CloseInternal        = websocket.StatusInternalError           // 1011
	CloseRestart         = websocket.StatusServiceRestart          // 1012: relay restarting; reconnect
	CloseHelloTimeout    = websocket.StatusCode(4000)              // no hello in time
	CloseUnauthorized    = websocket.StatusCode(4001)              // session ended (logout, disabled, password change)
	CloseSlow            = websocket.StatusCode(4008)              // send queue full or write timed out; reconnect and resume
	CloseSwitched        = websocket.StatusCode(4010)              // identified as a user whose conversation is elsewhere; reconnect now
	CloseFlood           = websocket.StatusCode(4029)              // far over the message rate
)
