package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	openai "github.com/sashabaranov/go-openai"
)

// Structured-output modes, in fallback order.
const (
	modeSchema int32 = iota
	modeObject
	modeNone
)

var modeNames = [...]string{modeSchema: FormatJSONSchema, modeObject: FormatJSONObject, modeNone: FormatNone}

// Client proposes edits through an OpenAI-compatible chat completions API.
// It is safe for concurrent use.
type Client struct {
	cfg Config
	oc  *openai.Client
	rt  *retryTransport
	// mode is the structured-output mode calls start with; in auto mode it
	// only moves down (schema, object, none) as the server rejects them.
	mode atomic.Int32
	// answered is set once the provider answered a call successfully.
	answered atomic.Bool
}

// New checks cfg, applies the defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	rt := &retryTransport{
		base:       base,
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		maxBackoff: cfg.MaxBackoff,
		sleep:      sleepCtx,
	}
	hc.Transport = rt

	var oc openai.ClientConfig
	if cfg.APIType == APITypeAzure {
		oc = openai.DefaultAzureConfig(cfg.APIKey, cfg.BaseURL)
		// The model is the deployment name, as given.
		oc.AzureModelMapperFunc = nil
	} else {
		oc = openai.DefaultConfig(cfg.APIKey)
		oc.BaseURL = cfg.BaseURL
	}
	oc.APIVersion = cfg.APIVersion
	oc.HTTPClient = hc

	c := &Client{cfg: cfg, oc: openai.NewClientWithConfig(oc), rt: rt}
	switch cfg.ResponseFormat {
	case FormatJSONObject:
		c.mode.Store(modeObject)
	case FormatNone:
		c.mode.Store(modeNone)
	default:
		c.mode.Store(modeSchema)
	}
	return c, nil
}

// Config returns the configuration in use, defaults applied.
func (c *Client) Config() Config { return c.cfg }

// answer is what one chat completion returned.
type answer struct {
	content string
	finish  string
	refusal string
}

// Propose asks the model for a [Proposal]. It checks req.Meter's budgets
// before each call and records each answer's usage with it. An answer
// that does not parse gets one corrective retry; if that fails too the
// error wraps [ErrMalformed]. The returned Usage sums every call made.
//
// When an answer arrived but pushed a budget over its limit, Propose
// returns the proposal together with an error wrapping [ErrBudget]: the
// caller may keep the work and must stop asking.
func (c *Client) Propose(ctx context.Context, req Request) (*Proposal, Usage, error) {
	return ask(ctx, c, req, proposalSpec, asking[*Proposal]{
		parse: parseAnswer, correction: correction, malformed: ErrMalformed,
		invalid: "was not a valid proposal", priorCap: -1,
	})
}

// asking is what one kind of answer needs from ask.
type asking[T any] struct {
	parse      func(answer) (T, error)
	correction func(perr error, finish string) string
	// malformed is wrapped when the answer fails after the retry;
	// invalid says what the answer was not, in errors.
	malformed error
	invalid   string
	// priorCap bounds the failed answer quoted back to the model (-1:
	// as it was).
	priorCap int
}

// ask makes one call, parses the answer, and when it does not parse asks
// once more with the reason (the corrective retry). Budgets are checked
// before each call and the usage of both is summed. An answer that pushed
// a budget over its limit comes back with an error wrapping ErrBudget.
func ask[T any](ctx context.Context, c *Client, req Request, spec schemaSpec, k asking[T]) (T, Usage, error) {
	var zero T
	agent := req.Agent
	if agent == "" {
		agent = "agent"
	}
	maxCompletion := req.MaxCompletionTokens
	if maxCompletion <= 0 && req.Meter != nil {
		maxCompletion = req.Meter.CallCap()
	}
	maxCompletion = max(maxCompletion, 0)
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: req.System},
		{Role: openai.ChatMessageRoleUser, Content: req.User},
	}

	var total Usage
	ans, u, afterErr, err := c.call(ctx, agent, req.Meter, msgs, maxCompletion, spec)
	total = total.Add(u)
	if err != nil {
		return zero, total, err
	}
	out, perr := k.parse(ans)
	switch {
	case perr == nil:
		return out, total, afterErr
	case afterErr != nil:
		return zero, total, fmt.Errorf("%w (and the answer %s: %v)", afterErr, k.invalid, perr)
	case ans.refusal != "":
		return zero, total, fmt.Errorf("llm %s: %w: the model refused: %s", agent, k.malformed, clip(ans.refusal, 300))
	}

	prior := ans.content
	if strings.TrimSpace(prior) == "" {
		prior = "(empty answer)"
	}
	if k.priorCap >= 0 {
		prior = clip(prior, k.priorCap)
	}
	msgs = append(msgs,
		openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: prior},
		openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: k.correction(perr, ans.finish)},
	)
	ans, u, afterErr, err = c.call(ctx, agent, req.Meter, msgs, maxCompletion, spec)
	total = total.Add(u)
	if err != nil {
		return zero, total, err
	}
	out, perr = k.parse(ans)
	switch {
	case perr != nil && afterErr != nil:
		return zero, total, fmt.Errorf("llm %s: %w after a corrective retry: %v; %w", agent, k.malformed, perr, afterErr)
	case perr != nil:
		return zero, total, fmt.Errorf("llm %s: %w after a corrective retry: %v", agent, k.malformed, perr)
	}
	return out, total, afterErr
}

