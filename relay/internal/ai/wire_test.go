package ai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// sent is what the upstream received of one request.
type sent struct {
	Method, Path string
	Header       map[string]string
	Body         any // the JSON, decoded: key order is not compared
}

// TestSendChatMatchesGoOpenAI: the edge build's request (sendChat) is the
// relay's (go-openai, openStream here): the same method, path, headers and
// JSON for each kind of request, and the same errors for each kind of
// error reply, once through upstreamError.
func TestSendChatMatchesGoOpenAI(t *testing.T) {
	var mu sync.Mutex
	var got []sent
	status, body := 200, ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("request body is not JSON: %v: %s", err, b)
		}
		h := map[string]string{}
		for _, k := range []string{"Content-Type", "Accept", "Cache-Control", "Authorization"} {
			h[k] = r.Header.Get(k)
		}
		mu.Lock()
		got = append(got, sent{r.Method, r.URL.Path, h, v})
		st, bd := status, body
		mu.Unlock()
		if st == 200 {
			w.Header().Set("Content-Type", "text/event-stream")
			bd = "data: [DONE]\n\n"
		}
		w.WriteHeader(st)
		_, _ = io.WriteString(w, bd)
	}))
	defer srv.Close()
	c := newTestClient(t, fastOptions(t))
	s := DefaultSettings()
	msgs := BuildMessages(s, []Grounding{{Name: "Hours", Answer: "9 to 5"}}, []Turn{{Role: RoleVisitor, Text: "when are you open?"}, {Role: RoleBot, Text: "9 to 5"}})
	reasoning := s
	reasoning.Model = "o3-mini"
	cold := s
	cold.Temperature = 0
	requests := map[string]chatRequest{
		"tools":     newChatRequest(s, msgs, true),
		"marker":    newChatRequest(s, markerMessages(msgs), false),
		"reasoning": newChatRequest(reasoning, msgs, true),
		"zero temp": newChatRequest(cold, msgs, false),
	}
	replies := []struct {
		name   string
		status int
		body   string
	}{
		{"stream", 200, ""},
		{"openai error", 429, `{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
		{"message list, integer code", 400, `{"error":{"message":["tools","unsupported"],"type":"invalid_request_error","code":400}}`},
		{"no code", 401, `{"error":{"message":"bad key","type":"invalid_api_key"}}`},
		{"not json", 502, `<html>bad gateway</html>`},
		{"no error object", 500, `{"detail":"boom"}`},
	}
	send := map[string]func(context.Context, chatRequest) (io.Closer, error){
		"go-openai": func(ctx context.Context, r chatRequest) (io.Closer, error) {
			return openStream(ctx, c.http, srv.URL+"/v1", r)
		},
		"sendChat": func(ctx context.Context, r chatRequest) (io.Closer, error) {
			return sendChat(ctx, c.http, srv.URL+"/v1", r)
		},
	}
	for rname, req := range requests {
		for _, rep := range replies {
			mu.Lock()
			status, body, got = rep.status, rep.body, nil
			mu.Unlock()
			var errs []*UpstreamError
			for _, via := range []string{"go-openai", "sendChat"} {
				cl := &call{key: "sk-test", keyHost: hostKeyOf(srv.URL)}
				closer, err := send[via](withCall(context.Background(), cl), req)
				if (err == nil) != (rep.status == 200) {
					t.Fatalf("%s, %s, via %s: err %v", rname, rep.name, via, err)
				}
				if err == nil {
					if cl.body == nil {
						t.Fatalf("%s via %s: no event stream handed to the call", rname, via)
					}
					_, _ = io.Copy(io.Discard, cl.body)
					if !cl.done.Load() {
						t.Errorf("%s via %s: [DONE] not seen", rname, via)
					}
					closer.Close()
					continue
				}
				errs = append(errs, upstreamError(err, cl, "sk-test"))
			}
			mu.Lock()
			if len(got) != 2 || !reflect.DeepEqual(got[0], got[1]) {
				t.Errorf("%s, %s: the two requests differ:\ngo-openai %+v\nsendChat  %+v", rname, rep.name, got[0], got[len(got)-1])
			}
			if got[0].Header["Authorization"] != "Bearer sk-test" || got[0].Path != "/v1/chat/completions" {
				t.Errorf("%s: request %+v", rname, got[0])
			}
			mu.Unlock()
			if len(errs) == 2 && !reflect.DeepEqual(errs[0], errs[1]) {
				t.Errorf("%s, %s: errors differ:\ngo-openai %+v\nsendChat  %+v", rname, rep.name, errs[0], errs[1])
			}
			if len(errs) == 2 && (errs[0].Status != rep.status || errs[0].Message == "") {
				t.Errorf("%s, %s: error %+v", rname, rep.name, errs[0])
			}
		}
	}
	// The request really is what the settings say (not two equal blanks).
	var r map[string]any
	b, _ := json.Marshal(requests["tools"])
	_ = json.Unmarshal(b, &r)
	if r["model"] != s.Model || r["stream"] != true || !strings.Contains(string(b), HandoffToolName) || r["stream_options"] == nil {
		t.Errorf("request JSON %s", b)
	}
}
