// Package httpx holds the JSON conventions every relay HTTP API shares:
// error bodies with the protocol's stable codes, strict request decoding.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/kefuhq/kefu/relay/protocol"
)

// ErrorBody is the shape of every JSON error response.
type ErrorBody struct {
	Error struct {
		Code    protocol.Code `json:"code"`
		Message string        `json:"message"`
	} `json:"error"`
}

// Error writes {"error":{"code","message"}} with status; an empty message
// takes the code's default.
func Error(w http.ResponseWriter, status int, code protocol.Code, msg string) {
	var b ErrorBody
	b.Error.Code = code
	b.Error.Message = protocol.Errorf(code, msg).Message
	JSON(w, status, b)
}

// JSON writes v as a JSON response.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads a JSON request body into v strictly: JSON content type,
// at most max bytes, then protocol.DecodeObject, the socket's own rules
// (exact keys, no unknown or duplicate ones, typed fields, valid UTF-8,
// nothing after the object). On failure it has already written the error
// response and returns the error.
func DecodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	_, err := DecodeJSONBody(w, r, max, v)
	return err
}

// DecodeJSONBody is DecodeJSON that also returns the body's bytes, for a
// handler that reads more from them than v holds (an import reporting
// problems by line).
func DecodeJSONBody(w http.ResponseWriter, r *http.Request, max int64, v any) ([]byte, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		err := errors.New("send a JSON body with Content-Type: application/json")
		Error(w, http.StatusUnsupportedMediaType, protocol.CodeBadFrame, err.Error())
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = fmt.Errorf("body larger than %d bytes", max)
			Error(w, http.StatusRequestEntityTooLarge, protocol.CodeFrameTooBig, err.Error())
			return nil, err
		}
		Error(w, http.StatusBadRequest, protocol.CodeBadFrame, "could not read the body")
		return nil, err
	}
	if err := protocol.DecodeObject(body, v); err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			Error(w, http.StatusInternalServerError, protocol.CodeInternal, "")
			return nil, err
		}
		Error(w, http.StatusBadRequest, pe.Code, pe.Message)
		return nil, err
	}
	return body, nil
}
