package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai/jsonschema"

	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

func sample() *llm.Proposal {
	return &llm.Proposal{
		Edits: []llm.Edit{
			{Path: "k8s/base/deployment.yaml", Action: llm.ActionReplace, Content: "apiVersion: apps/v1\nkind: Deployment\n"},
			{Path: "Dockerfile", Action: llm.ActionCreate, Content: "FROM scratch\n"},
			{Path: "old.yaml", Action: llm.ActionDelete},
		},
		Summary:     "Adds a Dockerfile and fixes the deployment.",
		Assumptions: []string{"the service listens on 8080"},
		Risks:       []string{},
	}
}

func request() llm.Request {
	return llm.Request{Agent: "repair", System: "You repair manifests.", User: "Fix the deployment."}
}

// sleeps records the waits a client asked for and returns at once.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newClient returns a client for cfg whose waits are recorded, not slept,
// and whose backoff has no jitter.
func newClient(t *testing.T, cfg llm.Config) (*llm.Client, *sleeps) {
	t.Helper()
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s := &sleeps{}
	llm.SetSleep(c, s.sleep)
	llm.SetJitter(c, func(time.Duration) time.Duration { return 0 })
	return c, s
}

func errorBody(msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
	return string(b)
}

func TestProposeSuccess(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{Proposal: sample(), PromptTokens: 120, CompletionTokens: 80})
	c, sl := newClient(t, srv.Config())
	req := request()
	req.MaxCompletionTokens = 900

	p, u, err := c.Propose(context.Background(), req)
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	if !reflect.DeepEqual(p, sample()) {
		t.Errorf("proposal = %+v, want %+v", p, sample())
	}
	if want := (llm.Usage{PromptTokens: 120, CompletionTokens: 80}); u != want {
		t.Errorf("usage = %+v, want %+v", u, want)
	}
	if len(sl.got()) != 0 {
		t.Errorf("waited %v, want no wait", sl.got())
	}

	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/v1/chat/completions" || r.Model != "test-model" || r.ResponseFormat != "json_schema" || r.MaxTokens != 900 {
		t.Errorf("request path %s model %q format %q max tokens %d", r.Path, r.Model, r.ResponseFormat, r.MaxTokens)
	}
	if r.Temperature == nil || *r.Temperature != 0 {
		t.Errorf("temperature = %v, want 0 sent", r.Temperature)
	}
	want := []llmtest.Message{{Role: "system", Content: req.System}, {Role: "user", Content: req.User}}
	if !reflect.DeepEqual(r.Messages, want) {
		t.Errorf("messages = %+v, want %+v", r.Messages, want)
	}
	var body struct {
		MaxTokens      int `json:"max_tokens"`
		ResponseFormat struct {
			JSONSchema struct {
				Name   string          `json:"name"`
				Strict bool            `json:"strict"`
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	js := body.ResponseFormat.JSONSchema
	if js.Name != "kubewright_proposal" || !js.Strict || string(js.Schema) != string(llm.ProposalSchema) {
		t.Errorf("json_schema = %s strict %v schema %s", js.Name, js.Strict, js.Schema)
	}
	if body.MaxTokens != 900 || strings.Contains(string(r.Body), "max_completion_tokens") {
		t.Errorf("body sends %s, want max_tokens 900 only", r.Body)
	}
}

func TestProposeReasoningModelSendsMaxCompletionTokens(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{Proposal: sample()})
	cfg := srv.Config()
	cfg.Model = "o3-mini"
	c, _ := newClient(t, cfg)
	req := request()
	req.MaxCompletionTokens = 500
	if _, _, err := c.Propose(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if !strings.Contains(string(r.Body), `"max_completion_tokens":500`) || strings.Contains(string(r.Body), "max_tokens\"") {
		t.Errorf("body %s, want max_completion_tokens only", r.Body)
	}
	if r.Temperature != nil {
		t.Errorf("temperature %v sent to a reasoning model", *r.Temperature)
	}
}

func TestProposeMeterCallCapIsTheDefaultMaxTokens(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{Proposal: sample()})
	c, _ := newClient(t, srv.Config())
	req := request()
	req.Meter = llm.NewMeter(llm.Budget{PerCall: 700})
	if _, _, err := c.Propose(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].MaxTokens; got != 700 {
		t.Errorf("max_tokens = %d, want the meter's per-call cap 700", got)
	}
}

func TestProposeRetries(t *testing.T) {
	tests := []struct {
		name       string
		first      llmtest.Reply
		maxBackoff time.Duration
		wantWait   time.Duration
	}{
		{"429 Retry-After seconds", llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "2"}}, 0, 2 * time.Second},
		{"429 retry-after-ms", llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After-Ms": "1500"}}, 0, 1500 * time.Millisecond},
		{"429 Retry-After capped", llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "3600"}}, 5 * time.Second, 5 * time.Second},
		// Without Retry-After: the 500ms base, upper half jittered (0 here).
		{"503", llmtest.Reply{Status: 503}, 0, 250 * time.Millisecond},
		{"502 with body", llmtest.Reply{Status: 502, Body: "<html>bad gateway</html>"}, 0, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tt.first, llmtest.Reply{Proposal: sample()})
			cfg := srv.Config()
			cfg.MaxBackoff = tt.maxBackoff
			c, sl := newClient(t, cfg)
			p, _, err := c.Propose(context.Background(), request())
			if err != nil {
				t.Fatalf("Propose: %v", err)
			}
			if !reflect.DeepEqual(p, sample()) {
				t.Errorf("proposal = %+v", p)
			}
			if n := len(srv.Requests()); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
			if got := sl.got(); !slices.Equal(got, []time.Duration{tt.wantWait}) {
				t.Errorf("waits = %v, want [%v]", got, tt.wantWait)
			}
		})
	}
}

