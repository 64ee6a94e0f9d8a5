package llm_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sashabaranov/go-openai/jsonschema"

	"github.com/kubewright/kubewright/internal/llm"
)

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
