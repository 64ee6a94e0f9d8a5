// Package llm talks to an OpenAI-compatible chat completions API (OpenAI,
// Azure OpenAI, Ollama, vLLM, LocalAI) for kubewright's agents. The model
// only ever proposes file edits; this package turns its answer into a
// typed [Proposal], accounts for every token against hard budgets, and
// provides the redaction and fencing every prompt goes through.
package llm

import "errors"

// Edit actions a model may propose.
const (
	ActionCreate  = "create"
	ActionReplace = "replace"
	ActionDelete  = "delete"
)

// Edit is one proposed change to one file.
type Edit struct {
	// Path is relative to the repository root, slash-separated.
	Path string `json:"path"`
	// Action is ActionCreate, ActionReplace or ActionDelete.
	Action string `json:"action"`
	// Content is the whole new file (empty for delete).
	Content string `json:"content"`
}

// Proposal is a model's structured answer.
type Proposal struct {
	Edits       []Edit   `json:"edits"`
	Summary     string   `json:"summary"`
	Assumptions []string `json:"assumptions"`
	Risks       []string `json:"risks"`
}

// Usage is the token count of one or more calls.
type Usage struct {
	PromptTokens     int `json:"promptTokens"`
	CompletionTokens int `json:"completionTokens"`
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Add returns the sum of two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{PromptTokens: u.PromptTokens + o.PromptTokens, CompletionTokens: u.CompletionTokens + o.CompletionTokens}
}

// Request is one agent call.
type Request struct {
	// Agent names the prompt (e.g. "repair"); it labels accounting.
	Agent string
	// System and User are the rendered prompt messages. Everything from
	// the repository or from users must already be redacted and fenced.
	System string
	User   string
	// MaxCompletionTokens caps the answer (0: the meter's per-call
	// budget, else the server's default).
	MaxCompletionTokens int
	// Meter, when set, checks the budgets before the call and records the
	// usage after it. A nil Meter accounts nothing.
	Meter *Meter
}

var (
	// ErrBudget is wrapped when a token budget would be or was exceeded.
	ErrBudget = errors.New("token budget exhausted")
	// ErrMalformed is wrapped when the model's answer is not a valid
	// Proposal even after the corrective retry.
	ErrMalformed = errors.New("model answer is not a valid proposal")
)