func TestProposeBackoffGrowsAndGivesUp(t *testing.T) {
	var script []llmtest.Reply
	for range 4 {
		script = append(script, llmtest.Reply{Status: 429})
	}
	srv := llmtest.NewServer(t, script...)
	cfg := srv.Config()
	cfg.MaxRetries = 3
	cfg.MaxBackoff = 1500 * time.Millisecond
	c, sl := newClient(t, cfg)
	_, _, err := c.Propose(context.Background(), request())
	if err == nil || !strings.Contains(err.Error(), "llm repair: 429 from provider") {
		t.Fatalf("err = %v, want a 429 from provider", err)
	}
	var pe *llm.ProviderError
	if !errors.As(err, &pe) || pe.StatusCode != 429 || pe.Agent != "repair" {
		t.Errorf("err %v is not a ProviderError with status 429", err)
	}
	// 500ms, 1s, 2s capped at 1.5s; each halved by the jitter.
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond}
	if got := sl.got(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

func TestProposeNonRetryableErrors(t *testing.T) {
	tests := []struct {
		name   string
		reply  llmtest.Reply
		format string
		want   string
	}{
		{"400", llmtest.Reply{Status: 400, Body: errorBody("messages: too long")}, llm.FormatJSONSchema,
			"llm repair: 400 from provider: messages: too long"},
		{"401", llmtest.Reply{Status: 401, Body: errorBody("Incorrect API key provided")}, llm.FormatAuto,
			"llm repair: 401 from provider: Incorrect API key provided (check KUBEWRIGHT_LLM_API_KEY"},
		{"404", llmtest.Reply{Status: 404, Body: errorBody("The model `nope` does not exist")}, llm.FormatAuto,
			"llm repair: 404 from provider: The model `nope` does not exist (check KUBEWRIGHT_LLM_MODEL"},
		{"404 without JSON", llmtest.Reply{Status: 404, Body: "not here"}, llm.FormatAuto,
			"llm repair: 404 from provider: not here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tt.reply)
			cfg := srv.Config()
			cfg.ResponseFormat = tt.format
			c, sl := newClient(t, cfg)
			p, u, err := c.Propose(context.Background(), request())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if p != nil || u != (llm.Usage{}) {
				t.Errorf("got proposal %v usage %v with the error", p, u)
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if len(sl.got()) != 0 {
				t.Errorf("waited %v", sl.got())
			}
		})
	}
}

func TestProposeFallsBackWhenJSONSchemaIsRejected(t *testing.T) {
	srv := llmtest.NewServer(t,
		llmtest.Reply{RejectResponseFormat: true},
		llmtest.Reply{Proposal: sample()},
		llmtest.Reply{Proposal: sample()},
	)
	c, _ := newClient(t, srv.Config())
	for i := range 2 {
		p, _, err := c.Propose(context.Background(), request())
		if err != nil {
			t.Fatalf("Propose %d: %v", i, err)
		}
		if !reflect.DeepEqual(p, sample()) {
			t.Errorf("Propose %d: proposal = %+v", i, p)
		}
	}
	reqs := srv.Requests()
	var formats []string
	for _, r := range reqs {
		formats = append(formats, r.ResponseFormat)
	}
	if want := []string{"json_schema", "json_object", "json_object"}; !slices.Equal(formats, want) {
		t.Fatalf("response formats = %q, want %q", formats, want)
	}
	for _, r := range reqs[1:] {
		if sys := r.Messages[0].Content; !strings.Contains(sys, "Answer with one JSON object matching this JSON Schema") ||
			!strings.Contains(sys, `"additionalProperties": false`) {
			t.Errorf("json_object system message lacks the schema:\n%s", sys)
		}
	}
	if strings.Contains(reqs[0].Messages[0].Content, "JSON Schema") {
		t.Errorf("json_schema request repeats the schema in the system message")
	}
}

func TestProposeAutoFallbackOnBareBadRequest(t *testing.T) {
	bad := llmtest.Reply{Status: 400, Body: errorBody("unsupported parameter")}
	t.Run("first call falls back to a mode that works and keeps it", func(t *testing.T) {
		srv := llmtest.NewServer(t, bad, llmtest.Reply{Proposal: sample()}, llmtest.Reply{Proposal: sample()})
		c, _ := newClient(t, srv.Config())
		for range 2 {
			if _, _, err := c.Propose(context.Background(), request()); err != nil {
				t.Fatal(err)
			}
		}
		if got := formats(srv.Requests()); !slices.Equal(got, []string{"json_schema", "json_object", "json_object"}) {
			t.Errorf("formats = %q", got)
		}
	})
	t.Run("no mode works: the error is returned and nothing is remembered", func(t *testing.T) {
		srv := llmtest.NewServer(t, bad, bad, bad, llmtest.Reply{Proposal: sample()})
		c, _ := newClient(t, srv.Config())
		if _, _, err := c.Propose(context.Background(), request()); err == nil || !strings.Contains(err.Error(), "400 from provider: unsupported parameter") {
			t.Fatalf("err = %v", err)
		}
		if _, _, err := c.Propose(context.Background(), request()); err != nil {
			t.Fatal(err)
		}
		if got := formats(srv.Requests()); !slices.Equal(got, []string{"json_schema", "json_object", "", "json_schema"}) {
			t.Errorf("formats = %q", got)
		}
	})
	t.Run("after a success a bare 400 is returned at once", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Reply{Proposal: sample()}, bad)
		c, _ := newClient(t, srv.Config())
		if _, _, err := c.Propose(context.Background(), request()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Propose(context.Background(), request()); err == nil {
			t.Fatal("no error for a 400")
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("explicit json_schema does not fall back", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Reply{RejectResponseFormat: true})
		cfg := srv.Config()
		cfg.ResponseFormat = llm.FormatJSONSchema
		c, _ := newClient(t, cfg)
		_, _, err := c.Propose(context.Background(), request())
		if err == nil || !strings.Contains(err.Error(), "set KUBEWRIGHT_LLM_RESPONSE_FORMAT to auto") {
			t.Fatalf("err = %v, want a hint to use auto", err)
		}
	})
	t.Run("none sends no response format", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Reply{Content: "```json\n" + mustJSON(t, sample()) + "\n```"})
		cfg := srv.Config()
		cfg.ResponseFormat = llm.FormatNone
		c, _ := newClient(t, cfg)
		if _, _, err := c.Propose(context.Background(), request()); err != nil {
			t.Fatal(err)
		}
		r := srv.Requests()[0]
		if r.ResponseFormat != "" || !strings.Contains(r.Messages[0].Content, "JSON Schema") {
			t.Errorf("format %q, system %q", r.ResponseFormat, r.Messages[0].Content)
		}
	})
}

