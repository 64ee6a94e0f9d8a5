// Package llmtest is a scripted OpenAI-compatible chat completions server
// for tests in any package: it serves the replies it is given, in order,
// one per request, and records every request.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/llm"
)

// Reply is one scripted answer.
type Reply struct {
	// Status is the HTTP status (default 200). A non-200 status without
	// Body answers an OpenAI-style error object.
	Status int
	// Header is set on the response (e.g. "Retry-After").
	Header map[string]string
	// Proposal, when set, is marshalled as the message content.
	Proposal *llm.Proposal
	// Content is the raw message content when Proposal is nil.
	Content string
	// Body, when set, is the whole HTTP body, overriding everything else.
	Body string
	// PromptTokens and CompletionTokens are the usage reported; zero means
	// bytes/4 of the request's messages and of the content.
	PromptTokens, CompletionTokens int
	// FinishReason defaults to "stop".
	FinishReason string
	// RejectResponseFormat answers 400 when the request asks for the
	// json_schema response format, as servers without structured outputs
	// do; other requests get the reply as scripted.
	RejectResponseFormat bool
}

// Message is one chat message of a recorded request.
type Message struct {
	Role    string
	Content string
}

// Recorded is one request the server received.
type Recorded struct {
	Path string
	// Query is the raw query (Azure's api-version).
	Query    string
	Header   http.Header
	Body     []byte
	Messages []Message
	Model    string
	// ResponseFormat is the response_format type, or "".
	ResponseFormat string
	// MaxTokens is max_tokens, or max_completion_tokens when that is set.
	MaxTokens int
	// Temperature is nil when the request has none.
	Temperature *float64
}

// Server is the fake provider.
type Server struct {
	t   testing.TB
	srv *httptest.Server

	mu     sync.Mutex
	script []Reply
	next   int
	reqs   []Recorded
}

// RejectFormatMessage is the error message of a RejectResponseFormat reply.
const RejectFormatMessage = "response_format json_schema is not supported"

// NewServer starts a server on 127.0.0.1 serving script, closed when the
// test ends. A request past the end of the script fails the test, and so
// does a scripted reply never requested.
func NewServer(t testing.TB, script ...Reply) *Server {
	t.Helper()
	s := &Server{t: t, script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if left := len(s.script) - s.next; left > 0 {
			t.Errorf("llmtest: %d of %d scripted replies were never requested", left, len(s.script))
		}
	})
	return s
}

// URL is the base URL to configure, ending in /v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Config is a client configuration for this server.
func (s *Server) Config() llm.Config {
	return llm.Config{BaseURL: s.URL(), Model: "test-model", APIKey: "test-key"}
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.reqs...)
}

// chatPath reports the chat completions paths: /v1/chat/completions,
// /chat/completions and Azure's /openai/deployments/{d}/chat/completions.
func chatPath(p string) bool {
	switch p {
	case "/v1/chat/completions", "/chat/completions":
		return true
	}
	rest, ok := strings.CutPrefix(p, "/openai/deployments/")
	if !ok {
		return false
	}
	deployment, tail, ok := strings.Cut(rest, "/")
	return ok && deployment != "" && tail == "chat/completions"
}

type wireRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
	MaxTokens           int      `json:"max_tokens"`
	MaxCompletionTokens int      `json:"max_completion_tokens"`
	Temperature         *float64 `json:"temperature"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if !chatPath(r.URL.Path) {
		s.t.Errorf("llmtest: request to unexpected path %s", r.URL.Path)
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path, "invalid_request_error")
		return
	}
	if r.Method != http.MethodPost {
		s.t.Errorf("llmtest: %s %s, want POST", r.Method, r.URL.Path)
		writeError(w, http.StatusMethodNotAllowed, "use POST", "invalid_request_error")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("llmtest: read request: %v", err)
		writeError(w, http.StatusBadRequest, err.Error(), "invalid_request_error")
		return
	}
	var req wireRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.t.Errorf("llmtest: request body is not a chat completion request: %v\n%s", err, body)
		writeError(w, http.StatusBadRequest, "malformed request: "+err.Error(), "invalid_request_error")
		return
	}
	rec := Recorded{
		Path:        r.URL.Path,
		Query:       r.URL.RawQuery,
		Header:      r.Header.Clone(),
		Body:        body,
		Model:       req.Model,
		MaxTokens:   req.MaxTokens,
		Temperature: req.Temperature,
	}
	if req.MaxCompletionTokens != 0 {
		rec.MaxTokens = req.MaxCompletionTokens
	}
	if req.ResponseFormat != nil {
		rec.ResponseFormat = req.ResponseFormat.Type
	}
	promptBytes := 0
	for _, m := range req.Messages {
		var text string
		if len(m.Content) > 0 && json.Unmarshal(m.Content, &text) != nil {
			text = string(m.Content) // multi-part content: keep the JSON
		}
		rec.Messages = append(rec.Messages, Message{Role: m.Role, Content: text})
		promptBytes += len(text)
	}

	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	i := s.next
	s.next++
	var reply Reply
	ok := i < len(s.script)
	if ok {
		reply = s.script[i]
	}
	s.mu.Unlock()
	if !ok {
		s.t.Errorf("llmtest: request %d has no scripted reply (the script has %d)", i+1, len(s.script))
		writeError(w, http.StatusInternalServerError, "llmtest: script exhausted", "server_error")
		return
	}

	for k, v := range reply.Header {
		w.Header().Set(k, v)
	}
	if reply.RejectResponseFormat && rec.ResponseFormat == "json_schema" {
		writeError(w, http.StatusBadRequest, RejectFormatMessage, "invalid_request_error")
		return
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	if reply.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply.Body)
		return
	}
	if status != http.StatusOK {
		writeError(w, status, http.StatusText(status), "server_error")
		return
	}

	content := reply.Content
	if reply.Proposal != nil {
		b, err := json.Marshal(reply.Proposal)
		if err != nil {
			s.t.Errorf("llmtest: marshal proposal: %v", err)
		}
		content = string(b)
	}
	usage := wireUsage{PromptTokens: reply.PromptTokens, CompletionTokens: reply.CompletionTokens}
	if usage.PromptTokens == 0 {
		usage.PromptTokens = promptBytes / 4
	}
	if usage.CompletionTokens == 0 {
		usage.CompletionTokens = len(content) / 4
	}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	finish := reply.FinishReason
	if finish == "" {
		finish = "stop"
	}
	resp := wireResponse{
		ID:      fmt.Sprintf("chatcmpl-llmtest-%d", i+1),
		Object:  "chat.completion",
		Created: time.Now().Unix(),
		Model:   req.Model,
		Choices: []wireChoice{{
			Index:        0,
			Message:      wireMessage{Role: "assistant", Content: content},
			FinishReason: finish,
		}},
		Usage: usage,
	}
	writeJSON(w, http.StatusOK, resp)
}

type wireResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []wireChoice `json:"choices"`
	Usage   wireUsage    `json:"usage"`
}

type wireChoice struct {
	Index        int         `json:"index"`
	Message      wireMessage `json:"message"`
	FinishReason string      `json:"finish_reason"`
}

type wireMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type wireUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func writeError(w http.ResponseWriter, status int, msg, typ string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
