package protocol

// Request bodies of the HTTP visitor API (docs/protocol.md, "HTTP and
// server-sent events"): the same fields as the socket's frames, without
// "type", decoded by the same rules (DecodeBody).

// StartBody is the JSON body of POST /v1/conversations, the HTTP form of
// hello (the token comes in the Authorization header).
type StartBody struct {
	ConversationID string `json:"conversation_id,omitempty"`
	LastSeq        uint64 `json:"last_seq"`
	Fingerprint    string `json:"fingerprint,omitempty"`
	Lang           string `json:"lang,omitempty"`
	Locale         string `json:"locale,omitempty"`
	TZ             string `json:"tz,omitempty"`
	Referrer       string `json:"referrer,omitempty"`
}

// PostBody is the JSON body of POST /v1/conversations/{id}/messages: a
// message, with the session fingerprint the socket would have had.
type PostBody struct {
	ID          string `json:"id"`
	Text        string `json:"text"`
	Intent      string `json:"intent,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	PageURL     string `json:"page_url,omitempty"`
	PageTitle   string `json:"page_title,omitempty"`
}

// DecodeBody decodes a request body into v (*StartBody or *PostBody) as
// strictly as a frame, and validates its fields as the frame's would be.
func DecodeBody(data []byte, v any) error {
	if err := DecodeObject(data, v); err != nil {
		return err
	}
	return Validate(v)
}
