// Package httpx holds the JSON conventions every relay HTTP API shares:
// error bodies with the protocol's stable codes, strict request decoding.
package httpx

import (
	"bytes"
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
// at most max bytes, no unknown fields, nothing after the value. On failure
// it has already written the error response and returns the error.
func DecodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		err := errors.New("send a JSON body with Content-Type: application/json")
		Error(w, http.StatusUnsupportedMediaType, protocol.CodeBadFrame, err.Error())
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = fmt.Errorf("body larger than %d bytes", max)
			Error(w, http.StatusRequestEntityTooLarge, protocol.CodeFrameTooBig, err.Error())
			return err
		}
		Error(w, http.StatusBadRequest, protocol.CodeBadFrame, "could not read the body")
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			Error(w, http.StatusBadRequest, protocol.CodeBadField, fmt.Sprintf("field %q has the wrong type", te.Field))
		case bytes.HasPrefix([]byte(err.Error()), []byte("json: unknown field")):
			Error(w, http.StatusBadRequest, protocol.CodeUnknownField, err.Error()[len("json: "):])
		default:
			Error(w, http.StatusBadRequest, protocol.CodeBadFrame, "body is not valid JSON")
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		err := errors.New("trailing data after the JSON value")
		Error(w, http.StatusBadRequest, protocol.CodeBadFrame, err.Error())
		return err
	}
	return nil
}
