package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

// causeSchema is a small strict schema in the subset Answer checks.
var causeSchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "causes": {
      "type": "array", "minItems": 1, "maxItems": 2,
      "items": {
        "type": "object",
        "properties": {
          "rank": {"type": "integer", "minimum": 1, "maximum": 2},
          "cause": {"type": "string", "minLength": 1, "maxLength": 40},
          "finding": {"type": "string", "enum": ["KW-DIAG-001", ""]}
        },
        "required": ["rank", "cause", "finding"],
        "additionalProperties": false
      }
    }
  },
  "required": ["causes"],
  "additionalProperties": false
}`)

const goodCause = `{"causes":[{"rank":1,"cause":"DATABASE_URL is unset","finding":"KW-DIAG-001"}]}`

func answerRequest() llm.Request {
	return llm.Request{Agent: "diagnose", System: "You find root causes.", User: "Why does it crash?"}
}

func TestAnswerSuccess(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{Content: "  \n" + strings.ReplaceAll(goodCause, ",", ", ") + "\n", PromptTokens: 50, CompletionTokens: 20})
	c, _ := newClient(t, srv.Config())
	req := answerRequest()
	req.MaxCompletionTokens = 700
	out, u, err := c.Answer(context.Background(), req, "root_causes", causeSchema)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	if string(out) != goodCause {
		t.Errorf("answer = %s, want it compact: %s", out, goodCause)
	}
	if u != (llm.Usage{PromptTokens: 50, CompletionTokens: 20}) {
		t.Errorf("usage = %+v", u)
	}
	r := srv.Requests()[0]
	var body struct {
		ResponseFormat struct {
			Type       string `json:"type"`
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
	var sent, want any
	_ = json.Unmarshal(body.ResponseFormat.JSONSchema.Schema, &sent)
	_ = json.Unmarshal(causeSchema, &want)
	if body.ResponseFormat.Type != "json_schema" || body.ResponseFormat.JSONSchema.Name != "root_causes" || !body.ResponseFormat.JSONSchema.Strict || !jsonEqual(sent, want) {
		t.Errorf("response_format = %+v, want the given schema, named and strict", body.ResponseFormat)
	}
	if r.MaxTokens != 700 || strings.Contains(r.Messages[0].Content, "JSON Schema") {
		t.Errorf("max tokens %d, system %q", r.MaxTokens, r.Messages[0].Content)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// The fallback is the one Propose has, and the schema that goes into the
// system message is the one asked for, not the proposal's.
func TestAnswerFallsBackWithItsSchema(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{RejectResponseFormat: true}, llmtest.Reply{Content: goodCause}, llmtest.Reply{Proposal: sample()})
	c, _ := newClient(t, srv.Config())
	if _, _, err := c.Answer(context.Background(), answerRequest(), "root_causes", causeSchema); err != nil {
		t.Fatal(err)
	}
	// The client remembers the mode for Propose too.
	if _, _, err := c.Propose(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if got := formats(reqs); !slices.Equal(got, []string{"json_schema", "json_object", "json_object"}) {
		t.Errorf("formats = %q", got)
	}
	sys := reqs[1].Messages[0].Content
	if !strings.Contains(sys, "Answer with one JSON object matching this JSON Schema") || !strings.Contains(sys, `"KW-DIAG-001"`) || strings.Contains(sys, `"edits"`) {
		t.Errorf("json_object system message does not carry the answer's schema:\n%s", sys)
	}
	if sys := reqs[2].Messages[0].Content; !strings.Contains(sys, `"edits"`) {
		t.Errorf("Propose's system message lost its schema:\n%s", sys)
	}
}

func TestAnswerCorrectiveRetry(t *testing.T) {
	for _, tt := range []struct {
		name  string
		first llmtest.Reply
		want  []string
	}{
		{"not JSON", llmtest.Reply{Content: `{"causes": [}`}, []string{"not valid JSON at byte"}},
		{"prose", llmtest.Reply{Content: "The cause is: " + goodCause}, []string{"does not start with '{'"}},
		{"unknown field", llmtest.Reply{Content: `{"causes":[{"rank":1,"cause":"x","finding":"","why":"y"}]}`},
			[]string{`causes[0] has the unknown field "why": use only cause, finding, rank`}},
		{"missing field and wrong type", llmtest.Reply{Content: `{"causes":[{"rank":"1","cause":"x"}]}`},
			[]string{`causes[0] lacks "finding"`, "causes[0].rank must be integer, not a string"}},
		{"enum", llmtest.Reply{Content: `{"causes":[{"rank":1,"cause":"x","finding":"KW-DIAG-999"}]}`},
			[]string{`causes[0].finding is "KW-DIAG-999": use one of "KW-DIAG-001", ""`}},
		{"bounds", llmtest.Reply{Content: `{"causes":[{"rank":3,"cause":"` + strings.Repeat("x", 41) + `","finding":""},{"rank":1.5,"cause":"","finding":""},{"rank":2,"cause":"y","finding":""}]}`},
			[]string{"causes has 3 items: give at most 2", "causes[0].rank is 3: the maximum is 2", "causes[0].cause is 41 characters: keep it to 40", "causes[1].rank must be integer", "causes[1].cause is 0 characters: give at least 1"}},
		{"text after", llmtest.Reply{Content: goodCause + ` {}`}, []string{"text after the JSON object"}},
		{"cut off", llmtest.Reply{Content: `{"causes":[{"rank":1,`, FinishReason: "length"}, []string{"cut off", "keep the answer shorter"}},
		{"too long", llmtest.Reply{Content: `{"causes":[{"rank":1,"cause":"` + strings.Repeat("x", llm.MaxStructuredBytes) + `","finding":""}]}`},
			[]string{"more than the 262144 accepted"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first := tt.first
			first.PromptTokens, first.CompletionTokens = 10, 3
			srv := llmtest.NewServer(t, first, llmtest.Reply{Content: "```json\n" + goodCause + "\n```", PromptTokens: 20, CompletionTokens: 7})
			c, _ := newClient(t, srv.Config())
			meter := llm.NewMeter(llm.Budget{PerJob: 1_000_000})
			req := answerRequest()
			req.Meter = meter
			out, u, err := c.Answer(context.Background(), req, "root_causes", causeSchema)
			if err != nil {
				t.Fatalf("Answer: %v", err)
			}
			if string(out) != goodCause {
				t.Errorf("answer = %s", out)
			}
			want := llm.Usage{PromptTokens: 30, CompletionTokens: 10}
			if u != want || meter.Total() != want || len(meter.Calls()) != 2 {
				t.Errorf("usage %+v, meter %+v in %d calls; want %+v in 2", u, meter.Total(), len(meter.Calls()), want)
			}
			m := srv.Requests()[1].Messages
			if len(m) != 4 || m[2].Role != "assistant" || m[3].Role != "user" {
				t.Fatalf("corrective messages = %+v", m)
			}
			for _, w := range append(tt.want, "only the corrected JSON object") {
				if !strings.Contains(m[3].Content, w) {
					t.Errorf("corrective message %q lacks %q", m[3].Content, w)
				}
			}
		})
	}
}

func TestAnswerMalformedTwice(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{Content: "no"}, llmtest.Reply{Content: `{"causes":[]}`})
	c, _ := newClient(t, srv.Config())
	out, _, err := c.Answer(context.Background(), answerRequest(), "root_causes", causeSchema)
	if out != nil || !errors.Is(err, llm.ErrMalformedAnswer) || !errors.Is(err, llm.ErrMalformed) {
		t.Fatalf("answer %s, err = %v; want ErrMalformedAnswer (and ErrMalformed)", out, err)
	}
	if !strings.HasPrefix(err.Error(), "llm diagnose: ") || !strings.Contains(err.Error(), "causes has 0 items: give at least 1") {
		t.Errorf("err = %v, want the agent and the second problem", err)
	}
}

func TestAnswerBudget(t *testing.T) {
	t.Run("refused before the call", func(t *testing.T) {
		srv := llmtest.NewServer(t)
		c, _ := newClient(t, srv.Config())
		req := answerRequest()
		req.Meter = llm.NewMeter(llm.Budget{PerJob: 10})
		if _, _, err := c.Answer(context.Background(), req, "root_causes", causeSchema); !errors.Is(err, llm.ErrBudget) {
			t.Fatalf("err = %v, want ErrBudget", err)
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("%d requests", n)
		}
	})
	t.Run("exceeded by the answer: the answer is kept", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Reply{Content: goodCause, PromptTokens: 5000, CompletionTokens: 100})
		c, _ := newClient(t, srv.Config())
		req := answerRequest()
		req.Meter = llm.NewMeter(llm.Budget{PerJob: 1000})
		out, u, err := c.Answer(context.Background(), req, "root_causes", causeSchema)
		if !errors.Is(err, llm.ErrBudget) || string(out) != goodCause || u.Total() != 5100 {
			t.Fatalf("answer %s usage %+v err %v", out, u, err)
		}
	})
	t.Run("malformed and over the budget: no retry", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Reply{Content: "no", PromptTokens: 5000, CompletionTokens: 100})
		c, _ := newClient(t, srv.Config())
		req := answerRequest()
		req.Meter = llm.NewMeter(llm.Budget{PerJob: 1000})
		if out, _, err := c.Answer(context.Background(), req, "root_causes", causeSchema); !errors.Is(err, llm.ErrBudget) || out != nil {
			t.Fatalf("answer %s err %v", out, err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

// A schema or name the server would reject is refused before any call.
func TestAnswerBadSchema(t *testing.T) {
	srv := llmtest.NewServer(t)
	c, _ := newClient(t, srv.Config())
	for _, tt := range []struct {
		name   string
		schema string
		want   string
	}{
		{"has space", string(causeSchema), `schema name "has space": use 1 to 64 letters`},
		{"", string(causeSchema), `schema name ""`},
		{"ok", `{"type":"object"`, "schema ok is not valid JSON"},
		{"ok", `{"type":"array"}`, `must describe a JSON object`},
		{"ok", `{"type":"object","properties":{"a":{"type":"text"}}}`, `$.a.type "text" is not a JSON Schema type`},
		{"ok", `{"type":"object","properties":{"a":{"type":"array","maxItems":-1}}}`, `$.a.maxItems: a whole number`},
	} {
		_, _, err := c.Answer(context.Background(), answerRequest(), tt.name, json.RawMessage(tt.schema))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Answer(%q, %s): err = %v, want %q", tt.name, tt.schema, err, tt.want)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests for bad schemas", n)
	}
}

// anyOf, const, null and boolean are checked too.
func TestAnswerSchemaForms(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{
	  "v":{"anyOf":[{"type":"string"},{"type":"null"}]},
	  "k":{"const":"x"},
	  "b":{"type":"boolean"},
	  "n":{"type":["number","null"]}},
	  "required":["v","k","b","n"],"additionalProperties":false}`)
	good := `{"v":null,"k":"x","b":true,"n":1.5}`
	srv := llmtest.NewServer(t,
		llmtest.Reply{Content: `{"v":1,"k":"y","b":"true","n":"1"}`}, llmtest.Reply{Content: good})
	c, _ := newClient(t, srv.Config())
	out, _, err := c.Answer(context.Background(), answerRequest(), "forms", schema)
	if err != nil || string(out) != good {
		t.Fatalf("answer %s err %v", out, err)
	}
	fix := srv.Requests()[1].Messages[3].Content
	for _, w := range []string{"v matches none of the allowed forms", `k is "y": use one of "x"`, "b must be boolean, not a string", "n must be number or null, not a string"} {
		if !strings.Contains(fix, w) {
			t.Errorf("corrective message %q lacks %q", fix, w)
		}
	}
}

// A model's answer is untrusted: the parser must not panic, and what it
// accepts is compact JSON that it accepts again unchanged.
func FuzzAnswerParse(f *testing.F) {
	for _, s := range []string{goodCause, "```json\n" + goodCause + "\n```", `{"causes":[{"rank":1e400,"cause":"x","finding":""}]}`,
		`{"causes":[{"rank":1,"cause":"\ud800","finding":""}]}`, `{"causes":null}`, `{"causes":[[]]}`, "{", `{} {}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := llm.ParseStructured(s, causeSchema)
		if err != nil {
			if out != nil || err.Error() == "" {
				t.Fatalf("answer %q with error %v", out, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("accepted invalid JSON %q", out)
		}
		again, err := llm.ParseStructured(string(out), causeSchema)
		if err != nil || string(again) != string(out) {
			t.Fatalf("re-parse of %s: %s, %v", out, again, err)
		}
	})
}
