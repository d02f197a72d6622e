//go:build !js

package ai

import (
	"context"
	"errors"
	"io"

	openai "github.com/sashabaranov/go-openai"
)

// openStream sends req through go-openai (the relay's chosen client) and
// returns the stream's closer; the transport hands the body to the call in
// ctx, which Stream reads itself. go-openai's errors become the package's
// own (wire.go), so what follows is one code path with the edge build's.
func openStream(ctx context.Context, d doer, baseURL string, req chatRequest) (io.Closer, error) {
	s, err := newOpenAI(baseURL, d).CreateChatCompletionStream(ctx, req.openAI())
	if err != nil {
		return nil, fromOpenAI(err)
	}
	return s, nil
}

// newOpenAI makes the go-openai client for one request. Not through
// openai.DefaultConfig: that builds an http.Client of its own. The key
// is not go-openai's either: the transport adds it, for its host only.
func newOpenAI(baseURL string, d doer) *openai.Client {
	return openai.NewClientWithConfig(openai.ClientConfig{
		BaseURL:            baseURL,
		APIType:            openai.APITypeOpenAI,
		HTTPClient:         d,
		EmptyMessagesLimit: emptyMessagesLimit,
	})
}

// openAI is req as go-openai's request.
func (req chatRequest) openAI() openai.ChatCompletionRequest {
	out := openai.ChatCompletionRequest{
		Model:               req.Model,
		Messages:            make([]openai.ChatCompletionMessage, len(req.Messages)),
		MaxTokens:           req.MaxTokens,
		MaxCompletionTokens: req.MaxCompletionTokens,
		Temperature:         req.Temperature,
		Stream:              req.Stream,
	}
	for i, m := range req.Messages {
		out.Messages[i] = openai.ChatCompletionMessage{Role: m.Role, Content: m.Content}
	}
	for _, t := range req.Tools {
		ot := openai.Tool{Type: openai.ToolType(t.Type)}
		if f := t.Function; f != nil {
			ot.Function = &openai.FunctionDefinition{Name: f.Name, Description: f.Description, Parameters: f.Parameters}
		}
		out.Tools = append(out.Tools, ot)
	}
	if so := req.StreamOptions; so != nil {
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: so.IncludeUsage}
	}
	return out
}

// fromOpenAI turns go-openai's error replies into *apiError; other errors
// (the transport's) pass as they are.
func fromOpenAI(err error) error {
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		return &apiError{Status: apiErr.HTTPStatusCode, Code: codeOf(apiErr.Code, apiErr.Type), Message: apiErr.Message}
	case errors.As(err, &reqErr):
		return &apiError{Status: reqErr.HTTPStatusCode, Message: msgNotOpenAI}
	}
	return err
}
