package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
