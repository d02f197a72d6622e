package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The part of OpenAI's chat-completions wire format Stream sends and
// reads, as the package's own types. The relay sends the request through
// go-openai (open_openai.go); the edge build (js/wasm) sends the same JSON
// itself (open_js.go), because importing go-openai there ran its package
// init (regular expressions compiled, model tables built) on every start of
// a Go instance in the Worker and added 126 KB to it, for one request the
// package's own transport already carries. Everything
// after the request (the event stream, chunks, errors, retries) is one
// code path. TestSendChatMatchesGoOpenAI holds the two requests to the
// same JSON, headers and errors.

// Message is one message of a chat prompt.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content,omitempty"`
}

// The chat roles, tool type and null finish reason of the wire format.
const (
	roleSystem       = "system"
	roleUser         = "user"
	roleAssistant    = "assistant"
	toolTypeFunction = "function"
	finishReasonNull = "null"
)

// chatRequest is a streamed chat completion request.
type chatRequest struct {
	Model               string         `json:"model"`
	Messages            []Message      `json:"messages"`
	MaxTokens           int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens int            `json:"max_completion_tokens,omitempty"`
	Temperature         float32        `json:"temperature,omitempty"`
	Stream              bool           `json:"stream"`
	Tools               []tool         `json:"tools,omitempty"`
	StreamOptions       *streamOptions `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage,omitempty"`
}

type tool struct {
	Type     string              `json:"type"`
	Function *functionDefinition `json:"function,omitempty"`
}

type functionDefinition struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// usage is a chunk's token count (the last chunk's, with include_usage).
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// delta is what one chunk adds to the answer: text, or a tool call.
type delta struct {
	Content      string          `json:"content,omitempty"`
	Role         string          `json:"role,omitempty"`
	FunctionCall *functionCall   `json:"function_call,omitempty"`
	ToolCalls    []toolCallDelta `json:"tool_calls,omitempty"`
}

type toolCallDelta struct {
	Index    *int         `json:"index,omitempty"`
	Function functionCall `json:"function"`
}

type functionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments,omitempty"`
}

// apiError is an upstream's error: an OpenAI error object (in an error
// reply or an error event of the stream), or an error status whose body
// is not one (Code empty, Message says so).
type apiError struct {
	Status  int // the HTTP status; 0 for an error event in a stream
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("status %d: %s", e.Status, e.Message)
	}
	return e.Message
}

// msgNotOpenAI is an error reply's message when its body is no OpenAI
// error object.
const msgNotOpenAI = "error body is not OpenAI JSON"

// errTooManyEmpty ends a stream with more than emptyMessagesLimit non-data
// lines in a row.
var errTooManyEmpty = errors.New("stream has sent too many empty messages")

// parseAPIError reads {"error": {...}}; nil if b is not one. It reads
// what go-openai's APIError does: a message string or list of strings, a
// code string or integer (the type when there is none).
func parseAPIError(b []byte) *apiError {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var er struct {
		Error *struct {
			Message json.RawMessage `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &er) != nil || er.Error == nil {
		return nil
	}
	e := &apiError{}
	if json.Unmarshal(er.Error.Message, &e.Message) != nil {
		var parts []string
		if json.Unmarshal(er.Error.Message, &parts) != nil {
			return nil
		}
		e.Message = strings.Join(parts, ", ")
	}
	var n int
	var s string
	switch {
	case json.Unmarshal(er.Error.Code, &n) == nil && n != 0:
		e.Code = fmt.Sprint(n)
	case json.Unmarshal(er.Error.Code, &s) == nil && s != "":
		e.Code = s
	default:
		e.Code = er.Error.Type
	}
	return e
}

// sendChat posts req to baseURL's chat completions through d, as go-openai
// does: the same body and headers (the transport adds the key); a reply
// outside 2xx and 3xx is an *apiError. The caller reads the body through
// the call in ctx (transport) and closes it with the returned Closer.
func sendChat(ctx context.Context, d doer, baseURL string, req chatRequest) (io.Closer, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "text/event-stream")
	hr.Header.Set("Cache-Control", "no-cache")
	hr.Header.Set("Connection", "keep-alive")
	resp, err := d.Do(hr)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body) // bounded by the transport
		if err != nil {
			return nil, fmt.Errorf("error, reading response body: %w", err)
		}
		e := parseAPIError(b)
		if e == nil {
			e = &apiError{Message: msgNotOpenAI}
		}
		e.Status = resp.StatusCode
		return nil, e
	}
	return resp.Body, nil
}