func formats(reqs []llmtest.Recorded) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.ResponseFormat)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProposeCorrectiveRetry(t *testing.T) {
	bad := sample()
	bad.Edits[0].Action = "patch"
	tests := []struct {
		name      string
		first     llmtest.Reply
		wantInFix []string
	}{
		{"malformed JSON", llmtest.Reply{Content: `{"edits": [}`, PromptTokens: 10, CompletionTokens: 3},
			[]string{"not valid JSON at byte"}},
		{"prose", llmtest.Reply{Content: "Sure! Here it is: {}", PromptTokens: 10, CompletionTokens: 3},
			[]string{"does not start with '{'"}},
		{"invalid action", llmtest.Reply{Proposal: bad, PromptTokens: 10, CompletionTokens: 3},
			[]string{`edits[0].action "patch": use create, replace or delete`}},
		{"cut off", llmtest.Reply{Content: `{"edits": [{"path": "a", "act`, FinishReason: "length", PromptTokens: 10, CompletionTokens: 3},
			[]string{"cut off", "keep the answer shorter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tt.first, llmtest.Reply{Proposal: sample(), PromptTokens: 20, CompletionTokens: 7})
			c, _ := newClient(t, srv.Config())
			meter := llm.NewMeter(llm.Budget{PerJob: 1_000_000})
			req := request()
			req.Meter = meter
			p, u, err := c.Propose(context.Background(), req)
			if err != nil {
				t.Fatalf("Propose: %v", err)
			}
			if !reflect.DeepEqual(p, sample()) {
				t.Errorf("proposal = %+v", p)
			}
			want := llm.Usage{PromptTokens: 30, CompletionTokens: 10}
			if u != want || meter.Total() != want || len(meter.Calls()) != 2 {
				t.Errorf("usage = %+v, meter total %+v in %d calls; want %+v in 2", u, meter.Total(), len(meter.Calls()), want)
			}
			reqs := srv.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			m := reqs[1].Messages
			if len(m) != 4 || m[2].Role != "assistant" || m[3].Role != "user" {
				t.Fatalf("corrective request messages = %+v", m)
			}
			firstContent := tt.first.Content
			if tt.first.Proposal != nil {
				firstContent = mustJSON(t, tt.first.Proposal)
			}
			if m[2].Content != firstContent {
				t.Errorf("assistant message = %q, want the first answer", m[2].Content)
			}
			for _, w := range append(tt.wantInFix, "only the corrected JSON object") {
				if !strings.Contains(m[3].Content, w) {
					t.Errorf("corrective message %q lacks %q", m[3].Content, w)
				}
			}
		})
	}
}