// correction is the user message of the corrective retry.
func correction(perr error, finish string) string {
	var b strings.Builder
	b.WriteString("Your previous answer could not be used: ")
	b.WriteString(perr.Error())
	b.WriteString(".\n")
	if finish == string(openai.FinishReasonLength) {
		b.WriteString("It was cut off at the completion token limit: keep the answer shorter (fewer or smaller edits).\n")
	}
	b.WriteString("Answer again with only the corrected JSON object matching the schema: no prose, no code fence.")
	return b.String()
}

// parseAnswer parses one answer's content.
func parseAnswer(a answer) (*Proposal, error) {
	if a.refusal != "" && strings.TrimSpace(a.content) == "" {
		return nil, fmt.Errorf("the model refused: %s", clip(a.refusal, 300))
	}
	p, err := ParseProposal(a.content)
	if err != nil && a.finish == string(openai.FinishReasonLength) {
		return nil, fmt.Errorf("the answer was cut off at the completion token limit: %w", err)
	}
	return p, err
}

// schemaSpec is the JSON Schema a call asks the answer to follow: its
// name in the response_format field and the schema, compact.
type schemaSpec struct {
	name string
	raw  json.RawMessage
}

// proposalSpec is the schema of [Client.Propose]'s answers.
var proposalSpec = schemaSpec{name: schemaName, raw: ProposalSchema}

// call makes one chat completion: it checks the budget, sends the request
// in the current structured-output mode (falling back in auto mode when
// the server rejects it) with schema s and records the usage. afterErr is
// the meter's verdict on the usage; err means there is no answer.
func (c *Client) call(ctx context.Context, agent string, meter *Meter, msgs []openai.ChatCompletionMessage, maxCompletion int, s schemaSpec) (ans answer, u Usage, afterErr, err error) {
	mode := c.mode.Load()
	est := estimateTokens(c.messages(msgs, mode, s), mode, s)
	if meter != nil {
		if err := meter.Before(agent, est, maxCompletion); err != nil {
			// The meter's errors name the agent already.
			return answer{}, Usage{}, nil, err
		}
	}
	for {
		resp, err := c.oc.CreateChatCompletion(withBodyFields(ctx, c.extraFields()), c.request(msgs, mode, maxCompletion, s))
		if err != nil {
			if next, ok := c.fallBack(mode, err); ok {
				mode = next
				continue
			}
			return answer{}, Usage{}, nil, c.wrapError(agent, err)
		}
		c.answered.Store(true)
		c.lowerMode(mode)

		if len(resp.Choices) > 0 {
			ch := resp.Choices[0]
			ans = answer{content: ch.Message.Content, finish: string(ch.FinishReason), refusal: ch.Message.Refusal}
		}
		u = Usage{PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens}
		if u.PromptTokens == 0 && u.CompletionTokens == 0 {
			// The server reported no usage: count our estimate rather than
			// nothing, so budgets still hold.
			u = Usage{PromptTokens: est, CompletionTokens: ceilDiv(len(ans.content), 3)}
		}
		if meter != nil {
			afterErr = meter.After(agent, u)
		}
		return ans, u, afterErr, nil
	}
}

// lowerMode remembers a mode that worked when it is below the current one.
func (c *Client) lowerMode(m int32) {
	for {
		cur := c.mode.Load()
		if m <= cur || c.mode.CompareAndSwap(cur, m) {
			return
		}
	}
}

// fallBack decides whether err is the server rejecting the structured
// output mode, and returns the next mode to try. Only auto mode falls
// back. A rejection that names the response format is remembered at once;
// a bare 400/422 before any call succeeded is tried in the next mode and
// remembered only if that mode works.
func (c *Client) fallBack(mode int32, err error) (int32, bool) {
	if c.cfg.ResponseFormat != FormatAuto || mode >= modeNone {
		return 0, false
	}
	status, msg := providerStatus(err)
	if status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
		return 0, false
	}
	m := strings.ToLower(msg)
	if strings.Contains(m, "response_format") || strings.Contains(m, "response format") ||
		strings.Contains(m, "json_schema") || strings.Contains(m, "json_object") {
		c.lowerMode(mode + 1)
		return mode + 1, true
	}
	if !c.answered.Load() {
		return mode + 1, true
	}
	return 0, false
}