func TestProposeMalformedTwice(t *testing.T) {
	srv := llmtest.NewServer(t,
		llmtest.Reply{Content: "not json", PromptTokens: 11, CompletionTokens: 2},
		llmtest.Reply{Content: `{"edits": [], "summary": ""}`, PromptTokens: 13, CompletionTokens: 5},
	)
	c, _ := newClient(t, srv.Config())
	p, u, err := c.Propose(context.Background(), request())
	if !errors.Is(err, llm.ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	if p != nil {
		t.Errorf("proposal %+v with ErrMalformed", p)
	}
	if !strings.Contains(err.Error(), "summary is empty") || !strings.HasPrefix(err.Error(), "llm repair: ") {
		t.Errorf("err = %v, want the agent and the second parse error", err)
	}
	if want := (llm.Usage{PromptTokens: 24, CompletionTokens: 7}); u != want {
		t.Errorf("usage = %+v, want %+v", u, want)
	}
}

func TestProposeUsageWithoutServerCounts(t *testing.T) {
	// A server that reports no usage is counted by estimate, never as 0.
	content := mustJSON(t, sample())
	resp := fmt.Sprintf(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}]}`, content)
	srv := llmtest.NewServer(t, llmtest.Reply{Body: resp})
	c, _ := newClient(t, srv.Config())
	_, u, err := c.Propose(context.Background(), request())
	if err != nil {
		t.Fatal(err)
	}
	if u.PromptTokens <= 0 || u.CompletionTokens < len(content)/3 {
		t.Errorf("usage = %+v, want estimates", u)
	}
}

func TestProposeBudget(t *testing.T) {
	t.Run("refused before the call", func(t *testing.T) {
		srv := llmtest.NewServer(t)
		c, _ := newClient(t, srv.Config())
		req := request()
		req.Meter = llm.NewMeter(llm.Budget{PerJob: 10})
		_, u, err := c.Propose(context.Background(), req)
		if !errors.Is(err, llm.ErrBudget) {
			t.Fatalf("err = %v, want ErrBudget", err)
		}
		if u != (llm.Usage{}) || len(srv.Requests()) != 0 {
			t.Errorf("usage %+v, %d requests; want none", u, len(srv.Requests()))
		}
	})
	t.Run("exceeded by the answer: proposal kept", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Reply{Proposal: sample(), PromptTokens: 5000, CompletionTokens: 100})
		c, _ := newClient(t, srv.Config())
		req := request()
		req.Meter = llm.NewMeter(llm.Budget{PerJob: 1000})
		p, u, err := c.Propose(context.Background(), req)
		if !errors.Is(err, llm.ErrBudget) {
			t.Fatalf("err = %v, want ErrBudget", err)
		}
		if !reflect.DeepEqual(p, sample()) || u.Total() != 5100 {
			t.Errorf("proposal %+v usage %+v", p, u)
		}
	})
	t.Run("malformed answer exceeding the budget: no corrective retry", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Reply{Content: "nope", PromptTokens: 5000, CompletionTokens: 100})
		c, _ := newClient(t, srv.Config())
		req := request()
		req.Meter = llm.NewMeter(llm.Budget{PerJob: 1000})
		p, _, err := c.Propose(context.Background(), req)
		if !errors.Is(err, llm.ErrBudget) || p != nil {
			t.Fatalf("proposal %v err = %v, want ErrBudget", p, err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestAPIKeyOnlyInAuthorization(t *testing.T) {
	const key = "sk-kubewright-test-0123456789"
	srv := llmtest.NewServer(t,
		llmtest.Reply{Proposal: sample()},
		llmtest.Reply{Status: 401, Body: errorBody("Incorrect API key provided: " + key + ".")},
		llmtest.Reply{Content: "garbage"},
		llmtest.Reply{Content: "garbage"},
	)
	cfg := srv.Config()
	cfg.APIKey = key
	c, _ := newClient(t, cfg)
	var errs []error
	for range 3 {
		if _, _, err := c.Propose(context.Background(), request()); err != nil {
			errs = append(errs, err)
		}
	}
	// A network error too.
	dead := cfg
	dead.BaseURL = deadURL(t)
	dead.MaxRetries = -1
	dc, _ := newClient(t, dead)
	_, _, err := dc.Propose(context.Background(), request())
	errs = append(errs, err)

	if len(errs) != 3 {
		t.Fatalf("errors = %v, want 3", errs)
	}
	for _, err := range errs {
		if err == nil || strings.Contains(err.Error(), key) || strings.Contains(fmt.Sprintf("%+v", err), key) {
			t.Errorf("error %v shows the key", err)
		}
	}
	if !strings.Contains(errs[0].Error(), "[redacted]") {
		t.Errorf("echoed key not redacted: %v", errs[0])
	}
	for i, r := range srv.Requests() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+key {
			t.Errorf("request %d: Authorization = %q", i, got)
		}
		for name, vals := range r.Header {
			if name != "Authorization" && strings.Contains(strings.Join(vals, " "), key) {
				t.Errorf("request %d: header %s carries the key", i, name)
			}
		}
		if strings.Contains(string(r.Body), key) {
			t.Errorf("request %d: body carries the key", i)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.String()); strings.Contains(s, key) {
		t.Errorf("Config prints the key: %s", s)
	}
}

// deadURL is a base URL on 127.0.0.1 where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/v1"
}

func TestProposeRetriesNetworkErrors(t *testing.T) {
	cfg := llm.Config{BaseURL: deadURL(t), Model: "m", MaxRetries: 2}
	c, sl := newClient(t, cfg)
	_, _, err := c.Propose(context.Background(), request())
	if err == nil || !strings.HasPrefix(err.Error(), "llm repair: ") {
		t.Fatalf("err = %v, want a network error naming the agent", err)
	}
	if n := len(sl.got()); n != 2 {
		t.Errorf("%d waits, want 2 (one per retry)", n)
	}
}

func TestProposeAttemptTimeoutIsRetried(t *testing.T) {
	content := mustJSON(t, sample())
	var (
		mu    sync.Mutex
		calls int
	)
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			// Hang until the client gives the attempt up.
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, content)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(release) }) // runs before hs.Close
	c, sl := newClient(t, llm.Config{BaseURL: hs.URL + "/v1", Model: "m", Timeout: 300 * time.Millisecond})
	p, _, err := c.Propose(context.Background(), request())
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	if !reflect.DeepEqual(p, sample()) || len(sl.got()) != 1 {
		t.Errorf("proposal %+v after waits %v", p, sl.got())
	}
}

func TestProposeCancelledDuringBackoff(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "30"}})
	c, err := llm.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan time.Duration, 1)
	llm.SetSleep(c, func(ctx context.Context, d time.Duration) error {
		waiting <- d
		return llm.SleepCtx(ctx, d) // the real wait
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Propose(ctx, request())
		done <- err
	}()
	if d := <-waiting; d != 30*time.Second {
		t.Errorf("wait = %v, want 30s", d)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Propose did not return after the context was cancelled")
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestAzure(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{Proposal: sample()})
	cfg := llm.Config{
		APIType: llm.APITypeAzure,
		BaseURL: strings.TrimSuffix(srv.URL(), "/v1"),
		Model:   "gpt-4.1-deploy",
		APIKey:  "azure-key",
	}
	c, _ := newClient(t, cfg)
	if _, _, err := c.Propose(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if r.Path != "/openai/deployments/gpt-4.1-deploy/chat/completions" || r.Query != "api-version="+llm.DefaultAzureAPIVersion {
		t.Errorf("path %s?%s", r.Path, r.Query)
	}
	if r.Header.Get("Api-Key") != "azure-key" || r.Header.Get("Authorization") != "" {
		t.Errorf("api-key %q authorization %q", r.Header.Get("Api-Key"), r.Header.Get("Authorization"))
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"KUBEWRIGHT_LLM_BASE_URL":        " http://127.0.0.1:11434/v1 ",
		"KUBEWRIGHT_LLM_MODEL":           "qwen2.5-coder",
		"OPENAI_API_KEY":                 "fallback",
		"KUBEWRIGHT_LLM_RESPONSE_FORMAT": "JSON_Object",
		"KUBEWRIGHT_LLM_API_TYPE":        "openai",
		"KUBEWRIGHT_LLM_TIMEOUT":         "90s",
	}
	cfg := llm.ConfigFromEnv(func(k string) string { return env[k] })
	want := llm.Config{BaseURL: "http://127.0.0.1:11434/v1", Model: "qwen2.5-coder", APIKey: "fallback",
		ResponseFormat: "json_object", APIType: "openai", Timeout: 90 * time.Second}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ConfigFromEnv = %v, want %v", cfg, want)
	}
	if err := cfg.Check(); err != nil || !cfg.Enabled() {
		t.Errorf("Check = %v, Enabled = %v", err, cfg.Enabled())
	}
	env["KUBEWRIGHT_LLM_API_KEY"] = "primary"
	if got := llm.ConfigFromEnv(func(k string) string { return env[k] }).APIKey; got != "primary" {
		t.Errorf("APIKey = %q, want KUBEWRIGHT_LLM_API_KEY first", got)
	}
	if (llm.Config{}).Enabled() {
		t.Error("empty config is enabled")
	}
}

func TestConfigCheck(t *testing.T) {
	ok := llm.Config{Model: "gpt-4.1", APIKey: "k"}
	tests := []struct {
		name string
		env  map[string]string
		cfg  *llm.Config
		want []string
	}{
		{name: "ok", cfg: &ok},
		{name: "local server needs no key", cfg: &llm.Config{Model: "m", BaseURL: "http://127.0.0.1:8000/v1"}},
		{name: "no model", cfg: &llm.Config{APIKey: "k"}, want: []string{"set KUBEWRIGHT_LLM_MODEL"}},
		{name: "no key for OpenAI", cfg: &llm.Config{Model: "m"}, want: []string{"set KUBEWRIGHT_LLM_API_KEY (or OPENAI_API_KEY)"}},
		{name: "ftp URL", cfg: &llm.Config{Model: "m", BaseURL: "ftp://x/v1"}, want: []string{"KUBEWRIGHT_LLM_BASE_URL \"ftp://x/v1\" is not an http(s) URL"}},
		{name: "URL credentials not shown", cfg: &llm.Config{Model: "m", BaseURL: "gopher://u:secretpw@h/"}, want: []string{"xxxxx"}},
		{name: "bad format", cfg: &llm.Config{Model: "m", APIKey: "k", ResponseFormat: "yaml"}, want: []string{"set KUBEWRIGHT_LLM_RESPONSE_FORMAT to auto, json_schema, json_object or none"}},
		{name: "bad API type", cfg: &llm.Config{Model: "m", APIKey: "k", APIType: "bedrock"}, want: []string{"set KUBEWRIGHT_LLM_API_TYPE to openai or azure"}},
		{name: "Azure without endpoint", cfg: &llm.Config{Model: "m", APIKey: "k", APIType: "azure"}, want: []string{"set KUBEWRIGHT_LLM_BASE_URL to https://RESOURCE.openai.azure.com"}},
		{name: "bad timeout", env: map[string]string{"KUBEWRIGHT_LLM_MODEL": "m", "KUBEWRIGHT_LLM_API_KEY": "k", "KUBEWRIGHT_LLM_TIMEOUT": "soon"},
			want: []string{`KUBEWRIGHT_LLM_TIMEOUT "soon" is not a positive duration`}},
		{name: "all at once", env: map[string]string{"KUBEWRIGHT_LLM_TIMEOUT": "-1s", "KUBEWRIGHT_LLM_RESPONSE_FORMAT": "x"},
			want: []string{"KUBEWRIGHT_LLM_MODEL", "KUBEWRIGHT_LLM_TIMEOUT", "KUBEWRIGHT_LLM_RESPONSE_FORMAT", "KUBEWRIGHT_LLM_API_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg llm.Config
			if tt.cfg != nil {
				cfg = *tt.cfg
			} else {
				cfg = llm.ConfigFromEnv(func(k string) string { return tt.env[k] })
			}
			err := cfg.Check()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				if _, err := llm.New(cfg); err != nil {
					t.Fatalf("New = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check = nil")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check = %v, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("Check shows URL credentials: %v", err)
			}
			if _, nerr := llm.New(cfg); nerr == nil {
				t.Error("New accepted what Check rejects")
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header map[string]string
		want   time.Duration
		ok     bool
	}{
		{map[string]string{"Retry-After": "2"}, 2 * time.Second, true},
		{map[string]string{"Retry-After": "0"}, 0, true},
		{map[string]string{"Retry-After": now.Add(10 * time.Second).Format(http.TimeFormat)}, 10 * time.Second, true},
		{map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0, true},
		{map[string]string{"Retry-After": "soon"}, 0, false},
		{map[string]string{"Retry-After": "-3"}, 0, false},
		{map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond, true},
		{map[string]string{}, 0, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		got, ok := llm.RetryAfter(h, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%v) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseProposal(t *testing.T) {
	valid := mustJSON(t, sample())
	edit := func(e string) string {
		return `{"edits":[` + e + `],"summary":"s","assumptions":[],"risks":[]}`
	}
	tests := []struct {
		name string
		in   string
		want string // error substring; "" means it parses
	}{
		{"bare", valid, ""},
		{"whitespace", "\n  " + valid + "\n", ""},
		{"json fence", "```json\n" + valid + "\n```", ""},
		{"plain fence", "```\n" + valid + "\n```\n", ""},
		{"content with a fence inside", edit(`{"path":"README.md","action":"create","content":"` + "```sh\\nmake\\n```" + `"}`), ""},
		{"no edits is fine", `{"edits":[],"summary":"nothing to do","assumptions":[],"risks":[]}`, ""},
		{"optional lists may be missing", `{"edits":[],"summary":"s"}`, ""},
		{"delete without content", edit(`{"path":"a","action":"delete"}`), ""},
		{"empty", "  ", "the answer is empty"},
		{"prose first", "Here you go: " + valid, "does not start with '{'"},
		{"yaml fence", "```yaml\nedits: []\n```", `the code fence is marked "yaml"`},
		{"unclosed fence", "```json\n" + valid, "the code fence is not closed"},
		{"text after fence", "```json\n" + valid + "\n```\nHope this helps", "the code fence is not closed, or text follows it"},
		{"two objects", valid + valid, "text after the JSON object"},
		{"trailing prose", valid + " done", "text after the JSON object"},
		{"syntax", `{"edits": [,]}`, "not valid JSON at byte 12"},
		{"cut off", `{"edits": [{"path": "a"`, "cut off"},
		{"unknown field", `{"edits":[],"summary":"s","notes":"x"}`, `unknown field "notes": use only edits, summary, assumptions and risks`},
		{"unknown edit field", edit(`{"path":"a","action":"create","content":"x","mode":"0644"}`), `unknown field "mode"`},
		{"wrong type", `{"edits":"all","summary":"s"}`, "edits must be a JSON array, not string"},
		{"array", `[]`, "does not start with '{'"},
		{"no edits", `{"summary":"s"}`, "edits is missing"},
		{"null edits", `{"edits":null,"summary":"s"}`, "edits is missing"},
		{"no summary", `{"edits":[]}`, "summary is empty"},
		{"blank summary", `{"edits":[],"summary":"  "}`, "summary is empty"},
		{"bad action", edit(`{"path":"a","action":"create","content":"x"},{"path":"b","action":"create","content":"x"},{"path":"c","action":"patch","content":"x"}`),
			`edits[2].action "patch": use create, replace or delete`},
		{"missing action", edit(`{"path":"a","content":"x"}`), `edits[0].action "": use create, replace or delete`},
		{"create without content", edit(`{"path":"a","action":"create","content":""}`), "edits[0].content is empty: give the whole file for create"},
		{"replace without content", edit(`{"path":"a","action":"replace"}`), "edits[0].content is empty: give the whole file for replace"},
		{"delete with content", edit(`{"path":"a","action":"delete","content":"x"}`), "edits[0].content must be empty for delete"},
		{"empty path", edit(`{"path":"","action":"delete","content":""}`), `edits[0].path "": is empty`},
		{"duplicate path", edit(`{"path":"a","action":"delete"},{"path":"a","action":"create","content":"x"}`), `edits[1].path "a" repeats edits[0]`},
		{"absolute", edit(`{"path":"/etc/passwd","action":"delete"}`), "must be relative to the repository root"},
		{"dotdot", edit(`{"path":"k8s/../../x","action":"delete"}`), "must not contain '..'"},
		{"backslash", edit(`{"path":"k8s\\a.yaml","action":"delete"}`), "use forward slashes"},
		{"unclean", edit(`{"path":"./k8s//a.yaml","action":"delete"}`), `is not clean: use "k8s/a.yaml"`},
		{"dot", edit(`{"path":".","action":"delete"}`), "must name a file"},
		{"control", edit(`{"path":"a\u0000b","action":"delete"}`), "control characters"},
		{"several problems", `{"edits":[{"path":"/a","action":"x","content":"c"}],"summary":""}`,
			`summary is empty: say in a sentence what the edits do; edits[0].path "/a": must be relative to the repository root; edits[0].action "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := llm.ParseProposal(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ParseProposal: %v", err)
				}
				if p.Edits == nil || p.Assumptions == nil || p.Risks == nil {
					t.Errorf("nil lists in %+v", p)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseProposal = %+v, want an error containing %q", p, tt.want)
			}
			if p != nil {
				t.Errorf("proposal %+v returned with an error", p)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
	p, err := llm.ParseProposal(valid)
	if err != nil || !reflect.DeepEqual(p, sample()) {
		t.Errorf("ParseProposal(valid) = %+v, %v; want %+v", p, err, sample())
	}
}

func TestProposalSchema(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(llm.ProposalSchema, &schema); err != nil {
		t.Fatalf("ProposalSchema is not JSON: %v", err)
	}
	var indented map[string]any
	if err := json.Unmarshal([]byte(llm.ProposalSchemaJSON()), &indented); err != nil || !reflect.DeepEqual(schema, indented) {
		t.Fatalf("ProposalSchemaJSON differs from ProposalSchema (%v)", err)
	}
	if !strings.Contains(llm.ProposalSchemaJSON(), "\n  ") {
		t.Error("ProposalSchemaJSON is not indented")
	}

	// Strict mode: every object lists all its properties as required and
	// forbids others.
	var walk func(at string, s map[string]any)
	walk = func(at string, s map[string]any) {
		if props, ok := s["properties"].(map[string]any); ok {
			var keys, req []string
			for k, v := range props {
				keys = append(keys, k)
				walk(at+"."+k, v.(map[string]any))
			}
			for _, r := range s["required"].([]any) {
				req = append(req, r.(string))
			}
			slices.Sort(keys)
			slices.Sort(req)
			if !slices.Equal(keys, req) {
				t.Errorf("%s: required %v, properties %v", at, req, keys)
			}
			if s["additionalProperties"] != false {
				t.Errorf("%s: additionalProperties is not false", at)
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(at+"[]", items)
		}
	}
	walk("$", schema)

	// The schema's fields are Proposal's and Edit's JSON names.
	fields := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			out = append(out, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
		}
		slices.Sort(out)
		return out
	}
	keys := func(m any) []string {
		var out []string
		for k := range m.(map[string]any) {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if got, want := keys(schema["properties"]), fields(llm.Proposal{}); !slices.Equal(got, want) {
		t.Errorf("schema properties %v, Proposal fields %v", got, want)
	}
	editSchema := schema["properties"].(map[string]any)["edits"].(map[string]any)["items"].(map[string]any)
	if got, want := keys(editSchema["properties"]), fields(llm.Edit{}); !slices.Equal(got, want) {
		t.Errorf("edit schema properties %v, Edit fields %v", got, want)
	}

	// A marshalled proposal satisfies the schema; an unknown action does not.
	var def jsonschema.Definition
	if err := json.Unmarshal(llm.ProposalSchema, &def); err != nil {
		t.Fatal(err)
	}
	var data any
	if err := json.Unmarshal([]byte(mustJSON(t, sample())), &data); err != nil {
		t.Fatal(err)
	}
	if !jsonschema.Validate(def, data) {
		t.Error("sample proposal does not validate against ProposalSchema")
	}
	bad := sample()
	bad.Edits[0].Action = "patch"
	if err := json.Unmarshal([]byte(mustJSON(t, bad)), &data); err != nil {
		t.Fatal(err)
	}
	if jsonschema.Validate(def, data) {
		t.Error("a proposal with action patch validates")
	}
}

func FuzzParseProposal(f *testing.F) {
	f.Add(`{"edits":[{"path":"a/b.yaml","action":"create","content":"x"}],"summary":"s","assumptions":["a"],"risks":[]}`)
	f.Add("```json\n{\"edits\":[],\"summary\":\"s\"}\n```")
	f.Add(`{"edits":[{"path":"a","action":"delete","content":""},{"path":"a","action":"delete"}],"summary":"s"}`)
	f.Add(`{"edits":[{"path":"../x","action":"patch"}],"summary":""}`)
	f.Add(`{"Edits":[],"SUMMARY":"case","risks":null}`)
	f.Add(`{"edits":[{"path":"\u00e9/\ud800","action":"replace","content":"<&>"}],"summary":"\xff"}`)
	f.Add("```\n{}\n```")
	f.Add(`{"edits": [}`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := llm.ParseProposal(s)
		if err != nil {
			if p != nil {
				t.Fatalf("proposal %+v with error %v", p, err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal %+v: %v", p, err)
		}
		q, err := llm.ParseProposal(string(b))
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the proposal:\n%+v\n%+v", p, q)
		}
	})
}

func TestProposeRefusalIsNotRetried(t *testing.T) {
	body := `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}`
	srv := llmtest.NewServer(t, llmtest.Reply{Body: body})
	c, _ := newClient(t, srv.Config())
	p, u, err := c.Propose(context.Background(), request())
	if !errors.Is(err, llm.ErrMalformed) || !strings.Contains(err.Error(), "the model refused: I can't help with that.") {
		t.Fatalf("err = %v, want ErrMalformed naming the refusal", err)
	}
	if p != nil || u.Total() != 13 || len(srv.Requests()) != 1 {
		t.Errorf("proposal %v usage %+v after %d requests; want none, 13, 1", p, u, len(srv.Requests()))
	}
}