// messages returns the messages as sent in mode: without the json_schema
// response format, the system message carries the schema s.
func (c *Client) messages(msgs []openai.ChatCompletionMessage, mode int32, s schemaSpec) []openai.ChatCompletionMessage {
	if mode == modeSchema {
		return msgs
	}
	out := append([]openai.ChatCompletionMessage(nil), msgs...)
	out[0].Content += "\n\nAnswer with one JSON object matching this JSON Schema, and nothing else:\n" + indentSchema(s.raw)
	return out
}

func (c *Client) request(msgs []openai.ChatCompletionMessage, mode int32, maxCompletion int, s schemaSpec) openai.ChatCompletionRequest {
	r := openai.ChatCompletionRequest{
		Model:    c.cfg.Model,
		Messages: c.messages(msgs, mode, s),
	}
	if maxCompletion > 0 {
		if reasoningModel(c.cfg.Model) {
			r.MaxCompletionTokens = maxCompletion
		} else {
			// Most OpenAI-compatible servers know only max_tokens.
			r.MaxTokens = maxCompletion
		}
	}
	switch mode {
	case modeSchema:
		r.ResponseFormat = &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name:   s.name,
				Schema: s.raw,
				Strict: true,
			},
		}
	case modeObject:
		r.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	}
	return r
}

// extraFields are request fields go-openai cannot express: it omits a zero
// temperature, and servers default to 1.
func (c *Client) extraFields() map[string]json.RawMessage {
	if reasoningModel(c.cfg.Model) {
		// Reasoning models accept no temperature but the default.
		return nil
	}
	return map[string]json.RawMessage{"temperature": json.RawMessage("0")}
}

// reasoningModel reports OpenAI's reasoning models, which take
// max_completion_tokens and no temperature (go-openai enforces both).
func reasoningModel(model string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

// estimateTokens guesses the prompt tokens of msgs: three bytes a token,
// rounded up, plus a few tokens a message (and the schema s when it is
// sent as the response format).
func estimateTokens(msgs []openai.ChatCompletionMessage, mode int32, s schemaSpec) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Content)
	}
	if mode == modeSchema {
		n += len(s.raw)
	}
	return ceilDiv(n, 3) + 4*len(msgs) + 3
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// providerStatus extracts the HTTP status and message of a go-openai error.
func providerStatus(err error) (int, string) {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode, apiErr.Message
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		msg := strings.TrimSpace(string(reqErr.Body))
		if msg == "" {
			msg = reqErr.HTTPStatus
		}
		return reqErr.HTTPStatusCode, msg
	}
	return 0, ""
}

// ProviderError is an error status answered by the provider.
type ProviderError struct {
	Agent      string
	StatusCode int
	Message    string
	hint       string
	err        error
}

func (e *ProviderError) Error() string {
	s := fmt.Sprintf("llm %s: %d from provider: %s", e.Agent, e.StatusCode, e.Message)
	if e.hint != "" {
		s += " (" + e.hint + ")"
	}
	return s
}

// Unwrap returns go-openai's error.
func (e *ProviderError) Unwrap() error { return e.err }

func (c *Client) wrapError(agent string, err error) error {
	status, msg := providerStatus(err)
	if status == 0 {
		// Network errors, timeouts, cancellation: go-openai's text names
		// the URL, never the key.
		return fmt.Errorf("llm %s: %w", agent, err)
	}
	msg = clip(strings.TrimSpace(msg), 500)
	if k := c.cfg.APIKey; len(k) >= 4 {
		// Some providers echo the key they were given.
		msg = strings.ReplaceAll(msg, k, "[redacted]")
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	pe := &ProviderError{Agent: agent, StatusCode: status, Message: msg, err: err}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		pe.hint = fmt.Sprintf("check %s and that it may use model %q", EnvAPIKey, c.cfg.Model)
	case http.StatusNotFound:
		pe.hint = fmt.Sprintf("check %s and %s", EnvModel, EnvBaseURL)
	case http.StatusTooManyRequests:
		pe.hint = fmt.Sprintf("still rate limited after %d retries: raise the provider's limits or try later", c.cfg.MaxRetries)
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		if c.cfg.ResponseFormat == FormatJSONSchema || c.cfg.ResponseFormat == FormatJSONObject {
			pe.hint = fmt.Sprintf("if the server does not support response format %s, set %s to %s", c.cfg.ResponseFormat, EnvResponseFormat, FormatAuto)
		}
	}
	return pe
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// bodyFieldsKey carries extra top-level JSON fields for the request body.
type bodyFieldsKey struct{}

func withBodyFields(ctx context.Context, fields map[string]json.RawMessage) context.Context {
	if len(fields) == 0 {
		return ctx
	}
	return context.WithValue(ctx, bodyFieldsKey{}, fields)
}
